// GET /events/stream: read-model change notifications as server-sent events, over a hijacked raw response.
import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { ChronicleError } from 'chronicle-es';
import type { FastifyInstance, onRequestHookHandler } from 'fastify';
import type { HttpMetrics } from './metrics.js';

/** A read-model change: a projection has passed a position. */
export type ProjectionChange = { projection: string; position: number };

/** Subscribes a listener to read-model changes; returns the unsubscribe function. */
export type NotificationSource = (listener: (change: ProjectionChange) => void) => () => void;

export type EventStreamOptions = {
  notifications: NotificationSource;
  metrics: HttpMetrics;
  onRequest?: onRequestHookHandler;
  /** Answer 401 to requests without a principal. Default false. */
  requirePrincipal?: boolean;
  /** Interval of `: heartbeat` comments, in ms. Default 15000. */
  heartbeatMs?: number;
  /** Buffered bytes after which a client that does not read is dropped. Default 1 MiB. */
  maxBufferedBytes?: number;
};

/** Registers the SSE endpoint; open streams are ended when the server closes. */
export function registerEventStream(app: FastifyInstance, options: EventStreamOptions): void {
  const open = new Set<ServerResponse>();
  const heartbeatMs = options.heartbeatMs ?? 15_000;
  const maxBuffered = options.maxBufferedBytes ?? 1024 * 1024;

  // Without this, close() would wait forever on streams that never finish by themselves.
  app.addHook('preClose', async () => {
    for (const raw of open) raw.end();
  });

  app.get(
    '/events/stream',
    { exposeHeadRoute: false, ...(options.onRequest ? { onRequest: options.onRequest } : {}) },
    async (request, reply) => {
      if (options.requirePrincipal && request.chroniclePrincipal === undefined) {
        throw new ChronicleError('UNAUTHENTICATED', 'authentication required to follow the event stream');
      }
      reply.hijack();
      const raw = reply.raw;
      raw.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
        // Hijacked: headers hooks set on the reply (the correlation id, CORS) are not sent by themselves.
        ...(reply.getHeaders() as OutgoingHttpHeaders),
      });
      open.add(raw);
      options.metrics.sseClients(1);

      const send = (chunk: string) => {
        if (raw.writableEnded || raw.destroyed) return;
        raw.write(chunk);
        // A client that stops reading must not make the server buffer without bound.
        if (raw.writableLength > maxBuffered) raw.destroy();
      };
      let unsubscribe: () => void = () => {};
      const heartbeat = setInterval(() => send(': heartbeat\n\n'), heartbeatMs);
      let closed = false;
      const cleanup = () => {
        if (closed) return;
        closed = true;
        clearInterval(heartbeat);
        unsubscribe();
        open.delete(raw);
        options.metrics.sseClients(-1);
      };
      raw.on('close', cleanup);
      raw.on('error', cleanup);

      send('retry: 3000\n: connected\n\n');
      try {
        unsubscribe = options.notifications((change) => {
          send(`event: projection\ndata: ${JSON.stringify({ projection: change.projection, position: change.position })}\n\n`);
        });
      } catch (err) {
        request.log.error({ err }, 'event stream subscription failed');
        raw.end();
        return;
      }
      // The response may have closed while subscribing; the listener must not outlive it.
      if (closed) unsubscribe();
    },
  );
}
