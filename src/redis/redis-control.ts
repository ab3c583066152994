// Control requests in Redis: one JSON value per request, changed only by scripts that check its state on the
// server's clock (TIME), so of several projectors exactly one takes it. Settled and void requests expire by themselves.
import { CONTROL_KEEP_MS, type ControlRequest, checkControlRequest, type ProjectionControl } from 'chronicle-es';
import type { Redis } from 'ioredis';
import type { ReadStoreKeys } from './read-store-keys.js';
import { RedisScript } from './redis-script.js';

const NOW = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`;

/** KEYS: request, pending zset, seq. ARGV: id, projection, action, ttl ms, keep ms. Returns the request's JSON. */
const REQUEST = new RedisScript(`#!lua
${NOW}
local r = { id = ARGV[1], projection = ARGV[2], action = ARGV[3], state = 'pending',
  requestedMs = now, expiresMs = now + tonumber(ARGV[4]) }
local json = cjson.encode(r)
redis.call('SET', KEYS[1], json, 'PX', tonumber(ARGV[4]) + tonumber(ARGV[5]))
redis.call('ZADD', KEYS[2], redis.call('INCR', KEYS[3]), ARGV[1])
return json
`);

/** KEYS: pending zset. ARGV: request key prefix. Returns the JSON of each pending, unexpired request, oldest first. */
const PENDING = new RedisScript(`#!lua
${NOW}
local out = {}
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local json = redis.call('GET', ARGV[1] .. id)
  local r = json and cjson.decode(json)
  if not r or r.state ~= 'pending' then
    redis.call('ZREM', KEYS[1], id)
  elseif r.expiresMs > now then
    out[#out + 1] = json
  end
end
return out
`);

/** KEYS: request, pending zset. ARGV: new state, the state it must be in, worker or error JSON (''), keep ms. 1 if changed. */
const MOVE = new RedisScript(`#!lua
${NOW}
local json = redis.call('GET', KEYS[1])
if not json then return 0 end
local r = cjson.decode(json)
if r.state ~= ARGV[2] then return 0 end
if ARGV[1] == 'taken' then
  if r.expiresMs <= now then return 0 end
  r.takenBy = ARGV[3]
elseif ARGV[3] ~= '' then
  r.error = cjson.decode(ARGV[3])
end
r.state = ARGV[1]
redis.call('ZREM', KEYS[2], r.id)
if ARGV[1] == 'taken' then
  -- Kept while it is carried out, however long a rebuild takes.
  redis.call('SET', KEYS[1], cjson.encode(r))
else
  redis.call('SET', KEYS[1], cjson.encode(r), 'PX', tonumber(ARGV[4]))
end
return 1
`);

type Stored = Omit<ControlRequest, 'requestedAt' | 'expiresAt'> & { requestedMs: number; expiresMs: number };

const toRequest = (json: string): ControlRequest => {
  const { requestedMs, expiresMs, ...rest } = JSON.parse(json) as Stored;
  return { ...rest, requestedAt: new Date(requestedMs).toISOString(), expiresAt: new Date(expiresMs).toISOString() };
};

/** The control requests of one store, on its connection; `call` runs a Redis call while the store is open. */
export function createRedisControl(context: {
  client: Redis;
  keys: ReadStoreKeys;
  call<T>(operation: string, work: () => Promise<T>): Promise<T>;
}): ProjectionControl {
  const { client, keys, call } = context;
  const move = (id: string, to: string, from: string, arg: string) =>
    call(`control: ${to}`, () =>
      MOVE.run(client, [keys.control(id), keys.controlPending], [to, from, arg, String(CONTROL_KEEP_MS)]),
    ).then((changed) => changed === 1);
  return {
    async request(projection, action, ttlMs) {
      const id = checkControlRequest(projection, action, ttlMs);
      const json = (await call('control: request', () =>
        REQUEST.run(
          client,
          [keys.control(id), keys.controlPending, keys.controlSeq],
          [id, projection, action, String(ttlMs), String(CONTROL_KEEP_MS)],
        ),
      )) as string;
      return toRequest(json);
    },
    async get(id) {
      const json = await call('control: get', () => client.get(keys.control(id)));
      return json === null ? undefined : toRequest(json);
    },
    async pending() {
      const all = (await call('control: pending', () =>
        PENDING.run(client, [keys.controlPending], [keys.control('')]),
      )) as string[];
      return all.map(toRequest);
    },
    take: (id, worker) => move(id, 'taken', 'pending', worker),
    async finish(id, error) {
      await move(id, error ? 'failed' : 'done', 'taken', error ? JSON.stringify(error) : '');
    },
    cancel: (id) => move(id, 'cancelled', 'pending', ''),
  };
}
