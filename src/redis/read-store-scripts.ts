// The Lua scripts behind every step of the Redis read store that must be atomic. Each first checks everything it
// depends on and only then writes, so a refused step (or a key of the wrong type under the prefix) writes nothing;
// the `#!lua` shebang makes Redis refuse a writing script up front when it is out of memory, rather than midway.
// Keys a script writes are passed in KEYS; the readers' scripts name the served generation's table themselves, since
// which generation that is is what they resolve (a standalone server or a replica set allows it; Redis Cluster would not).
import { RedisScript } from './redis-script.js';

// Values per unpack(): Lua in Redis allows some 8000 results, and every HSET/HDEL/HMGET goes in chunks below that.
const CHUNK = 1000;

// Which checkpoint field a generation writes: the active one's, the rebuild's, or none (false).
const TARGET = `
local function target(rec, g)
  local r = redis.call('HMGET', rec, 'generation', 'rebuild_generation')
  if g ~= '0' and r[1] == g then return 'position' end
  if r[2] == g then return 'rebuild_position' end
  return false
end
`;

// A batch's writes in ARGV from index a: the number of tables, then per table its name, the number of rows set and
// of rows deleted, the set rows as field/JSON pairs, the deleted fields. KEYS from index k are the tables' hashes in
// the same order; tablesKey is the generation's set of table names, kept so the generation can be dropped.
const WRITES = `
local function checkTables(tablesKey, k, n)
  local t = redis.call('TYPE', tablesKey).ok
  if t ~= 'set' and t ~= 'none' then return tablesKey .. ' holds a ' .. t .. ', not a set' end
  for i = 0, n - 1 do
    t = redis.call('TYPE', KEYS[k + i]).ok
    if t ~= 'hash' and t ~= 'none' then return KEYS[k + i] .. ' holds a ' .. t .. ', not a hash' end
  end
  return false
end
local function writeTables(tablesKey, k, a)
  local n = tonumber(ARGV[a])
  a = a + 1
  local names, plan = {}, {}
  for i = 1, n do
    local sets, dels = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
    names[i] = ARGV[a]
    plan[i] = { a + 3, sets, dels }
    a = a + 3 + 2 * sets + dels
  end
  for i = 1, n, ${CHUNK} do redis.call('SADD', tablesKey, unpack(names, i, math.min(i + ${CHUNK} - 1, n))) end
  for i = 1, n do
    local key, at, sets, dels = KEYS[k + i - 1], plan[i][1], plan[i][2], plan[i][3]
    for j = 0, sets - 1, ${CHUNK / 2} do
      local m = math.min(sets - j, ${CHUNK / 2})
      redis.call('HSET', key, unpack(ARGV, at + 2 * j, at + 2 * (j + m) - 1))
    end
    at = at + 2 * sets
    for j = 0, dels - 1, ${CHUNK} do
      redis.call('HDEL', key, unpack(ARGV, at + j, at + math.min(j + ${CHUNK}, dels) - 1))
    end
  end
end
`;

// Every writing script starts with the fence it is made under: KEYS[1] the projection's lease, ARGV[1] and ARGV[2] the
// owner and token ('' owner: unfenced). They are taken off the front, so the rest of the script reads its own KEYS and
// ARGV from 1. A lease that passed on (or was released) refuses the step before anything is written.
const FENCE = `
local leaseKey, fenceOwner, fenceToken = table.remove(KEYS, 1), table.remove(ARGV, 1), table.remove(ARGV, 1)
if fenceOwner ~= '' then
  local l = redis.call('HMGET', leaseKey, 'owner', 'token', 'released')
  if l[1] ~= fenceOwner or l[2] ~= fenceToken or l[3] == '1' then return { 'leaselost', l[1] or '', l[2] or '' } end
end
`;

const ENSURE_RECORD = `
local function ensureRecord(rec)
  redis.call('HSETNX', rec, 'version', '0')
  redis.call('HSETNX', rec, 'generation', '0')
  redis.call('HSETNX', rec, 'position', '0')
end
`;

/**
 * Every writing script below takes the fence first (see FENCE) and may return {'leaselost', owner, token}.
 *
 * One batch: the checkpoint compare-and-set, then the writes and the new checkpoint.
 * KEYS: record, the generation's tables set, its table hashes. ARGV: generation, checkpoint, after ('' = any),
 * commits seen when the batch began ('' = any), the writes.
 * Returns {'ok'} | {'gone'} (generation neither active nor rebuilding) | {'moved', actual} | {'raced'} (another batch
 * committed to it meanwhile) | {'wrongtype', what}.
 */
export const APPLY = new RedisScript(`#!lua
${FENCE}${TARGET}${WRITES}
local rec, g = KEYS[1], ARGV[1]
local field = target(rec, g)
if not field then return { 'gone' } end
local at = redis.call('HGET', rec, field)
if ARGV[3] ~= '' and at ~= ARGV[3] then return { 'moved', at } end
local commits = 'commits:' .. g
if ARGV[4] ~= '' and (redis.call('HGET', rec, commits) or '0') ~= ARGV[4] then return { 'raced' } end
local bad = checkTables(KEYS[2], 3, tonumber(ARGV[5]))
if bad then return { 'wrongtype', bad } end
writeTables(KEYS[2], 3, 5)
redis.call('HSET', rec, field, ARGV[2])
redis.call('HINCRBY', rec, commits, 1)
return { 'ok' }
`);

/**
 * A new generation, allocated beforehand, becomes the rebuild with its setup's writes, replacing an unfinished
 * rebuild (which goes to the garbage set). One allocated before a generation that is already recorded has been
 * overtaken by a newer beginGeneration and writes nothing.
 * KEYS: record, projections set, garbage set, the generation's tables set, its table hashes.
 * ARGV: generation, version, projection name, the generation's first commit count, the writes. The count starts at
 * a random number, so a row cache filled before the keys were flushed can never match a recreated generation's.
 * Returns {'ok'} | {'superseded'} | {'wrongtype', what}.
 */
export const BEGIN = new RedisScript(`#!lua
${FENCE}${ENSURE_RECORD}${WRITES}
local rec, g = KEYS[1], ARGV[1]
local r = redis.call('HMGET', rec, 'generation', 'rebuild_generation')
local n = tonumber(g)
if n <= tonumber(r[1] or '0') or (r[2] and n <= tonumber(r[2])) then return { 'superseded' } end
local bad = checkTables(KEYS[4], 5, tonumber(ARGV[5]))
if bad then return { 'wrongtype', bad } end
if r[2] then
  redis.call('SADD', KEYS[3], r[2])
  redis.call('HDEL', rec, 'commits:' .. r[2])
end
ensureRecord(rec)
redis.call('HSET', rec, 'rebuild_generation', g, 'rebuild_version', ARGV[2], 'rebuild_position', '0', 'commits:' .. g, ARGV[4])
redis.call('SADD', KEYS[2], ARGV[3])
writeTables(KEYS[4], 5, 5)
return { 'ok' }
`);

/**
 * The rebuild becomes the active generation; the old active one goes to the garbage set.
 * KEYS: record, garbage set. ARGV: generation, replacing ('' = any).
 * Returns {'ok', old} | {'notrebuild'} | {'replaced', active} | {'behind', active position, rebuild position}.
 */
export const SWAP = new RedisScript(`#!lua
${FENCE}local rec, g = KEYS[1], ARGV[1]
local r = redis.call('HMGET', rec, 'generation', 'position', 'rebuild_generation', 'rebuild_version', 'rebuild_position')
local active, position = r[1] or '0', r[2] or '0'
if r[3] ~= g then return { 'notrebuild' } end
if ARGV[2] ~= '' and active ~= ARGV[2] then return { 'replaced', active } end
if tonumber(position) > tonumber(r[5]) then return { 'behind', position, r[5] } end
if active ~= '0' then
  redis.call('SADD', KEYS[2], active)
  redis.call('HDEL', rec, 'commits:' .. active)
end
redis.call('HSET', rec, 'generation', g, 'version', r[4], 'position', r[5])
redis.call('HDEL', rec, 'rebuild_generation', 'rebuild_version', 'rebuild_position', 'failure')
return { 'ok', active }
`);

/**
 * Records (or with '' clears) a failure, creating the record if needed.
 * KEYS: record, projections set. ARGV: projection name, failure JSON or ''.
 */
export const SET_FAILURE = new RedisScript(`#!lua
${FENCE}${ENSURE_RECORD}
ensureRecord(KEYS[1])
if ARGV[2] == '' then redis.call('HDEL', KEYS[1], 'failure') else redis.call('HSET', KEYS[1], 'failure', ARGV[2]) end
redis.call('SADD', KEYS[2], ARGV[1])
return 'ok'
`);

/**
 * Moves a generation's checkpoint past a failed event, records the skip and clears the failure.
 * KEYS: record, skips list. ARGV: generation, the event's position, the checkpoint expected (position - 1), skip JSON.
 * Returns {'ok'} | {'gone'} | {'moved', actual}.
 */
export const SKIP = new RedisScript(`#!lua
${FENCE}${TARGET}
local rec, g = KEYS[1], ARGV[1]
local field = target(rec, g)
if not field then return { 'gone' } end
local at = redis.call('HGET', rec, field)
if at ~= ARGV[3] then return { 'moved', at } end
redis.call('HSET', rec, field, ARGV[2])
redis.call('HINCRBY', rec, 'commits:' .. g, 1)
redis.call('RPUSH', KEYS[2], ARGV[4])
redis.call('HDEL', rec, 'failure')
return { 'ok' }
`);

// The served generation, or a nil reply when the projection has none yet.
const SERVED = `
local g = redis.call('HGET', KEYS[1], 'generation')
if not g or g == '0' then return false end
local key = ARGV[1] .. g .. ':t:' .. ARGV[2]
`;

/**
 * Rows of a table of the served generation, resolved in the same step.
 * KEYS: record. ARGV: generation base, table, fields. Returns nil (no generation) | {generation, value | nil...}.
 */
export const READ_ROWS = new RedisScript(`#!lua flags=no-writes
${SERVED}
local out = { g }
for i = 3, #ARGV, ${CHUNK} do
  local values = redis.call('HMGET', key, unpack(ARGV, i, math.min(i + ${CHUNK} - 1, #ARGV)))
  for j = 1, #values do out[#out + 1] = values[j] end
end
return out
`);

/** How many rows a table of the served generation holds. KEYS: record. ARGV: base, table. Returns nil | {generation, n}. */
export const COUNT_ROWS = new RedisScript(`#!lua flags=no-writes
${SERVED}
return { g, redis.call('HLEN', key) }
`);

/**
 * One HSCAN step over a table of the served generation.
 * KEYS: record. ARGV: base, table, cursor, count. Returns nil | {generation, next cursor, {field, value, ...}}.
 */
export const SCAN_ROWS = new RedisScript(`#!lua flags=no-writes
${SERVED}
local step = redis.call('HSCAN', key, ARGV[3], 'COUNT', ARGV[4])
return { g, step[1], step[2] }
`);
