// The read-store conformance suite against the Redis read store on the real server: a fresh key prefix for the file,
// a second store with its own connection on the same prefix for the race cases; without leases and with them.
import type { ProjectionStore } from 'chronicle-es';
import { describeReadStoreConformance } from 'chronicle-es/testing';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { dropPrefix, freshPrefix } from '../../test/redis-prefix.js';
import { REDIS_URL, redisAvailable } from '../../test/support/redis.js';
import { createRedisReadStore, type RedisReadStore } from './redis-read-store.js';
import type { RedisReadTx } from './redis-read-tx.js';
import type { RedisReader } from './redis-reader.js';

const prefix = freshPrefix('conformance');
afterAll(async () => {
  if (redisAvailable) await dropPrefix(prefix);
});

const factory = (leases: boolean) => ({
  leases,
  control: true,
  create: () => createRedisReadStore({ url: REDIS_URL, prefix, leases }),
  share: (store: ProjectionStore<RedisReadTx, RedisReader>) =>
    createRedisReadStore({ url: REDIS_URL, prefix: (store as RedisReadStore).prefix, leases }),
  // Tables need no creating; touching one in setup is all a portable setup would do.
  createTable: (tx: RedisReadTx, table: string) => tx.table(table),
  write: (tx: RedisReadTx, table: string, key: string, value: number) => tx.table<number>(table).set(key, value),
  read: async (reader: RedisReader, table: string) => {
    const rows: Record<string, number> = {};
    for await (const [key, value] of reader.table<number>(table).entries()) rows[key] = value;
    return rows;
  },
});

describe.skipIf(!redisAvailable)('redis', () => {
  describeReadStoreConformance('redis', factory(false), { describe, it, beforeAll, afterAll });
  describeReadStoreConformance('redis with leases', factory(true), { describe, it, beforeAll, afterAll });
});
