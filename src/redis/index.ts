// chronicle-es/redis: a read store on Redis (ioredis 5), whose batches commit with their checkpoint in one Lua script,
// for read sides on another technology than the event store's. ioredis is imported here only.
export type { RedisReadStoreOptions } from './read-store-options.js';
export { createRedisReadStore, type RedisReadStore } from './redis-read-store.js';
export type { RedisReadTx, RedisTable } from './redis-read-tx.js';
export type { RedisReader, RedisTableReader } from './redis-reader.js';
