// The Shop's JetStream relay: every event its event store commits, published in position order into the stream, with
// the relay's checkpoint kept beside the log it counts in (the event store's own SQLite file or PostgreSQL schema).

import { createHash } from 'node:crypto';
import { type EventStore, type RelayCheckpoint, storeCheckpoint } from 'chronicle-es';
import { createJetStreamRelay, type JetStreamRelay } from 'chronicle-es/nats';
import { createPostgresReadStore } from 'chronicle-es/postgres';
import { createSqliteCheckpoint } from 'chronicle-es/sqlite';
import type { PostgresLocation } from './app.js';
import { connectShopNats } from './nats-connection.js';

export type ShopRelayOptions = {
  servers: readonly string[];
  /** The connection's name, as NATS monitoring shows it. */
  name: string;
  eventStore: EventStore;
  /** The event store's SQLite file, or its PostgreSQL location. */
  checkpoint: { path: string } | { postgres: PostgresLocation };
  stream: string;
  subjectPrefix: string;
  pollIntervalMs?: number;
};

/** A running relay, its NATS connection and its checkpoint store, closed together. */
export type ShopRelay = { relay: JetStreamRelay; close(): Promise<void> };

/**
 * Connects, opens the checkpoint and starts the relay (it creates the stream when missing).
 * @throws STORE_ERROR NATS or the checkpoint's store cannot be reached; INVALID_ARGUMENT the stream refuses the relay
 *   (its subjects do not cover the prefix, its last message is not a relay's, it was fed from another event store)
 */
export async function openShopRelay(options: ShopRelayOptions): Promise<ShopRelay> {
  const { stream } = options;
  const nats = await connectShopNats(options.servers, options.name);
  let checkpoint: RelayCheckpoint & { close(): Promise<void> };
  try {
    checkpoint = openCheckpoint(options.checkpoint, stream);
  } catch (err) {
    await nats.close();
    throw err;
  }
  const relay = createJetStreamRelay({
    eventStore: options.eventStore,
    nats,
    stream,
    subjectPrefix: options.subjectPrefix,
    checkpoint,
    ...(options.pollIntervalMs !== undefined && { pollIntervalMs: options.pollIntervalMs }),
  });
  const close = async () => {
    await relay.stop();
    await checkpoint.close();
    await nats.close();
  };
  try {
    // Resolves once it knows where the broker stands (or has begun retrying an unreachable one).
    await relay.start();
  } catch (err) {
    await close();
    throw err;
  }
  return { relay, close };
}

function openCheckpoint(where: ShopRelayOptions['checkpoint'], stream: string): RelayCheckpoint & { close(): Promise<void> } {
  // One checkpoint per stream: a relay moved to another stream must start from where that one stands, not this one.
  if ('path' in where) return createSqliteCheckpoint({ path: where.path, name: `relay:${stream}` });
  // A table-less record in the event store's own schema, beside the log (one small pool of its own).
  const store = createPostgresReadStore({ ...where.postgres, poolSize: 2 });
  const checkpoint = storeCheckpoint({ store, name: relayCheckpointName(stream) });
  return { load: () => checkpoint.load(), save: (p) => checkpoint.save(p), close: () => store.close() };
}

/**
 * The checkpoint's record name for `stream` (record names are letters, digits and single underscores): readable, with
 * a hash of the exact name so two streams whose names differ only in case or punctuation never share one.
 */
export function relayCheckpointName(stream: string): string {
  const readable = stream
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .slice(0, 40)
    .replace(/_+$/, '');
  const hash = createHash('sha256').update(stream).digest('hex').slice(0, 8);
  return `relay_${readable ? `${readable}_` : ''}${hash}`;
}
