// The Shop's read side on Redis: the read store at a redis:// URL and, when given a log to read (a JetStream source in
// a service with no access to the event store, or the event store itself), the projector filling it. Without one it
// only serves: another process projects into the same Redis, and minPosition waits read the checkpoints it commits.
import {
  type CheckpointWaits,
  createCheckpointWaits,
  createProjector,
  type EventSource,
  type Projector,
  type WaitForPositionOptions,
} from 'chronicle-es';
import { createRedisReadStore, type RedisReadStore } from 'chronicle-es/redis';
import type { ReadModelChanges } from './app.js';
import { projectorChanges, watchCheckpoints } from './checkpoint-changes.js';
import { redisProjections } from './projections/redis-orders.js';

export type RedisReadSideOptions = {
  /** The server, `redis://…` or `rediss://…` (CHRONICLE_READ_STORE). */
  url: string;
  /** Key prefix of the Shop's read store on that server. Default `shop`. */
  prefix?: string;
  /** Where the events come from; absent: this process serves queries only. */
  source?: EventSource;
  /** How often the projector (or the waits, without one) looks for progress made elsewhere. Default 200 (50 for waits). */
  pollIntervalMs?: number;
};

export type RedisReadSide = {
  readStore: RedisReadStore;
  /** Present when a `source` was given. */
  projector?: Projector;
  /** For the query bus's minPosition: the projector's own progress, or else the checkpoints stored in Redis. */
  waitForPosition(position: number, options?: WaitForPositionOptions): Promise<void>;
  /** Moves of the read models' checkpoints, for `GET /events/stream`. */
  changes: ReadModelChanges;
  /** True once every Redis projection has its tables and none has failed. */
  ready(): Promise<boolean>;
  close(): Promise<void>;
};

/**
 * Opens the Redis read store (reaching the server once, so a wrong URL fails startup) and, with a `source`, starts
 * the projector over it.
 * @throws INVALID_ARGUMENT bad URL or prefix; STORE_ERROR when the server cannot be reached (after the client's retries)
 */
export async function openRedisReadSide(options: RedisReadSideOptions): Promise<RedisReadSide> {
  const readStore = createRedisReadStore({ url: options.url, prefix: options.prefix ?? 'shop' });
  const names = redisProjections.map((p) => p.name);
  let projector: Projector | undefined;
  let waits: CheckpointWaits | undefined;
  try {
    await readStore.list();
    if (options.source) {
      projector = createProjector({
        eventStore: options.source,
        readStore,
        projections: redisProjections,
        pollIntervalMs: options.pollIntervalMs,
      });
      await projector.start();
    } else {
      waits = createCheckpointWaits({ readStore, projections: names, pollIntervalMs: options.pollIntervalMs });
    }
  } catch (err) {
    await projector?.stop().catch(() => {});
    await readStore.close();
    throw err;
  }
  const running = projector;
  const watched = running
    ? undefined
    : watchCheckpoints({ readStore, projections: names, pollIntervalMs: options.pollIntervalMs });
  const changes: ReadModelChanges = running ? projectorChanges(running) : watched!;
  return {
    readStore,
    projector,
    waitForPosition: (position, wait) =>
      running ? running.waitForPosition(position, wait) : waits!.waitForPosition(position, wait),
    changes,
    async ready() {
      if (running) return (await running.status()).every((s) => s.state !== 'failed' && s.state !== 'stopped');
      const records = new Map((await readStore.list()).map((r) => [r.name, r]));
      return names.every((name) => {
        const record = records.get(name);
        return record !== undefined && record.generation > 0 && record.failure === undefined;
      });
    },
    async close() {
      watched?.close();
      await waits?.close();
      await running?.stop();
      await readStore.close();
    },
  };
}
