// Projector workers sharing one Redis read store that keeps leases: the projections spread over the workers, each
// event is applied once by whoever holds its projection, and a worker that stops hands its projections over.
import { randomUUID } from 'node:crypto';
import { createInMemoryEventStore, createProjector, defineProjection, type EventStore, type Projector } from 'chronicle-es';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { dropPrefix, freshPrefix } from '../../test/redis-prefix.js';
import { REDIS_URL, redisAvailable } from '../../test/support/redis.js';
import { createRedisReadStore, type RedisReadStore } from './redis-read-store.js';
import type { RedisReadTx } from './redis-read-tx.js';

const TTL = 400;
const prefix = freshPrefix('workers');
const stores: RedisReadStore[] = [];
const projectors: Projector[] = [];
afterEach(async () => {
  await Promise.all(projectors.splice(0).map((p) => p.stop()));
});
afterAll(async () => {
  if (!redisAvailable) return;
  for (const store of stores) await store.close();
  await dropPrefix(prefix);
});

// Counts applications per event id (a repeat or a gap shows), and who applied each.
const counting = (name: string, worker: string) =>
  defineProjection<RedisReadTx>({
    name,
    version: 1,
    handlers: {
      async Added(event, tx) {
        const applied = tx.table<number>('applied');
        applied.set(event.id, ((await applied.get(event.id)) ?? 0) + 1);
        tx.table<string>('by').set(event.id, worker);
      },
    },
  });

function worker(events: EventStore, names: string[], id: string) {
  // Each worker on its own connection, as another process would be.
  const store = createRedisReadStore({ url: REDIS_URL, prefix, leases: true });
  stores.push(store);
  const projector = createProjector({
    eventStore: events,
    readStore: store,
    projections: names.map((n) => counting(n, id)),
    batchSize: 10,
    pollIntervalMs: 10,
    worker: { id, leaseTtlMs: TTL },
  });
  projectors.push(projector);
  return { projector, store };
}

async function seed(store: EventStore, n: number) {
  for (let i = 0; i < n; i++) await store.append(`acc-${i % 5}`, [{ type: 'Added', data: {} }]);
  return store.headPosition();
}

const held = async (p: Projector) => (await p.status()).filter((s) => s.held).map((s) => s.name);

async function rows<V>(store: RedisReadStore, projection: string, table: string) {
  const out: V[] = [];
  for await (const [, value] of store.reader(projection).table<V>(table).entries()) out.push(value);
  return out;
}

describe.skipIf(!redisAvailable)('projector workers on a Redis read store with leases', () => {
  it('spread the projections over two workers, apply each event once, and take over from a worker that stops', async () => {
    const events = createInMemoryEventStore();
    const names = Array.from({ length: 4 }, (_, i) => `w${i}_${randomUUID().replaceAll('-', '').slice(0, 8)}`);
    await seed(events, 30);
    const a = worker(events, names, `a-${randomUUID()}`);
    const b = worker(events, names, `b-${randomUUID()}`);
    await a.projector.start();
    await b.projector.start();
    await vi.waitFor(async () => expect((await held(b.projector)).length).toBe(2), { timeout: 10_000 });
    await vi.waitFor(async () => expect((await held(a.projector)).length).toBe(2), { timeout: 10_000 });
    expect([...(await held(a.projector)), ...(await held(b.projector))].sort()).toEqual([...names].sort());

    let head = await seed(events, 30);
    await Promise.all([a, b].map((w) => w.projector.waitForPosition(head, { timeoutMs: 10_000 })));
    const byWorker = new Set<string>();
    for (const name of names) {
      expect(await rows<number>(a.store, name, 'applied'), name).toEqual(Array(head).fill(1));
      for (const by of await rows<string>(a.store, name, 'by')) byWorker.add(by);
    }
    expect(byWorker.size, 'both workers applied events').toBe(2);

    // B stops (releasing its leases): A takes every projection over and carries on from B's checkpoints.
    await b.projector.stop();
    await vi.waitFor(async () => expect((await held(a.projector)).sort()).toEqual([...names].sort()), { timeout: 10_000 });
    head = await seed(events, 30);
    await a.projector.waitForPosition(head, { timeoutMs: 10_000 });
    for (const name of names) expect(await rows<number>(a.store, name, 'applied'), name).toEqual(Array(head).fill(1));
    const leases = await a.store.leases!.list();
    expect(leases.filter((l) => names.includes(l.projection)).every((l) => l.owner === a.projector.worker)).toBe(true);
  });
});
