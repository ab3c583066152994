// The Redis read store: projections' tables as hashes of JSON rows in generations, each batch's writes and its
// checkpoint compare-and-set in one Lua script, so a projection into Redis is exactly-once like the SQL ones.
import { randomInt } from 'node:crypto';
import {
  type ApplyWork,
  assertReadModelName,
  ChronicleError,
  type Fence,
  type ProjectionControl,
  type ProjectionFailure,
  type ProjectionRecord,
  type ProjectionStore,
  type SkippedEvent,
} from 'chronicle-es';
import { Redis } from 'ioredis';
import { type ReadStoreKeys, readStoreKeys } from './read-store-keys.js';
import { checkOptions, type RedisReadStoreOptions } from './read-store-options.js';
import { APPLY, BEGIN, SET_FAILURE, SKIP, SWAP } from './read-store-scripts.js';
import { createRedisControl } from './redis-control.js';
import { parseStored, redisError } from './redis-error.js';
import { createRedisLeases } from './redis-leases.js';
import { RedisBatch, type RedisReadTx, type TableWrites } from './redis-read-tx.js';
import { createRedisReader, type RedisReader } from './redis-reader.js';
import type { RedisScript } from './redis-script.js';
import { RowCache } from './row-cache.js';

/**
 * A read store on Redis. Every method takes read-model names only (INVALID_ARGUMENT otherwise, `reader()` included,
 * synchronously), since keys are built from them. @throws as the ProjectionStore port says, plus INVALID_ARGUMENT
 */
export type RedisReadStore = ProjectionStore<RedisReadTx, RedisReader> & {
  /** The key prefix this store writes under. */
  readonly prefix: string;
  /** Control requests, kept under the same prefix: a Redis read store always has them. */
  readonly control: ProjectionControl;
};

type Reply = [string, ...(string | null)[]];

// Generations' first commit counts are drawn below this (2^47), leaving room to count up within safe integers.
const FIRST_COMMITS = 2 ** 47;

// Tables dropped per UNLINK: a generation has few tables, but a projection could define many.
const UNLINK_CHUNK = 100;

const notWritten = (name: string, generation: number) =>
  new ChronicleError('CONCURRENCY_CONFLICT', `projection ${name}: generation ${generation} is not being written`, {
    details: { projection: name, generation },
  });

const moved = (name: string, generation: number, expected: number | undefined, actual: string | null | undefined) =>
  new ChronicleError(
    'CONCURRENCY_CONFLICT',
    `projection ${name}: checkpoint of generation ${generation} is ${actual}, not ${expected}`,
    { details: { projection: name, generation, expected, actual: actual == null ? null : Number(actual) } },
  );

const leaseLost = (name: string, fence: Fence, owner: string | null | undefined, token: string | null | undefined) =>
  new ChronicleError('LEASE_LOST', `projection ${name}: the lease of ${fence.owner} (token ${fence.token}) is gone`, {
    details: { projection: name, owner: owner || undefined, token: token ? Number(token) : undefined, fence },
  });

const isPosition = (n: unknown): n is number => Number.isSafeInteger(n) && (n as number) >= 0;

function toRecord(name: string, hash: Record<string, string>): ProjectionRecord | undefined {
  if (hash.generation === undefined) return undefined;
  const record: ProjectionRecord = {
    name,
    version: Number(hash.version ?? 0),
    generation: Number(hash.generation),
    position: Number(hash.position ?? 0),
  };
  if (hash.rebuild_generation !== undefined) {
    record.rebuild = {
      generation: Number(hash.rebuild_generation),
      version: Number(hash.rebuild_version),
      position: Number(hash.rebuild_position),
    };
  }
  if (hash.failure !== undefined)
    record.failure = parseStored<ProjectionFailure>(hash.failure, `projection ${name}: its failure`);
  return record;
}

// Only something else writing under the store's prefix leaves text there that is not JSON.
// Keys are built from projection names, so a name that is not a read-model name could reach other keys.
const assertName = (name: unknown) => assertReadModelName('projection', name);

// The writes of a batch as the scripts read them (see WRITES in read-store-scripts.ts).
function writeArgs(writes: readonly TableWrites[]): string[] {
  const args = [String(writes.length)];
  for (const { name, sets, dels } of writes) {
    args.push(name, String(sets.length / 2), String(dels.length));
    for (const s of sets) args.push(s);
    for (const d of dels) args.push(d);
  }
  return args;
}

/**
 * Creates a read store on Redis. Nothing is sent until the first call; a server that cannot be reached fails that
 * call (after the client's retries) with STORE_ERROR.
 * @throws INVALID_ARGUMENT bad options (neither or both of url and client, a URL that is not redis://, a bad prefix,
 * cacheRows not a count, leases not a boolean)
 */
export function createRedisReadStore(options: RedisReadStoreOptions): RedisReadStore {
  const checked = checkOptions(options);
  const keys: ReadStoreKeys = readStoreKeys(checked.prefix);
  const owned = checked.client === undefined;
  const client = checked.client ?? new Redis(checked.url!, { connectionName: 'chronicle-read-store', lazyConnect: true });
  // Each command rejects with its own error; without a listener ioredis would also print every reconnect failure.
  if (owned) client.on('error', () => {});

  let closed = false;
  let closing: Promise<void> | undefined;
  let inflight = 0;
  let drained: (() => void) | undefined;
  const closedError = () => new ChronicleError('CLOSED', 'read store is closed');
  const assertOpen = () => {
    if (closed) throw closedError();
  };

  // Every operation counts as in flight until it ends, so close() can wait for them before closing the connection.
  async function track<T>(work: () => Promise<T>): Promise<T> {
    assertOpen();
    inflight++;
    try {
      return await work();
    } finally {
      inflight--;
      if (inflight === 0) drained?.();
    }
  }
  // Every Redis call, readers' included: counted in flight too, and failing with CLOSED once the store closed under it.
  async function call<T>(operation: string, work: () => Promise<T>): Promise<T> {
    return track(async () => {
      try {
        return await work();
      } catch (err) {
        if (closed) throw new ChronicleError('CLOSED', 'read store is closed', { cause: err });
        throw redisError(err, operation);
      }
    });
  }
  // Runs a writing script under `fence` (ignored without leases, as the port has it): a lease that passed on refuses it.
  async function run(
    script: RedisScript,
    operation: string,
    name: string,
    fence: Fence | undefined,
    scriptKeys: string[],
    args: string[],
  ): Promise<Reply> {
    const fenced = checked.leases && fence !== undefined;
    const reply = (await call(operation, () =>
      script.run(
        client,
        [keys.lease(name), ...scriptKeys],
        [fenced ? fence.owner : '', fenced ? String(fence.token) : '', ...args],
      ),
    )) as Reply;
    if (reply[0] === 'leaselost') throw leaseLost(name, fence!, reply[1], reply[2]);
    return reply;
  }

  // Deletes the keys of generations swapped out or replaced. Safe at any time and from any process: a generation in
  // the garbage set is neither active nor rebuilding, so no script writes to it again. What a crash leaves behind is
  // collected by the next swap or beginGeneration of the projection.
  async function collect(name: string): Promise<void> {
    try {
      for (const generation of await client.smembers(keys.garbage(name))) {
        const tablesKey = keys.tables(name, generation);
        const tables = (await client.smembers(tablesKey)).map((t) => keys.table(name, generation, t));
        for (let i = 0; i < tables.length; i += UNLINK_CHUNK) await client.unlink(tables.slice(i, i + UNLINK_CHUNK));
        await client.unlink(tablesKey);
        await client.srem(keys.garbage(name), generation);
        caches.delete(cacheKey(name, generation));
      }
    } catch {
      // The step that made the garbage has committed; what could not be deleted now stays listed for the next time.
    }
  }

  const fetchFields = (key: string, fields: readonly string[]) =>
    call('reading a row', () => client.hmget(key, ...fields)) as Promise<(string | null)[]>;

  // Row caches per projection and generation (see row-cache.ts); a cached row is `<table key>\n<row key>`, and a
  // table key never holds a newline.
  const caches = new Map<string, RowCache>();
  const cacheKey = (name: string, generation: number | string) => `${name}#${generation}`;
  function cacheFor(name: string, generation: number): RowCache {
    let cache = caches.get(cacheKey(name, generation));
    if (!cache) {
      cache = new RowCache(checked.cacheRows);
      caches.set(cacheKey(name, generation), cache);
    }
    return cache;
  }
  const cachedFetch =
    (cache: RowCache) =>
    async (key: string, fields: readonly string[]): Promise<(string | null)[]> => {
      const values: (string | null)[] = [];
      const missing: number[] = [];
      fields.forEach((field, i) => {
        const cached = cache.get(`${key}\n${field}`);
        if (cached === undefined) missing.push(i);
        else values[i] = cached;
      });
      if (missing.length === 0) return values;
      const at = cache.at;
      const fetched = await fetchFields(
        key,
        missing.map((i) => fields[i]),
      );
      missing.forEach((i, j) => {
        values[i] = fetched[j] ?? null;
      });
      cache.fill(
        at,
        missing.map((i) => [`${key}\n${fields[i]}`, values[i]]),
      );
      return values;
    };
  const committedRows = (writes: readonly TableWrites[]): [string, string | null][] =>
    writes.flatMap(({ key, sets, dels }) => {
      const rows: [string, string | null][] = [];
      for (let i = 0; i < sets.length; i += 2) rows.push([`${key}\n${sets[i]}`, sets[i + 1]]);
      for (const d of dels) rows.push([`${key}\n${d}`, null]);
      return rows;
    });
  const forget = (name: string, generation: number | string) => caches.get(cacheKey(name, generation))?.invalidate();

  // Runs `work` against a fresh batch and returns its writes; whatever `work` throws is rethrown unchanged.
  async function runWork(batch: RedisBatch, work: ((tx: RedisReadTx) => unknown) | undefined): Promise<TableWrites[]> {
    let writes: TableWrites[];
    try {
      if (work) await work(batch);
    } finally {
      // Ended whatever happens, so a handler that kept the tx cannot write through it later.
      writes = batch.end();
    }
    return writes;
  }

  const wrongType = (what: string | null | undefined) =>
    new ChronicleError('STORE_ERROR', `redis: ${what}: something else writes under the prefix ${keys.prefix}`, {
      details: { prefix: keys.prefix },
    });

  return {
    prefix: keys.prefix,
    ...(checked.leases && { leases: createRedisLeases({ client, keys, call }) }),
    control: createRedisControl({ client, keys, call }),

    load(name) {
      return track(async () => {
        assertName(name);
        const hash = await call('loading a projection', () => client.hgetall(keys.record(name)));
        return toRecord(name, hash);
      });
    },

    list() {
      return track(async () => {
        const names = (await call('listing projections', () => client.smembers(keys.projections))).sort();
        const hashes = await call('listing projections', async () => {
          const pipeline = client.pipeline();
          for (const name of names) pipeline.hgetall(keys.record(name));
          return (await pipeline.exec()) ?? [];
        });
        const records: ProjectionRecord[] = [];
        hashes.forEach(([err, hash], i) => {
          if (err) throw redisError(err, 'listing projections');
          const record = toRecord(names[i], hash as Record<string, string>);
          if (record) records.push(record);
        });
        return records;
      });
    },

    apply(name, generation, work: ApplyWork<RedisReadTx> | undefined, checkpoint, after, fence) {
      if (!isPosition(checkpoint) || (after !== undefined && !isPosition(after))) {
        return Promise.reject(
          new ChronicleError('INVALID_ARGUMENT', `projection ${name}: checkpoints are non-negative integers`, {
            details: { checkpoint, after },
          }),
        );
      }
      if (after !== undefined && checkpoint < after) {
        return Promise.reject(
          new ChronicleError('INVALID_ARGUMENT', `projection ${name}: checkpoint ${checkpoint} is before ${after}`),
        );
      }
      return track(async () => {
        assertName(name);
        if (!Number.isSafeInteger(generation) || generation < 1) throw notWritten(name, generation);
        const record = keys.record(name);
        const g = String(generation);
        // Checked before the work runs, so the loser of a race runs no handlers; and the generation's commit count
        // read here makes every row the work reads stay valid until the commit, which is refused if it changed.
        const fields = ['generation', 'position', 'rebuild_generation', 'rebuild_position', `commits:${g}`];
        const [active, position, rebuilding, rebuildPosition, commits] = await call('applying a batch', async () => {
          if (!checked.leases || fence === undefined) return client.hmget(record, ...fields);
          // A fenced batch whose lease passed on is refused before its work runs, whatever else it finds.
          const [[recordErr, values], [leaseErr, lease]] = (await client
            .pipeline()
            .hmget(record, ...fields)
            .hmget(keys.lease(name), 'owner', 'token', 'released')
            .exec())! as [[Error | null, (string | null)[]], [Error | null, (string | null)[]]];
          if (recordErr || leaseErr) throw recordErr ?? leaseErr;
          const [owner, token, released] = lease;
          if (owner !== fence.owner || token !== String(fence.token) || released === '1') {
            throw leaseLost(name, fence, owner, token);
          }
          return values;
        });
        const current = active === g ? position : rebuilding === g ? rebuildPosition : undefined;
        if (current === undefined) throw notWritten(name, generation);
        if (after !== undefined && current !== String(after)) throw moved(name, generation, after, current);

        const conditional = after !== undefined;
        const from = commits ?? '0';
        // Without the compare-and-set nothing tells whether cached rows are still the committed ones.
        const cache = conditional && checked.cacheRows > 0 ? cacheFor(name, generation) : undefined;
        if (cache) cache.validate(from);
        else forget(name, generation);
        const batch = new RedisBatch((table) => keys.table(name, generation, table), cache ? cachedFetch(cache) : fetchFields);
        const writes = await runWork(batch, work as (tx: RedisReadTx) => unknown);
        let reply: Reply;
        try {
          reply = await run(
            APPLY,
            'applying a batch',
            name,
            fence,
            [record, keys.tables(name, generation), ...writes.map((w) => w.key)],
            [g, String(checkpoint), conditional ? String(after) : '', conditional ? from : '', ...writeArgs(writes)],
          );
        } catch (err) {
          // Perhaps committed, perhaps not (the connection dropped with the reply on its way).
          forget(name, generation);
          throw err;
        }
        if (reply[0] === 'ok') {
          cache?.committed(from, committedRows(writes));
          return;
        }
        forget(name, generation);
        switch (reply[0]) {
          case 'gone':
            throw notWritten(name, generation);
          case 'moved':
            throw moved(name, generation, after, reply[1]);
          case 'raced':
            throw new ChronicleError(
              'CONCURRENCY_CONFLICT',
              `projection ${name}: another batch committed to generation ${generation} while this one ran`,
              { details: { projection: name, generation, expected: after, actual: after } },
            );
          default:
            throw wrongType(reply[1]);
        }
      });
    },

    beginGeneration(name, version, setup, fence) {
      return track(async () => {
        assertName(name);
        if (!isPosition(version)) {
          throw new ChronicleError('INVALID_ARGUMENT', `projection ${name}: version must be a non-negative integer`);
        }
        // Allocated apart from the record, so a setup that throws leaves no record behind, and numbers never repeat.
        const generation = await call('allocating a generation', () => client.incr(keys.generations(name)));
        const writes = await runWork(new RedisBatch((table) => keys.table(name, generation, table), fetchFields), setup);
        const reply = await run(
          BEGIN,
          'beginning a generation',
          name,
          fence,
          [keys.record(name), keys.projections, keys.garbage(name), keys.tables(name, generation), ...writes.map((w) => w.key)],
          [String(generation), String(version), name, String(randomInt(FIRST_COMMITS)), ...writeArgs(writes)],
        );
        if (reply[0] === 'wrongtype') throw wrongType(reply[1]);
        // 'superseded': a beginGeneration that started later has recorded its generation first. This one counts as
        // having run before it and been replaced at once: its number is returned, and writing to it is refused.
        await collect(name);
        return generation;
      });
    },

    swapGeneration(name, generation, replacing, fence) {
      return track(async () => {
        assertName(name);
        const reply = await run(
          SWAP,
          'swapping generations',
          name,
          fence,
          [keys.record(name), keys.garbage(name)],
          [String(generation), replacing === undefined ? '' : String(replacing)],
        );
        switch (reply[0]) {
          case 'ok':
            await collect(name);
            return;
          case 'notrebuild':
            throw new ChronicleError(
              'CONCURRENCY_CONFLICT',
              `projection ${name}: generation ${generation} is not being rebuilt`,
              {
                details: { projection: name, generation },
              },
            );
          case 'replaced':
            throw new ChronicleError(
              'CONCURRENCY_CONFLICT',
              `projection ${name}: generation ${reply[1]} is active, not ${replacing}`,
              { details: { projection: name, generation, expected: replacing, actual: Number(reply[1]) } },
            );
          default:
            throw new ChronicleError(
              'CONCURRENCY_CONFLICT',
              `projection ${name}: the active checkpoint ${reply[1]} is past the rebuild's ${reply[2]}`,
              { details: { projection: name, generation, active: Number(reply[1]), rebuild: Number(reply[2]) } },
            );
        }
      });
    },

    setFailure(name, failure, fence) {
      return track(async () => {
        assertName(name);
        await run(
          SET_FAILURE,
          'recording a failure',
          name,
          fence,
          [keys.record(name), keys.projections],
          [name, failure ? JSON.stringify(failure) : ''],
        );
      });
    },

    skip(name, generation, failure, fence) {
      const { eventId, position, type } = failure ?? {};
      if (eventId === undefined || position === undefined || type === undefined) {
        return Promise.reject(new ChronicleError('INVALID_ARGUMENT', `projection ${name}: the failure names no event to skip`));
      }
      if (!Number.isSafeInteger(position) || position < 1) {
        return Promise.reject(
          new ChronicleError('INVALID_ARGUMENT', `projection ${name}: the failed event's position is not one`),
        );
      }
      return track(async () => {
        assertName(name);
        const skipped: SkippedEvent = { ...failure, eventId, position, type, skippedAt: new Date().toISOString() };
        const reply = await run(
          SKIP,
          'skipping an event',
          name,
          fence,
          [keys.record(name), keys.skips(name)],
          [String(generation), String(position), String(position - 1), JSON.stringify(skipped)],
        );
        if (reply[0] === 'gone') throw notWritten(name, generation);
        if (reply[0] === 'moved') throw moved(name, generation, position - 1, reply[1]);
      });
    },

    skipped(name) {
      return track(async () => {
        assertName(name);
        const list = await call('reading skipped events', () => client.lrange(keys.skips(name), 0, -1));
        return list.map((json) => parseStored<SkippedEvent>(json, `projection ${name}: a skipped event`));
      });
    },

    reader(name) {
      assertName(name);
      return createRedisReader(name, { client, keys, assertOpen, call });
    },

    close() {
      if (!closing) {
        closed = true;
        closing = (async () => {
          if (inflight > 0) await new Promise<void>((resolve) => (drained = resolve));
          // A connection of the caller's stays theirs; ours is dropped (nothing of ours is pending on it any more).
          if (owned) client.disconnect();
        })();
      }
      return closing;
    },
  };
}
