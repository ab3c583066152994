// The shared Redis server's address, with no side effect at import (redis.ts probes the server when imported; the
// key helpers in test/redis-prefix.ts, which the benches use too, must not).

/** The shared server; STACK.md: Redis 7 on localhost:6379, nothing kept on disk. */
export const REDIS_URL = process.env.CHRONICLE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
