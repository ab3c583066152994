// GET /events/stream on the fetch standard: read-model change notifications as server-sent events.
import { type NotificationSource, openChangeFeed, type PositionSource } from '../http-common/index.js';

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
 * The body of one SSE connection, framed by openChangeFeed as the Fastify plugin's is; `: heartbeat` comments keep
 * proxies from closing it. `register` tracks open streams so
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
        try {
          const feed = openChangeFeed({ ...options, send, onPositionsError: (err) => options.onError?.(err) });
          unsubscribe = feed.unsubscribe;
          // Cancelled while subscribing: the listener must not outlive the stream.
          if (closed) {
            unsubscribe();
            return;
          }
          await feed.snapshot;
        } catch (err) {
          options.onError?.(err);
          end();
        }
      },
      cancel() {
        cleanup();
      },
    },
    { highWaterMark: options.maxBufferedBytes, size: (chunk) => chunk.byteLength },
  );
}
