// Projection leases kept in Redis beside the read store they guard, so the fence is checked in the same script as the
// write it guards. Every time is the server's clock (TIME), so workers' clocks never need to agree.
import { assertReadModelName, ChronicleError, type Lease, type ProjectionLeases, type WorkerInfo } from 'chronicle-es';
import type { Redis } from 'ioredis';
import type { ReadStoreKeys } from './read-store-keys.js';
import { RedisScript } from './redis-script.js';

const NOW = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`;

/**
 * Records a worker's heartbeat and answers every worker alive, dropping those expired.
 * KEYS: workers zset, seen hash. ARGV: worker, ttl ms. Returns {id, lastSeen ms, expires ms, ...}.
 */
const HEARTBEAT = new RedisScript(`#!lua
${NOW}
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], now)
local gone = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)
if #gone > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
  redis.call('HDEL', KEYS[2], unpack(gone))
end
local live = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
local out = {}
for i = 1, #live, 2 do
  out[#out + 1] = live[i]
  out[#out + 1] = redis.call('HGET', KEYS[2], live[i]) or tostring(now)
  out[#out + 1] = live[i + 1]
end
return out
`);

/**
 * Takes (or renews) a lease. A lease stays after it expires or is released, so the next holder's token is higher.
 * KEYS: lease hash, leases set. ARGV: projection, worker, ttl ms. Returns nil (held by another) | {owner, token, expires}.
 */
const ACQUIRE = new RedisScript(`#!lua
${NOW}
local l = redis.call('HMGET', KEYS[1], 'owner', 'token', 'expires', 'released')
local expires = now + tonumber(ARGV[3])
if l[1] == ARGV[2] and l[4] ~= '1' then
  redis.call('HSET', KEYS[1], 'expires', expires)
elseif not l[1] or l[4] == '1' or tonumber(l[3]) <= now then
  redis.call('HSET', KEYS[1], 'owner', ARGV[2], 'token', tonumber(l[2] or '0') + 1, 'expires', expires, 'released', '0')
else
  return false
end
redis.call('SADD', KEYS[2], ARGV[1])
return redis.call('HMGET', KEYS[1], 'owner', 'token', 'expires')
`);

/** Gives a lease up if the fence still holds it. KEYS: lease hash. ARGV: owner, token. */
const RELEASE = new RedisScript(`#!lua
${NOW}
local l = redis.call('HMGET', KEYS[1], 'owner', 'token', 'expires', 'released')
if l[1] ~= ARGV[1] or l[2] ~= ARGV[2] or l[4] == '1' then return 0 end
redis.call('HSET', KEYS[1], 'released', '1', 'expires', math.min(tonumber(l[3]), now))
return 1
`);

const assertWorker = (worker: unknown) => {
  if (typeof worker !== 'string' || worker === '')
    throw new ChronicleError('INVALID_ARGUMENT', 'a worker id is a non-empty string');
};

const iso = (ms: string | number) => new Date(Number(ms)).toISOString();

const assertTtl = (ttlMs: number) => {
  if (!(ttlMs > 0) || !Number.isFinite(ttlMs)) throw new ChronicleError('INVALID_ARGUMENT', 'ttlMs must be positive');
};

/** The leases of one store, on its connection; `call` runs a Redis call while the store is open, translating failures. */
export function createRedisLeases(context: {
  client: Redis;
  keys: ReadStoreKeys;
  call<T>(operation: string, work: () => Promise<T>): Promise<T>;
}): ProjectionLeases {
  const { client, keys, call } = context;
  return {
    async heartbeat(worker, ttlMs) {
      assertWorker(worker);
      assertTtl(ttlMs);
      const flat = (await call('recording a heartbeat', () =>
        HEARTBEAT.run(client, [keys.workers, keys.workersSeen], [worker, String(Math.ceil(ttlMs))]),
      )) as string[];
      const live: WorkerInfo[] = [];
      for (let i = 0; i < flat.length; i += 3)
        live.push({ id: flat[i], lastSeen: iso(flat[i + 1]), expiresAt: iso(flat[i + 2]) });
      return live;
    },
    async acquire(projection, worker, ttlMs) {
      assertReadModelName('projection', projection);
      assertWorker(worker);
      assertTtl(ttlMs);
      const held = (await call('acquiring a lease', () =>
        ACQUIRE.run(client, [keys.lease(projection), keys.leases], [projection, worker, String(Math.ceil(ttlMs))]),
      )) as [string, string, string] | null;
      if (held === null) return undefined;
      return { projection, owner: held[0], token: Number(held[1]), expiresAt: iso(held[2]) };
    },
    async release(projection, fence) {
      assertReadModelName('projection', projection);
      await call('releasing a lease', () => RELEASE.run(client, [keys.lease(projection)], [fence.owner, String(fence.token)]));
    },
    async list() {
      const projections = await call('listing leases', () => client.smembers(keys.leases));
      const replies = await call('listing leases', async () => {
        const pipeline = client.pipeline();
        for (const p of projections) pipeline.hmget(keys.lease(p), 'owner', 'token', 'expires');
        const results = (await pipeline.exec()) ?? [];
        for (const [err] of results) if (err) throw err;
        return results.map(([, reply]) => reply as (string | null)[]);
      });
      const leases: Lease[] = [];
      replies.forEach(([owner, token, expires], i) => {
        if (owner != null && token != null && expires != null) {
          leases.push({ projection: projections[i], owner, token: Number(token), expiresAt: iso(expires) });
        }
      });
      return leases;
    },
  };
}
