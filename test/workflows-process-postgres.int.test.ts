// The process-manager runtime on PostgreSQL: event store and read store on the server, and with the read store's
// leases two projector workers (each with its own stores and command bus, as two processes would have), each process
// manager run by one of them at a time. Across every handover — graceful, and one where the holder hangs mid-batch
// after sending — each command takes effect exactly once.
import { COMMAND_REFUSED, createProjector, type EventStore, type ProjectionStore, processStreamId } from 'chronicle-es';
import { createPostgresEventStore, createPostgresReadStore, type PostgresReadStore } from 'chronicle-es/postgres';
import { afterAll, describe, expect, it, vi } from 'vitest';
import {
  crashingBeforeCommit,
  orderProcess,
  orderWorld,
  type WorldOptions,
} from '../src/core/workflows/fixtures/process-orders.js';
import { severable } from './fault/projector-lease-scenarios.js';
import { type FreshSchema, freshSchema, pgAvailable } from './support/postgres.js';

const schemas: FreshSchema[] = [];
const closers: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const close of closers.splice(0).reverse()) await close().catch(() => {});
  await Promise.all(schemas.map((s) => s.drop()));
});

function schema(label: string) {
  const fresh = freshSchema(label);
  schemas.push(fresh);
  const eventStore = (): EventStore => {
    const store = createPostgresEventStore({ connectionString: fresh.connectionString, schema: fresh.schema, poolSize: 4 });
    closers.push(() => store.close());
    return store;
  };
  const readStore = (options: { idleInTransactionTimeoutMs?: number } = {}): PostgresReadStore => {
    const store = createPostgresReadStore({
      connectionString: fresh.connectionString,
      schema: fresh.schema,
      poolSize: 3,
      ...options,
    });
    closers.push(() => store.close());
    return store;
  };
  return { eventStore, readStore };
}

const stateRow = async (read: PostgresReadStore, key: string) => {
  const reader = read.reader('order_process');
  const row = await reader.get<{ data: string }>(`SELECT data FROM ${reader.table('state')} WHERE id = ?`, [key]);
  return row && JSON.parse(row.data);
};

/**
 * How many effects each order's reservation had, read from each order's stock stream. Not from the global log: its
 * reads stop at the safe head, which a transaction still open elsewhere (the next batch of whichever worker runs the
 * process) may hold below effects that have committed, so a read of the log right after a checkpoint can miss them.
 */
async function reservationsPerOrder(store: EventStore, ids: readonly string[]): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const id of ids) {
    const reserved = (await store.readStream(`stock-${id}`)).filter((e) => e.type === 'StockReserved').length;
    if (reserved > 0) counts.set(id, reserved);
  }
  return counts;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

// Worker `id`'s own stores, bus and projector on the shared schema, running the order process under leases.
function worker(
  stores: ReturnType<typeof schema>,
  id: string,
  options: WorldOptions & { readStore?: ProjectionStore<any, any>; leaseTtlMs?: number } = {},
) {
  const eventStore = stores.eventStore();
  const readStore = options.readStore ?? stores.readStore();
  const { sent, projection } = orderWorld({ ...options, eventStore, readStore, batchSize: options.batchSize ?? 25 });
  return { id, eventStore, readStore, sent, projection, worker: { id, leaseTtlMs: options.leaseTtlMs ?? 600 } };
}

describe.skipIf(!pgAvailable)('process managers on PostgreSQL', () => {
  it('sends each command once, records refusals once, keeps state in the read store, and replays a crashed commit', async () => {
    const stores = schema('pm_pg');
    const eventStore = stores.eventStore();
    const readStore = stores.readStore();
    const w = orderWorld({ eventStore, readStore: crashingBeforeCommit(readStore, 1), batchSize: 40 });
    const ids = Array.from({ length: 120 }, (_, i) => `p${i}`);
    await eventStore.appendMany(
      ids.map((id, i) => ({
        streamId: `order-${id}`,
        events: [{ type: 'OrderPlaced', data: { orderId: id, amount: i % 8 === 7 ? 300 : 2 } }],
      })),
    );
    await w.start();
    await expect(w.caughtUp(20_000)).rejects.toMatchObject({ code: 'PROJECTION_FAILED' });
    expect(await stateRow(readStore, 'p0')).toBeUndefined();
    await w.projector.retry('order_process');
    await w.caughtUp(20_000);
    const counts = await reservationsPerOrder(eventStore, ids);
    const small = ids.filter((_, i) => i % 8 !== 7);
    expect([...counts.keys()].sort()).toEqual([...small].sort());
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
    const refused = await eventStore.readAll({ filter: { types: [COMMAND_REFUSED] } });
    expect(refused.length).toBe(ids.length - small.length);
    expect(await eventStore.readStream(processStreamId('order_process', 'p7'))).toHaveLength(1);
    expect(await stateRow(readStore, 'p7')).toEqual({ amount: 300, status: 'refused', refusals: 1 });
    expect(await stateRow(readStore, 'p0')).toEqual({ amount: 2, status: 'placed' });
    await w.pay('p0');
    await w.caughtUp();
    expect(await stateRow(readStore, 'p0')).toBeUndefined();
    await w.stop();
  }, 60_000);

  it('runs the process on one worker at a time while it moves between two, each command taking effect once', async () => {
    const stores = schema('pm_workers');
    // Every batch's span, by worker: two workers' batches must never overlap.
    const spans: Array<{ worker: string; from: number; to: number }> = [];
    const timed = (id: string, inner: ProjectionStore<any, any>): ProjectionStore<any, any> => ({
      ...inner,
      async apply(name, generation, work, checkpoint, after, fence) {
        const from = performance.now();
        try {
          return await inner.apply(name, generation, work, checkpoint, after, fence);
        } finally {
          if (name === 'order_process' && work) spans.push({ worker: id, from, to: performance.now() });
        }
      },
    });
    const slow = async () => {
      await sleep(2);
    };
    const a = worker(stores, 'A', { before: slow });
    const b = worker(stores, 'B', { before: slow });
    const projectorOf = (w: typeof a) => ({
      w,
      async start() {
        const projector = createProjector({
          eventStore: w.eventStore,
          readStore: timed(w.id, w.readStore),
          projections: [w.projection],
          pollIntervalMs: 20,
          batchSize: 25,
          worker: w.worker,
        });
        await projector.start();
        return projector;
      },
    });
    const producer = stores.eventStore();
    const total = 400;
    let placed = 0;
    const produce = (async () => {
      while (placed < total) {
        const batch = Array.from({ length: 20 }, (_, k) => `w${placed + k}`);
        placed += batch.length;
        await producer.appendMany(
          batch.map((id) => ({ streamId: `order-${id}`, events: [{ type: 'OrderPlaced', data: { orderId: id, amount: 1 } }] })),
        );
        await sleep(30);
      }
    })();
    // Hand the process back and forth: start one, stop the other, five times.
    let holder = await projectorOf(a).start();
    for (const next of [b, a, b, a, b]) {
      await sleep(150);
      const taker = await projectorOf(next).start();
      await holder.stop();
      holder = taker;
    }
    await produce;
    const head = await producer.headPosition();
    await holder.waitForPosition(head, { timeoutMs: 30_000 });
    await holder.stop();

    const counts = await reservationsPerOrder(
      producer,
      Array.from({ length: total }, (_, i) => `w${i}`),
    );
    expect(counts.size).toBe(total);
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
    // Both workers ran it, never at the same time.
    expect(new Set(spans.map((s) => s.worker))).toEqual(new Set(['A', 'B']));
    const sorted = [...spans].sort((x, y) => x.from - y.from);
    for (let i = 1; i < sorted.length; i++) {
      if (sorted[i].worker !== sorted[i - 1].worker) expect(sorted[i].from).toBeGreaterThanOrEqual(sorted[i - 1].to);
    }
  }, 90_000);

  it('a batch sending for longer than the idle-in-transaction limit commits in parts within it, and never fails', async () => {
    const stores = schema('pm_budget');
    const eventStore = stores.eventStore();
    // The server ends a session whose transaction sits idle for 1 s; one process's 30 sends take 30 × 60 ms.
    const readStore = stores.readStore({ idleInTransactionTimeoutMs: 1000 });
    const pm = orderProcess({ correlate: () => 'one', batchBudgetMs: 200 });
    const w = orderWorld({
      eventStore,
      readStore,
      pm,
      async before(sent) {
        if (sent.type === 'ReserveStock') await sleep(60);
      },
    });
    const ids = Array.from({ length: 30 }, (_, i) => `b${i}`);
    await eventStore.appendMany(
      ids.map((id) => ({ streamId: `order-${id}`, events: [{ type: 'OrderPlaced', data: { orderId: id, amount: 1 } }] })),
    );
    await w.start();
    await w.caughtUp(30_000);
    const counts = await reservationsPerOrder(eventStore, ids);
    expect([...counts.keys()].sort()).toEqual([...ids].sort());
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
    // Past the effects too (the process's own writes move the head): never stopped on a failure.
    await w.caughtUp(30_000);
    expect((await readStore.load('order_process'))!.failure).toBeUndefined();
    await w.stop();
  }, 60_000);

  it('a holder that hangs mid-batch after sending loses the process; the next replays it and nothing happens twice', async () => {
    const stores = schema('pm_fence');
    const producer = stores.eventStore();
    for (let i = 0; i < 30; i++)
      await producer.append(`order-h${i}`, [{ type: 'OrderPlaced', data: { orderId: `h${i}`, amount: 1 } }]);
    const paused = deferred();
    const gate = deferred();
    // A's store: its session is ended by the server once its transaction sits idle for 800 ms.
    const storeA = severable(stores.readStore({ idleInTransactionTimeoutMs: 800 }));
    const a = worker(stores, 'A', {
      readStore: storeA.store,
      leaseTtlMs: 300,
      batchSize: 10,
      // The reservation of h15 is written, then A hears nothing back until the gate opens.
      async after(sent) {
        if ((sent.data as { orderId: string }).orderId !== 'h15') return;
        paused.resolve();
        await gate.promise;
      },
    });
    const b = worker(stores, 'B', { leaseTtlMs: 300, batchSize: 10 });
    const projectorA = createProjector({
      eventStore: a.eventStore,
      readStore: storeA.store,
      projections: [a.projection],
      pollIntervalMs: 20,
      batchSize: 10,
      worker: a.worker,
    });
    const projectorB = createProjector({
      eventStore: b.eventStore,
      readStore: b.readStore,
      projections: [b.projection],
      pollIntervalMs: 20,
      batchSize: 10,
      worker: b.worker,
    });
    try {
      await projectorA.start();
      await paused.promise;
      const sentByABefore = a.sent.length;
      // A's heartbeats stop getting through: its lease runs out while its batch waits.
      storeA.sever('leases');
      await projectorB.start();
      const head = await producer.headPosition();
      await projectorB.waitForPosition(head, { timeoutMs: 15_000 });
      await vi.waitFor(async () => expect((await projectorB.status())[0]).toMatchObject({ held: true, owner: 'B' }), {
        timeout: 5000,
      });
      // B re-sent A's batch (same keys) and went on; every order reserved exactly once.
      const replayed = b.sent.filter((s) =>
        a.sent.slice(0, sentByABefore).some((x) => x.context.idempotencyKey === s.context.idempotencyKey),
      );
      expect(replayed.length).toBeGreaterThan(0);
      gate.resolve();
      // A's batch can never commit: it stops, without calling the process failed.
      await vi.waitFor(() => expect(storeA.applies.some((x) => !x.ok)).toBe(true), { timeout: 10_000 });
      // Its session was ended by the server meanwhile, and the fence refuses it on the new one.
      expect(storeA.applies.filter((x) => !x.ok)).toEqual([{ ok: false, code: 'LEASE_LOST' }]);
      storeA.heal();
      await vi.waitFor(async () => expect((await projectorA.status())[0]).toMatchObject({ held: false, owner: 'B' }), {
        timeout: 10_000,
      });
      const record = (await b.readStore.load('order_process'))!;
      expect(record.failure).toBeUndefined();
      for (let i = 30; i < 35; i++)
        await producer.append(`order-h${i}`, [{ type: 'OrderPlaced', data: { orderId: `h${i}`, amount: 1 } }]);
      await projectorB.waitForPosition(await producer.headPosition(), { timeoutMs: 10_000 });
      const counts = await reservationsPerOrder(
        producer,
        Array.from({ length: 35 }, (_, i) => `h${i}`),
      );
      expect(counts.size).toBe(35);
      expect([...counts.entries()].filter(([, n]) => n !== 1)).toEqual([]);
    } finally {
      gate.resolve();
      storeA.heal();
      await Promise.all([projectorA.stop(), projectorB.stop()]);
    }
  }, 60_000);
});
