// GET /events/stream: read-model change notifications as server-sent events, over a hijacked raw response.
import type { FastifyInstance, onRequestHookHandler } from 'fastify';
import { type NotificationSource, openChangeFeed, type PositionSource, type ProjectionChange } from '../http-common/index.js';
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

      try {
        const feed = openChangeFeed({
          ...options,
          send,
          onPositionsError: (err) => request.log.warn({ err }, 'event stream: current positions unavailable'),
        });
        unsubscribe = feed.unsubscribe;
        // The response may have closed while subscribing; the listener must not outlive it.
        if (closed) {
          unsubscribe();
          return;
        }
        await feed.snapshot;
      } catch (err) {
        request.log.error({ err }, 'event stream subscription failed');
        raw.end();
      }
    },
  );
}
