// chronicle-es/redis: a read store on Redis (ioredis 5), whose batches commit with their checkpoint in one Lua script,
// for read sides on another technology than the event store's. ioredis is imported here only.
export { createRedisReadStore, type RedisReadStore, type RedisReadStoreOptions } from './redis-read-store.js';
export type { RedisReadTx, RedisTable } from './redis-read-tx.js';
export type { RedisReader, RedisTableReader } from './redis-reader.js';
