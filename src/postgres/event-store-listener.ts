// The store's one LISTEN connection: wakes subscribers when any process commits an append to the schema. It is only a
// doorbell — polling stays underneath — so a notification lost while it reconnects costs latency, never an event.
import pg from 'pg';

export type Listener = {
  /** Connects (once) and keeps listening until closed. */
  start(): void;
  /** The listening backend's process id while connected. */
  readonly backend: number | undefined;
  /** Connections made so far (1 after the first; each reconnect adds one). */
  readonly connections: number;
  close(): Promise<void>;
};

const MIN_BACKOFF_MS = 50;
const MAX_BACKOFF_MS = 5000;

/**
 * Listens on `channel` with a client of its own (never a pooled one: a pooled client would be handed to queries, and
 * LISTEN is per session). `wake` runs on each notification and after each (re)connect, since notifications sent while
 * disconnected are gone.
 */
export function createListener(config: pg.ClientConfig, channel: string, wake: () => void): Listener {
  let client: pg.Client | undefined;
  let started = false;
  let closed = false;
  let backend: number | undefined;
  let connections = 0;
  let backoff = MIN_BACKOFF_MS;
  let timer: ReturnType<typeof setTimeout> | undefined;

  function lost(from: pg.Client): void {
    if (client !== from) return;
    client = undefined;
    backend = undefined;
    from.removeAllListeners();
    // A late error from the dead client must not be unhandled.
    from.on('error', () => {});
    from.end().catch(() => {});
    if (closed) return;
    timer = setTimeout(connect, backoff);
    backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
  }

  function connect(): void {
    timer = undefined;
    if (closed) return;
    const c = new pg.Client({ ...config, application_name: 'chronicle-listener' });
    client = c;
    c.on('notification', () => wake());
    c.on('error', () => lost(c));
    c.on('end', () => lost(c));
    c.connect()
      .then(() => c.query(`LISTEN "${channel}"`))
      .then(() => {
        if (client !== c) return;
        backend = (c as unknown as { processID?: number }).processID;
        connections++;
        backoff = MIN_BACKOFF_MS;
        wake();
      })
      .catch(() => lost(c));
  }

  return {
    start() {
      if (started || closed) return;
      started = true;
      connect();
    },
    get backend() {
      return backend;
    },
    get connections() {
      return connections;
    },
    async close() {
      closed = true;
      if (timer !== undefined) clearTimeout(timer);
      const c = client;
      client = undefined;
      backend = undefined;
      if (c) {
        c.removeAllListeners();
        c.on('error', () => {});
        await c.end().catch(() => {});
      }
    },
  };
}
