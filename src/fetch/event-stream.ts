// GET /events/stream on the fetch standard: read-model change notifications as server-sent events.
import type { NotificationSource, PositionSource, ProjectionChange } from '../http-common/index.js';

export type EventStreamOptions = {
  notifications: NotificationSource;
  positions?: PositionSource;
  heartbeatMs: number;
  /** Queued bytes after which a client that does not read is dropped. */
  maxBufferedBytes: number;
  /** Told of a failed subscription or snapshot. */
  onError?: (err: unknown) => void;
};

const encoder = new TextEncoder();

/**
 * The body of one SSE connection, framed as the Fastify plugin frames it: `retry` and `: connected` first, each
 * projection's current position, then live changes, never a position at or below one already sent for that
 * projection on this connection; `: heartbeat` comments keep proxies from closing it. `register` tracks open streams so
 * a closing server can end them.
 */
export function eventStreamBody(options: EventStreamOptions, register: (end: () => void) => () => void): ReadableStream {
  let cleanup = () => {};
  return new ReadableStream<Uint8Array>(
    {
      async start(controller) {
        let closed = false;
        let unsubscribe = () => {};
        const end = () => {
          if (closed) return;
          cleanup();
          try {
            controller.close();
          } catch {}
        };
        const unregister = register(end);
        const heartbeat = setInterval(() => send(': heartbeat\n\n'), options.heartbeatMs);
        cleanup = () => {
          closed = true;
          clearInterval(heartbeat);
          unsubscribe();
          unregister();
        };
        const send = (text: string) => {
          if (closed) return;
          controller.enqueue(encoder.encode(text));
          // A client that stops reading must not make the server buffer without bound.
          if ((controller.desiredSize ?? 0) < 0) {
            cleanup();
            controller.error(new Error('event stream client is not reading'));
          }
        };
        const sent = new Map<string, number>();
        const frame = ({ projection, position }: ProjectionChange) => {
          if ((sent.get(projection) ?? -1) >= position) return;
          sent.set(projection, position);
          send(`id: ${position}\nevent: projection\ndata: ${JSON.stringify({ projection, position })}\n\n`);
        };
        // Live changes wait here while the snapshot of positions is read, so they come after it.
        let queued: ProjectionChange[] | undefined = options.positions ? [] : undefined;
        send('retry: 3000\n: connected\n\n');
        try {
          unsubscribe = options.notifications((change) => {
            if (queued) queued.push(change);
            else frame(change);
          });
        } catch (err) {
          options.onError?.(err);
          end();
          return;
        }
        if (options.positions) {
          try {
            for (const change of await options.positions()) frame(change);
          } catch (err) {
            // The stream still works without the snapshot; the client learns positions as they move.
            options.onError?.(err);
          }
          const pending = queued ?? [];
          queued = undefined;
          for (const change of pending) frame(change);
        }
      },
      cancel() {
        cleanup();
      },
    },
    { highWaterMark: options.maxBufferedBytes, size: (chunk) => chunk.byteLength },
  );
}
