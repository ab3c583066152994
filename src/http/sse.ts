// GET /events/stream: read-model change notifications as server-sent events, over a hijacked raw response.
import type { FastifyInstance, onRequestHookHandler } from 'fastify';
import type { NotificationSource, PositionSource, ProjectionChange } from '../http-common/index.js';
import type { HttpMetrics } from './metrics.js';
import { sseResponses } from './sse-response.js';

export type { NotificationSource, PositionSource, ProjectionChange };

export type EventStreamOptions = {
  notifications: NotificationSource;
  /** Sent first on every connection, so a client resuming after a gap learns where every projection is. */
  positions?: PositionSource;
  metrics: HttpMetrics;
  /** Authentication and access checks, run before the stream opens. */
  onRequest?: onRequestHookHandler[];
  /** Interval of `: heartbeat` comments, in ms. Default 15000. */
  heartbeatMs?: number;
  /** Buffered bytes after which a client that does not read is dropped. Default 1 MiB. */
  maxBufferedBytes?: number;
};

/**
 * Registers the SSE endpoint; open streams are ended when the server closes. Each `projection` event has the
 * change's global position as its `id`, so a reconnecting EventSource sends it back as `Last-Event-ID`. Positions of
 * different projections interleave, so that one id cannot say what else the client missed: every connection, a
 * resumed one included, therefore starts with each projection's current position (when `positions` is given), which
 * tells the client everything that moved while it was away; and a projection is never sent a position at or below
 * one it was already sent on that connection.
 */
export function registerEventStream(app: FastifyInstance, options: EventStreamOptions): void {
  const heartbeatMs = options.heartbeatMs ?? 15_000;
  const streams = sseResponses(app, options.maxBufferedBytes ?? 1024 * 1024);

  app.get(
    '/events/stream',
    { exposeHeadRoute: false, ...(options.onRequest?.length ? { onRequest: options.onRequest } : {}) },
    async (request, reply) => {
      const { raw, send } = streams.open(reply);
      options.metrics.sseClients(1);
      let unsubscribe: () => void = () => {};
      const heartbeat = setInterval(() => send(': heartbeat\n\n'), heartbeatMs);
      let closed = false;
      const cleanup = () => {
        if (closed) return;
        closed = true;
        clearInterval(heartbeat);
        unsubscribe();
        options.metrics.sseClients(-1);
      };
      raw.on('close', cleanup);
      raw.on('error', cleanup);

      // Per projection, the last position sent: a snapshot racing a live change must not send a step back.
      const sent = new Map<string, number>();
      const frame = (change: ProjectionChange) => {
        const { projection, position } = change;
        if ((sent.get(projection) ?? -1) >= position) return;
        sent.set(projection, position);
        send(`id: ${position}\nevent: projection\ndata: ${JSON.stringify({ projection, position })}\n\n`);
      };
      // Live changes wait here while the snapshot of positions is being read, so they come after it.
      let queued: ProjectionChange[] | undefined = options.positions ? [] : undefined;

      send('retry: 3000\n: connected\n\n');
      try {
        unsubscribe = options.notifications((change) => {
          if (queued) queued.push(change);
          else frame(change);
        });
      } catch (err) {
        request.log.error({ err }, 'event stream subscription failed');
        raw.end();
        return;
      }
      // The response may have closed while subscribing; the listener must not outlive it.
      if (closed) {
        unsubscribe();
        return;
      }
      if (options.positions) {
        try {
          for (const change of await options.positions()) frame(change);
        } catch (err) {
          // The stream still works without the snapshot; the client just learns positions as they move.
          request.log.warn({ err }, 'event stream: current positions unavailable');
        }
        const pending = queued ?? [];
        queued = undefined;
        for (const change of pending) frame(change);
      }
    },
  );
}
