// The read-store conformance suite against the Redis read store on the real server: a fresh key prefix for the file,
// a second store with its own connection on the same prefix for the race cases.
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

describe.skipIf(!redisAvailable)('redis', () => {
  describeReadStoreConformance<RedisReadTx, RedisReader>(
    'redis',
    {
      create: () => createRedisReadStore({ url: REDIS_URL, prefix }),
      share: (store) => createRedisReadStore({ url: REDIS_URL, prefix: (store as RedisReadStore).prefix }),
      // Tables need no creating; touching one in setup is all a portable setup would do.
      createTable: (tx, table) => tx.table(table),
      write: (tx, table, key, value) => tx.table<number>(table).set(key, value),
      read: async (reader, table) => {
        const rows: Record<string, number> = {};
        for await (const [key, value] of reader.table<number>(table).entries()) rows[key] = value;
        return rows;
      },
    },
    { describe, it, beforeAll, afterAll },
  );
});
