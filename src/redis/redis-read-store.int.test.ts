// What the conformance suite does not cover, against the real server: the handler and reader APIs, large batches,
// dropping old generations' keys, a foreign key under the prefix, isolation of a batch's reads, closing, a server
// that cannot be reached, and who closes the connection.
import { randomUUID } from 'node:crypto';
import { isChronicleError } from 'chronicle-es';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dropPrefix, freshPrefix, keysUnder } from '../../test/redis-prefix.js';
import { REDIS_URL, redisAvailable } from '../../test/support/redis.js';
import { createRedisReadStore, type RedisReadStore } from './redis-read-store.js';

const prefix = freshPrefix('store');
const fresh = () => `p${randomUUID().replaceAll('-', '').slice(0, 12)}`;
const codeOf = (promise: Promise<unknown>) =>
  promise.then(
    () => 'resolved',
    (err) => (isChronicleError(err) ? err.code : `not a ChronicleError: ${err}`),
  );

let store: RedisReadStore;
let raw: Redis;
beforeAll(() => {
  if (!redisAvailable) return;
  store = createRedisReadStore({ url: REDIS_URL, prefix });
  raw = new Redis(REDIS_URL);
});
afterAll(async () => {
  if (!redisAvailable) return;
  await store.close();
  raw.disconnect();
  await dropPrefix(prefix);
});

/** A projection with an active generation at checkpoint 0. */
async function active(s = store) {
  const name = fresh();
  const generation = await s.beginGeneration(name, 1);
  await s.swapGeneration(name, generation, 0);
  return { name, generation };
}

async function allRows<V>(s: RedisReadStore, name: string, table: string, count?: number) {
  const rows: Record<string, V> = {};
  for await (const [key, value] of s.reader(name).table<V>(table).entries({ count })) {
    expect(rows, `key ${key} yielded twice`).not.toHaveProperty(key);
    rows[key] = value;
  }
  return rows;
}

describe.skipIf(!redisAvailable)('redis read store', () => {
  it('handlers read their own batch’s writes; readers see rows only once the batch commits', async () => {
    const { name, generation } = await active();
    type Order = { status: string; items: string[] };
    await store.apply(
      name,
      generation,
      (tx) => {
        const orders = tx.table<Order>('orders');
        orders.set('o1', { status: 'created', items: ['mug'] });
        orders.set('o2', { status: 'created', items: [] });
      },
      1,
      0,
    );
    let seenMidway: unknown = 'not read';
    await store.apply(
      name,
      generation,
      async (tx) => {
        const orders = tx.table<Order>('orders');
        const o1 = (await orders.get('o1'))!;
        orders.set('o1', { ...o1, status: 'paid' });
        expect(await orders.get('o1')).toEqual({ status: 'paid', items: ['mug'] });
        orders.delete('o2');
        expect(await orders.has('o2')).toBe(false);
        expect(await orders.getMany(['o2', 'o1', 'none'])).toEqual([undefined, { status: 'paid', items: ['mug'] }, undefined]);
        tx.table<number>('counts').set('paid', 1);
        // Nothing of this batch is visible outside it before it commits.
        seenMidway = await store.reader(name).table<Order>('orders').get('o1');
      },
      2,
      1,
    );
    expect(seenMidway).toEqual({ status: 'created', items: ['mug'] });
    const orders = store.reader(name).table<Order>('orders');
    expect(await orders.get('o1')).toEqual({ status: 'paid', items: ['mug'] });
    expect(await orders.get('o2')).toBeUndefined();
    expect(await orders.getMany(['o1', 'o2'])).toEqual([{ status: 'paid', items: ['mug'] }, undefined]);
    expect(await orders.size()).toBe(1);
    expect(await allRows(store, name, 'counts')).toEqual({ paid: 1 });
    // A table never written reads as empty; a projection without tables is NOT_FOUND; a bad name is refused at once.
    expect(await store.reader(name).table('never').size()).toBe(0);
    expect(await codeOf(store.reader(fresh()).table('orders').get('o1'))).toBe('NOT_FOUND');
    expect(await codeOf(store.reader(fresh()).table('orders').size())).toBe('NOT_FOUND');
    expect(await codeOf(allRows(store, fresh(), 'orders'))).toBe('NOT_FOUND');
    expect(() => store.reader(name).table('bad-name')).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(await codeOf(orders.getMany([1 as unknown as string]))).toBe('INVALID_ARGUMENT');
  });

  it('a handler that throws writes nothing, and the error reaches the caller unchanged', async () => {
    const { name, generation } = await active();
    await store.apply(name, generation, (tx) => tx.table('rows').set('kept', 1), 1, 0);
    const before = await keysUnder(`${prefix}:projection:${name}`);
    const boom = new Error('boom');
    await expect(
      store.apply(
        name,
        generation,
        async (tx) => {
          tx.table('rows').set('lost', 1);
          tx.table('other').set('lost', 1);
          await tx.table('rows').get('kept');
          throw boom;
        },
        2,
        1,
      ),
    ).rejects.toBe(boom);
    expect(await allRows(store, name, 'rows')).toEqual({ kept: 1 });
    expect((await store.load(name))?.position).toBe(1);
    expect(await keysUnder(`${prefix}:projection:${name}`)).toEqual(before);
  });

  it('commits a batch of 20,000 rows set and 10,000 deleted, and reads 20,000 in one getMany', async () => {
    const { name, generation } = await active();
    const keys = Array.from({ length: 20_000 }, (_, i) => `k${i}`);
    await store.apply(
      name,
      generation,
      (tx) => {
        for (const [i, k] of keys.entries()) tx.table('big').set(k, { i });
      },
      1,
      0,
    );
    await store.apply(
      name,
      generation,
      (tx) => {
        for (const k of keys.filter((_, i) => i % 2 === 0)) tx.table('big').delete(k);
      },
      2,
      1,
    );
    const big = store.reader(name).table<{ i: number }>('big');
    expect(await big.size()).toBe(10_000);
    const values = await big.getMany(keys);
    expect(values.filter((v) => v !== undefined).map((v) => v!.i)).toEqual(keys.map((_, i) => i).filter((i) => i % 2 === 1));
    const scanned = await allRows<{ i: number }>(store, name, 'big', 700);
    expect(Object.keys(scanned)).toHaveLength(10_000);
    expect(scanned.k19999).toEqual({ i: 19_999 });
  });

  it('a batch whose reads another batch made stale is refused, even at the same checkpoint', async () => {
    const { name, generation } = await active();
    await store.apply(name, generation, (tx) => tx.table<number>('n').set('count', 0), 5, 0);
    // Both read the count, then both write count + 1 without moving the checkpoint: only one may commit.
    const increment = async (tx: Parameters<Parameters<RedisReadStore['apply']>[2] & object>[0]) => {
      const n = tx.table<number>('n');
      const count = (await n.get('count'))!;
      await new Promise((r) => setTimeout(r, 10));
      n.set('count', count + 1);
    };
    const settled = await Promise.allSettled([
      store.apply(name, generation, increment, 5, 5),
      store.apply(name, generation, increment, 5, 5),
    ]);
    expect(settled.map((s) => s.status).sort()).toEqual(['fulfilled', 'rejected']);
    const loser = settled.find((s) => s.status === 'rejected') as PromiseRejectedResult;
    expect(loser.reason).toMatchObject({ code: 'CONCURRENCY_CONFLICT' });
    expect(await store.reader(name).table('n').get('count')).toBe(1);
  });

  it('never serves a row cached before another store committed over it', async () => {
    const other = createRedisReadStore({ url: REDIS_URL, prefix });
    try {
      const { name, generation } = await active();
      let at = 0;
      // Both stores take turns adding one to the same row, each reading it first: a stale cached row would lose a turn.
      for (let turn = 0; turn < 20; turn++) {
        const s = turn % 3 === 0 ? other : store;
        await s.apply(
          name,
          generation,
          async (tx) => {
            const n = tx.table<number>('n');
            n.set('count', ((await n.get('count')) ?? 0) + 1);
          },
          at + 1,
          at,
        );
        at++;
      }
      expect(await store.reader(name).table('n').get('count')).toBe(20);
    } finally {
      await other.close();
    }
  });

  it('drops the keys of a swapped-out generation and of a replaced rebuild, and nothing else', async () => {
    const { name, generation: g1 } = await active();
    await store.apply(
      name,
      g1,
      (tx) => {
        for (const t of ['a', 'b', 'c']) tx.table(t).set('row', g1);
      },
      1,
      0,
    );
    const g2 = await store.beginGeneration(name, 2, (tx) => tx.table('a').set('seed', true));
    await store.apply(name, g2, (tx) => tx.table('b').set('row', g2), 1, 0);
    const g3 = await store.beginGeneration(name, 2, (tx) => tx.table('a').set('seed', true));
    const base = `${prefix}:projection:${name}`;
    expect((await keysUnder(base)).filter((k) => k.includes(`:g${g2}:`))).toEqual([]);
    await store.apply(name, g3, (tx) => tx.table('z').set('row', g3), 1, 0);
    await store.swapGeneration(name, g3, g1);
    expect(await keysUnder(base)).toEqual(
      [`${base}:g${g3}:t:a`, `${base}:g${g3}:t:z`, `${base}:g${g3}:tables`, `${base}:generations`].sort(),
    );
    expect(await allRows(store, name, 'a')).toEqual({ seed: true });
    expect(await allRows(store, name, 'b')).toEqual({});
  });

  it('collects at the next swap what a crash left between a swap and its clean-up', async () => {
    const { name, generation: g1 } = await active();
    await store.apply(name, g1, (tx) => tx.table('t').set('row', 1), 1, 0);
    const g2 = await store.beginGeneration(name, 1);
    await store.apply(name, g2, undefined, 1, 0);
    const base = `${prefix}:projection:${name}`;
    // As a process killed right after the swap script would leave it: swapped, g1's keys still there.
    await raw.hset(base, { generation: String(g2), position: '1' });
    await raw.hdel(base, 'rebuild_generation', 'rebuild_version', 'rebuild_position');
    await raw.sadd(`${base}:garbage`, String(g1));
    expect(await keysUnder(`${base}:g${g1}`)).toHaveLength(2);
    const g3 = await store.beginGeneration(name, 1);
    expect(await keysUnder(`${base}:g${g1}`)).toEqual([]);
    expect(await raw.exists(`${base}:garbage`)).toBe(0);
    expect((await store.load(name))?.rebuild?.generation).toBe(g3);
  });

  it('refuses a scan across a swap rather than mix two generations', async () => {
    const { name, generation: g1 } = await active();
    await store.apply(
      name,
      g1,
      (tx) => {
        for (let i = 0; i < 2000; i++) tx.table('t').set(`k${i}`, 1);
      },
      1,
      0,
    );
    const g2 = await store.beginGeneration(name, 1, (tx) => tx.table('t').set('only', 2));
    await store.apply(name, g2, undefined, 1, 0);
    const rows = store.reader(name).table('t').entries({ count: 100 });
    await rows.next();
    await store.swapGeneration(name, g2, g1);
    const drain = async () => {
      for (;;) if ((await rows.next()).done) return;
    };
    expect(await codeOf(drain())).toBe('CONCURRENCY_CONFLICT');
    expect(await allRows(store, name, 't')).toEqual({ only: 2 });
  });

  it('refuses a batch (STORE_ERROR, writing nothing) when a key under the prefix holds something else', async () => {
    const { name, generation } = await active();
    await store.apply(name, generation, (tx) => tx.table('good').set('row', 1), 1, 0);
    await raw.set(`${prefix}:projection:${name}:g${generation}:t:clobbered`, 'not a hash');
    const err = await store
      .apply(
        name,
        generation,
        (tx) => {
          tx.table('good').set('row', 2);
          tx.table('clobbered').set('row', 2);
        },
        2,
        1,
      )
      .catch((e) => e);
    expect(err).toMatchObject({ code: 'STORE_ERROR', message: expect.stringContaining('clobbered') });
    expect(await store.reader(name).table('good').get('row')).toBe(1);
    expect((await store.load(name))?.position).toBe(1);
  });

  it('keeps a failure’s fields, and a skip’s', async () => {
    const { name, generation } = await active();
    const failure = {
      message: 'bad event',
      code: 'VALIDATION_FAILED',
      generation,
      eventId: 'e1',
      position: 1,
      type: 'Happened',
      at: new Date().toISOString(),
    };
    await store.setFailure(name, failure);
    expect((await store.load(name))?.failure).toEqual(failure);
    await store.skip(name, generation, failure);
    const [skipped] = await store.skipped(name);
    expect(skipped).toMatchObject(failure);
    expect(await store.list()).toContainEqual({ name, version: 1, generation, position: 1 });
  });

  it('close() waits for a batch in flight, which then writes nothing; every later call is CLOSED', async () => {
    const own = createRedisReadStore({ url: REDIS_URL, prefix });
    const { name, generation } = await active(own);
    let release!: () => void;
    let entered!: () => void;
    const inWork = new Promise<void>((r) => (entered = r));
    const batch = own.apply(
      name,
      generation,
      async (tx) => {
        tx.table('rows').set('late', 1);
        entered();
        await new Promise<void>((r) => (release = r));
      },
      1,
      0,
    );
    await inWork;
    let closed = false;
    const closing = own.close().then(() => (closed = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(closed).toBe(false);
    release();
    expect(await codeOf(batch)).toBe('CLOSED');
    await closing;
    expect(await codeOf(own.load(name))).toBe('CLOSED');
    expect(() => own.reader(name).table('rows')).toThrow(expect.objectContaining({ code: 'CLOSED' }));
    expect(await store.load(name)).toMatchObject({ position: 0 });
    expect(await store.reader(name).table('rows').size()).toBe(0);
  });

  it('closes the connection it opened, and leaves one it was given open', async () => {
    const client = new Redis(REDIS_URL);
    const given = createRedisReadStore({ client, prefix });
    await given.list();
    await given.close();
    expect(await client.ping()).toBe('PONG');
    client.disconnect();

    const own = createRedisReadStore({ url: REDIS_URL, prefix });
    await own.list();
    await own.close();
    expect(await codeOf(own.list())).toBe('CLOSED');
  });

  it('a server that cannot be reached is STORE_ERROR, keeping the client’s error', async () => {
    const client = new Redis({ port: 1, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    client.on('error', () => {});
    const unreachable = createRedisReadStore({ client, prefix });
    const err = await unreachable.load('x').catch((e) => e);
    expect(err).toMatchObject({ code: 'STORE_ERROR', details: { operation: 'loading a projection' } });
    expect(err.cause).toBeInstanceOf(Error);
    await unreachable.close();
    client.disconnect();
  });

  it('runs its scripts again after the server forgot them (SCRIPT FLUSH)', async () => {
    const { name, generation } = await active();
    await raw.script('FLUSH');
    await store.apply(name, generation, (tx) => tx.table('rows').set('after flush', 1), 1, 0);
    await raw.script('FLUSH');
    expect(await store.reader(name).table('rows').get('after flush')).toBe(1);
  });
});
