// The projector writing into Redis, fed by the in-memory event store: every event applied exactly once across stops
// and restarts (counted by increments, which a replay would double), a failing handler writing nothing, rebuilds.
import { randomUUID } from 'node:crypto';
import { createInMemoryEventStore, createProjector, defineProjection, type EventStore, type Projector } from 'chronicle-es';
import { afterAll, describe, expect, it } from 'vitest';
import { dropPrefix, freshPrefix, keysUnder } from '../../test/redis-prefix.js';
import { REDIS_URL, redisAvailable } from '../../test/support/redis.js';
import { createRedisReadStore, type RedisReadStore } from './redis-read-store.js';
import type { RedisReadTx } from './redis-read-tx.js';

const prefix = freshPrefix('projector');
const stores: RedisReadStore[] = [];
const openStore = () => {
  const store = createRedisReadStore({ url: REDIS_URL, prefix });
  stores.push(store);
  return store;
};
afterAll(async () => {
  if (!redisAvailable) return;
  for (const store of stores) await store.close();
  await dropPrefix(prefix);
});

const fresh = (label: string) => `${label}_${randomUUID().replaceAll('-', '').slice(0, 10)}`;

type Counted = { stream: string; poison?: boolean };

/**
 * Counts events per stream and how often each position was applied, both by read-add-write, so an event applied
 * twice shows as a 2 and one lost as a missing row. `version` 2 counts double, to tell a rebuild's rows apart.
 */
const tally = (name: string, version = 1) =>
  defineProjection<RedisReadTx>({
    name,
    version,
    handlers: {
      async Counted(event, tx) {
        const { stream, poison } = event.data as Counted;
        const applied = tx.table<number>('applied');
        applied.set(String(event.position), ((await applied.get(String(event.position))) ?? 0) + 1);
        if (poison) throw new Error(`poison at ${event.position}`);
        const counts = tx.table<number>('counts');
        counts.set(stream, ((await counts.get(stream)) ?? 0) + version);
      },
    },
  });

async function appendCounted(store: EventStore, streams: number, perStream: number): Promise<number> {
  let last = 0;
  for (let round = 0; round < perStream; round++) {
    const results = await store.appendMany(
      Array.from({ length: streams }, (_, s) => ({
        streamId: `s-${s}`,
        events: [{ type: 'Counted', data: { stream: `s-${s}` } }],
      })),
    );
    last = results[results.length - 1].position;
  }
  return last;
}

async function rowsOf<V>(store: RedisReadStore, projection: string, table: string): Promise<Record<string, V>> {
  const rows: Record<string, V> = {};
  for await (const [key, value] of store.reader(projection).table<V>(table).entries()) rows[key] = value;
  return rows;
}

/** Every position from 1 to `to` applied exactly once, and nothing past it. */
async function expectAppliedOnce(store: RedisReadStore, projection: string, to: number, except: number[] = []) {
  const applied = await rowsOf<number>(store, projection, 'applied');
  const expected: Record<string, number> = {};
  for (let p = 1; p <= to; p++) if (!except.includes(p)) expected[String(p)] = 1;
  expect(applied).toEqual(expected);
}

const until = (projector: Projector, position: number) =>
  new Promise<void>((resolve) => {
    const off = projector.onChange((change) => {
      if (change.position >= position) {
        off();
        resolve();
      }
    });
  });

describe.skipIf(!redisAvailable)('projector into Redis', () => {
  it('applies every event exactly once across a stop mid-run and a restart on a new connection', async () => {
    const events = createInMemoryEventStore();
    const name = fresh('tally');
    const first = await appendCounted(events, 20, 150);
    expect(first).toBe(3000);

    const one = openStore();
    const projector = createProjector({ eventStore: events, readStore: one, projections: [tally(name)], batchSize: 50 });
    const reached = until(projector, 500);
    await projector.start();
    await reached;
    await projector.stop();
    const stopped = (await one.load(name))!;
    expect(stopped.position).toBeGreaterThanOrEqual(500);
    // Stopped between batches: what is written is exactly the events up to the checkpoint.
    await expectAppliedOnce(one, name, stopped.position);
    const counted = Object.values(await rowsOf<number>(one, name, 'counts')).reduce((a, b) => a + b, 0);
    expect(counted).toBe(stopped.position);

    const head = await appendCounted(events, 20, 50);
    const two = openStore();
    const again = createProjector({ eventStore: events, readStore: two, projections: [tally(name)], batchSize: 50 });
    await again.start();
    await again.waitForPosition(head, { timeoutMs: 20_000 });
    await again.stop();
    await expectAppliedOnce(two, name, head);
    const counts = await rowsOf<number>(two, name, 'counts');
    expect(counts).toEqual(Object.fromEntries(Array.from({ length: 20 }, (_, s) => [`s-${s}`, 200])));
    expect((await two.load(name))?.position).toBe(head);
  });

  it('a failing handler writes nothing of its event; the events before it commit, and skip moves on', async () => {
    const events = createInMemoryEventStore();
    const name = fresh('poisoned');
    await events.append('a', [
      { type: 'Counted', data: { stream: 'a' } },
      { type: 'Counted', data: { stream: 'a' } },
      { type: 'Counted', data: { stream: 'a', poison: true } },
      { type: 'Counted', data: { stream: 'a' } },
    ]);
    const store = openStore();
    const projector = createProjector({ eventStore: events, readStore: store, projections: [tally(name)] });
    await projector.start();
    await expect(projector.waitForPosition(4, { timeoutMs: 10_000 })).rejects.toMatchObject({ code: 'PROJECTION_FAILED' });
    const [status] = await projector.status();
    expect(status).toMatchObject({ state: 'failed', position: 2, lastError: { position: 3, message: 'poison at 3' } });
    // The poisoned event's own write (its `applied` row, set before it threw) is not there, nor anything after it.
    await expectAppliedOnce(store, name, 2);
    expect(await rowsOf(store, name, 'counts')).toEqual({ a: 2 });
    expect((await store.load(name))?.failure).toMatchObject({ position: 3, eventId: expect.any(String) });

    await projector.skip(name);
    await projector.waitForPosition(4, { timeoutMs: 10_000 });
    await projector.stop();
    await expectAppliedOnce(store, name, 4, [3]);
    expect(await rowsOf(store, name, 'counts')).toEqual({ a: 3 });
    expect((await store.skipped(name)).map((s) => s.position)).toEqual([3]);
  });

  it('rebuilds into a new generation while the old one serves, swaps, and drops the old keys', async () => {
    const events = createInMemoryEventStore();
    const name = fresh('rebuilt');
    const head = await appendCounted(events, 5, 40);
    const store = openStore();
    const projector = createProjector({ eventStore: events, readStore: store, projections: [tally(name)], batchSize: 20 });
    await projector.start();
    await projector.waitForPosition(head, { timeoutMs: 10_000 });
    const g1 = (await store.load(name))!.generation;
    const served = await rowsOf<number>(store, name, 'counts');

    // Queries keep answering from the old generation while the rebuild runs.
    let reads = 0;
    let reading = true;
    const reader = (async () => {
      while (reading) {
        expect(await rowsOf<number>(store, name, 'counts')).toEqual(served);
        reads++;
      }
    })();
    await projector.rebuild(name);
    reading = false;
    await reader;
    expect(reads).toBeGreaterThan(0);
    const g2 = (await store.load(name))!.generation;
    expect(g2).toBeGreaterThan(g1);
    expect(await rowsOf<number>(store, name, 'counts')).toEqual(served);
    await expectAppliedOnce(store, name, head);
    expect(await keysUnder(`${prefix}:projection:${name}:g${g1}`)).toEqual([]);
    await projector.stop();

    // A raised version rebuilds on the next start, with the new handlers (which count double).
    const v2 = createProjector({ eventStore: events, readStore: store, projections: [tally(name, 2)], batchSize: 20 });
    await v2.start();
    // The served generation (version 1) has no handlers here; the rebuild swaps in once it reaches the head.
    for (let i = 0; i < 500 && (await store.load(name))?.version !== 2; i++) await new Promise((r) => setTimeout(r, 20));
    await v2.stop();
    const record = (await store.load(name))!;
    expect(record).toMatchObject({ version: 2, position: head });
    expect(record.generation).toBeGreaterThan(g2);
    expect(await rowsOf<number>(store, name, 'counts')).toEqual(Object.fromEntries(Object.keys(served).map((s) => [s, 80])));
    expect(await keysUnder(`${prefix}:projection:${name}:g${g2}`)).toEqual([]);
  });

  it('starts over from the log when Redis lost the read model (a restart without persistence), applying each event once', async () => {
    const events = createInMemoryEventStore();
    const name = fresh('flushed');
    const lostPrefix = freshPrefix('flushed');
    const store = createRedisReadStore({ url: REDIS_URL, prefix: lostPrefix });
    stores.push(store);
    const projector = createProjector({
      eventStore: events,
      readStore: store,
      projections: [tally(name)],
      batchSize: 20,
      pollIntervalMs: 10,
    });
    let head = await appendCounted(events, 4, 25);
    await projector.start();
    await projector.waitForPosition(head, { timeoutMs: 10_000 });
    // Everything under the prefix is gone, as after a restart of a server that keeps nothing on disk.
    expect(await dropPrefix(lostPrefix)).toBeGreaterThan(0);
    head = await appendCounted(events, 4, 25);
    for (let i = 0; i < 500 && (await store.load(name))?.position !== head; i++) await new Promise((r) => setTimeout(r, 20));
    await projector.stop();
    expect((await store.load(name))?.position).toBe(head);
    await expectAppliedOnce(store, name, head);
    expect(await rowsOf(store, name, 'counts')).toEqual(Object.fromEntries(Array.from({ length: 4 }, (_, s) => [`s-${s}`, 50])));
    await dropPrefix(lostPrefix);
  });
});
