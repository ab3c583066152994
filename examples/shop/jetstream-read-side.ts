// A `read` process fed through JetStream: no event store here, only a durable consumer of the relay's stream as the
// projector's log, and a read store of its own (SQLite, PostgreSQL or Redis) that answers the queries.
import type { Projector, QueryBus, WaitForPositionOptions } from 'chronicle-es';
import { createJetStreamSource, type JetStreamSource } from 'chronicle-es/nats';
import type { RedisReadStore } from 'chronicle-es/redis';
import type { PostgresLocation, ReadModelChanges, RedisLocation, ShopReadStore } from './app.js';
import { projectorChanges } from './checkpoint-changes.js';
import { connectShopNats } from './nats-connection.js';
import { openPostgresReadSide } from './postgres-read-side.js';
import { registerQueries } from './queries.js';
import { openReadSide, type ReadSide, type ReadSideLog, type ReadSideState } from './read-side.js';
import { registerRedisQueries } from './redis-queries.js';
import { openRedisReadSide } from './redis-read-side.js';

export type JetStreamReadSideOptions = {
  servers: readonly string[];
  stream: string;
  /** This read store's durable consumer: one per read store, never shared by two processes. */
  durable: string;
  /** The SQLite file (set aside and rebuilt from the stream when damaged), PostgreSQL, or Redis (GetOrderStatus only). */
  store: { path: string; log?: ReadSideLog } | { postgres: PostgresLocation; workerId?: string } | { redis: RedisLocation };
  pollIntervalMs?: number;
};

export type JetStreamReadSide = {
  source: JetStreamSource;
  projector: Projector;
  /** The SQL read store (SQLite or PostgreSQL); absent on Redis. */
  readStore?: ShopReadStore;
  redisReadStore?: RedisReadStore;
  /** Registers the queries this read store can answer: all of them on SQL, GetOrderStatus on Redis. */
  registerQueries(bus: QueryBus): void;
  /** minPosition: this process's projector reaching `position` (an event store position, carried by each message). */
  waitForPosition(position: number, options?: WaitForPositionOptions): Promise<void>;
  changes: ReadModelChanges;
  state(): ReadSideState;
  ready(): Promise<boolean>;
  /** Stops the projector, closes the read store, then the consumer (its last acknowledgements sent) and the connection. */
  close(): Promise<void>;
};

/**
 * Connects, opens the durable consumer and the read store, and starts the projector. A stream that does not exist yet
 * is waited for (the node is not ready meanwhile), so a read node may start before its relay.
 * @throws STORE_ERROR NATS or the read store cannot be reached; INVALID_ARGUMENT the durable is not one the source can
 *   use (a push consumer of that name, filters the server cannot take)
 */
export async function openJetStreamReadSide(options: JetStreamReadSideOptions): Promise<JetStreamReadSide> {
  const { stream, durable, store, pollIntervalMs } = options;
  const nats = await connectShopNats(options.servers, `shop-read-${durable}`);
  const source = createJetStreamSource({ nats, stream, durable });
  const closeFeed = async () => {
    await source.close();
    await nats.close();
  };
  try {
    // Opens the durable now, so a durable it cannot use stops startup rather than failing every projection.
    await source.headPosition();
  } catch (err) {
    await closeFeed();
    throw err;
  }

  if ('redis' in store) {
    let side: Awaited<ReturnType<typeof openRedisReadSide>>;
    try {
      side = await openRedisReadSide({ ...store.redis, source, pollIntervalMs });
    } catch (err) {
      await closeFeed();
      throw err;
    }
    const projector = side.projector!;
    return {
      source,
      projector,
      redisReadStore: side.readStore,
      registerQueries: (bus) => registerRedisQueries(bus, side.readStore),
      waitForPosition: side.waitForPosition,
      changes: side.changes,
      state: () => 'sound',
      ready: side.ready,
      async close() {
        await side.close();
        await closeFeed();
      },
    };
  }

  let side: ReadSide;
  try {
    side =
      'postgres' in store
        ? await openPostgresReadSide({ eventStore: source, location: store.postgres, pollIntervalMs, workerId: store.workerId })
        : await openReadSide({ eventStore: source, path: store.path, pollIntervalMs, log: store.log });
  } catch (err) {
    await closeFeed();
    throw err;
  }
  const { projector } = side;
  return {
    source,
    projector,
    readStore: side.readStore,
    registerQueries: (bus) => registerQueries(bus, side),
    waitForPosition: (position, wait) => projector.waitForPosition(position, wait),
    changes: projectorChanges(projector),
    state: side.state,
    ready: side.ready,
    async close() {
      await side.close();
      await closeFeed();
    },
  };
}
