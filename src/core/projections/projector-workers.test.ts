// Projectors sharing a read store that keeps leases: each is a worker holding some of the projections.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { isChronicleError } from '../errors.js';
import type { EventStore } from '../event-store.js';
import { createInMemoryEventStore } from '../in-memory-event-store.js';
import { defineProjection } from './define-projection.js';
import { createInMemoryReadStore, type InMemoryReadStore, type InMemoryReadTx } from './in-memory-read-store.js';
import { createProjector, type Projector } from './projector.js';

const TTL = 300;
const NAMES = ['p1', 'p2', 'p3', 'p4', 'p5', 'p6'];

// Counts applications per event id (a repeat or a gap shows) and who applied it.
function counting(name: string, worker: string, fail?: (position: number) => boolean) {
  return defineProjection<InMemoryReadTx>({
    name,
    version: 1,
    handlers: {
      Added: (event, tx) => {
        if (fail?.(event.position)) throw new Error(`cannot apply ${event.position}`);
        const applied = tx.table<number>('applied');
        applied.set(event.id, (applied.get(event.id) ?? 0) + 1);
        tx.table<string>('by').set(event.id, worker);
      },
    },
  });
}

async function seed(store: EventStore, n: number) {
  for (let i = 0; i < n; i++) await store.append(`acc-${i % 5}`, [{ type: 'Added', data: {} }]);
  return store.headPosition();
}

const projectors: Projector[] = [];
afterEach(async () => {
  await Promise.all(projectors.splice(0).map((p) => p.stop()));
});

function worker(events: EventStore, read: InMemoryReadStore, id: string, names = NAMES, fail?: (position: number) => boolean) {
  const p = createProjector({
    eventStore: events,
    readStore: read,
    projections: names.map((n) => counting(n, id, fail)),
    batchSize: 10,
    pollIntervalMs: 10,
    worker: { id, leaseTtlMs: TTL },
  });
  projectors.push(p);
  return p;
}

const held = async (p: Projector) => (await p.status()).filter((s) => s.held).map((s) => s.name);

function expectEachAppliedOnce(read: InMemoryReadStore, names: readonly string[], head: number) {
  for (const name of names) {
    const applied = [...read.reader(name).table<number>('applied').values()];
    expect(applied, name).toEqual(Array(head).fill(1));
  }
}

describe('projector workers on a read store with leases', () => {
  it('spread six projections over two workers, each reporting who holds what, and apply each event once', async () => {
    const events = createInMemoryEventStore();
    const read = createInMemoryReadStore({ leases: true });
    await seed(events, 40);
    const a = worker(events, read, 'worker-a');
    const b = worker(events, read, 'worker-b');
    expect(a.worker).toBe('worker-a');
    await a.start();
    expect(await held(a)).toEqual(NAMES);
    await b.start();
    await vi.waitFor(async () => expect((await held(b)).length).toBe(3), { timeout: 5000 });
    await vi.waitFor(async () => expect((await held(a)).length).toBe(3), { timeout: 5000 });
    const heldByA = await held(a);
    const heldByB = await held(b);
    expect([...heldByA, ...heldByB].sort()).toEqual(NAMES);

    const head = await seed(events, 20);
    // Each waits on all six: three it runs, three through the checkpoints the other writes.
    await Promise.all([a, b].map((p) => p.waitForPosition(head, { timeoutMs: 5000 })));
    expectEachAppliedOnce(read, NAMES, head);
    for (const name of heldByB) {
      const by = new Set(read.reader(name).table<string>('by').values());
      expect(by.has('worker-b'), name).toBe(true);
    }

    const statusA = await a.status();
    for (const s of statusA) {
      expect(s.owner).toBe(heldByA.includes(s.name) ? 'worker-a' : 'worker-b');
      expect(s.held).toBe(heldByA.includes(s.name));
      // Held elsewhere, it still reports how it goes there.
      expect(s).toMatchObject({ state: 'live', position: head });
    }
  });

  it('hands a stopping worker’s projections to the other, which continues from the checkpoints', async () => {
    const events = createInMemoryEventStore();
    const read = createInMemoryReadStore({ leases: true });
    await seed(events, 30);
    const a = worker(events, read, 'worker-a');
    const b = worker(events, read, 'worker-b');
    await Promise.all([a.start(), b.start()]);
    await vi.waitFor(async () => expect((await held(b)).length).toBe(3), { timeout: 5000 });
    await a.waitForPosition(30, { timeoutMs: 5000 });
    await a.stop();
    // Released on stop, and gone from the live workers: no need to wait for expiry.
    await vi.waitFor(async () => expect(await held(b)).toEqual(NAMES), { timeout: 5000 });
    const head = await seed(events, 15);
    await b.waitForPosition(head, { timeoutMs: 5000 });
    expectEachAppliedOnce(read, NAMES, head);
    const status = await a.status();
    expect(status.every((s) => s.state === 'stopped' && s.held === false && s.owner === 'worker-b')).toBe(true);
  });

  it('answers waits on a projection held elsewhere from its stored checkpoint, failing when its record shows a failure', async () => {
    const events = createInMemoryEventStore();
    const read = createInMemoryReadStore({ leases: true });
    const runs = worker(events, read, 'runs', ['bad'], (position) => position === 4);
    await runs.start();
    // Defines the projection too, but the lease is taken: it waits through the store.
    const waits = worker(events, read, 'waits', ['bad']);
    await waits.start();
    expect(await held(waits)).toEqual([]);
    const reached = waits.waitForPosition(3, { timeoutMs: 5000 });
    const beyond = waits.waitForPosition(5, { timeoutMs: 5000 }).catch((e: unknown) => e);
    await seed(events, 5);
    await reached;
    const err = await beyond;
    expect(isChronicleError(err, 'PROJECTION_FAILED')).toBe(true);
    expect(err).toMatchObject({ details: { projection: 'bad', position: 3, lastError: { position: 4 } } });
    const [status] = await waits.status();
    expect(status).toMatchObject({ state: 'failed', held: false, owner: 'runs', lastError: { position: 4 } });
    await expect(waits.waitForPosition(9, { timeoutMs: 30 })).rejects.toMatchObject({ code: 'PROJECTION_FAILED' });

    // Operations belong to the worker holding it.
    for (const op of [() => waits.retry('bad'), () => waits.skip('bad'), () => waits.rebuild('bad')]) {
      await expect(op()).rejects.toMatchObject({ code: 'LEASE_LOST', details: { projection: 'bad', worker: 'waits' } });
    }
    await runs.skip('bad');
    await waits.waitForPosition(5, { timeoutMs: 5000 });
  });

  it('reports an append that holds the log’s readers back, and refuses a lease ttl it cannot renew in time', async () => {
    const inner = createInMemoryEventStore();
    const stalled = { backend: '31337', since: new Date().toISOString(), openMs: 12_000 };
    const thresholds: number[] = [];
    const events: EventStore = {
      ...inner,
      stalledBy: async (thresholdMs) => {
        thresholds.push(thresholdMs);
        return stalled;
      },
    };
    const read = createInMemoryReadStore({ leases: true });
    const p = createProjector({
      eventStore: events,
      readStore: read,
      projections: [counting('p1', 'w')],
      stalledThresholdMs: 2500,
      worker: { leaseTtlMs: TTL },
    });
    projectors.push(p);
    expect(p.worker).toMatch(/-\d+-[0-9a-f]{8}$/);
    await p.start();
    const [status] = await p.status();
    expect(status).toMatchObject({ held: true, owner: p.worker, stalledBy: stalled });
    expect(thresholds).toEqual([2500]);

    expect(() => createProjector({ eventStore: events, readStore: read, projections: [], worker: { leaseTtlMs: 10 } })).toThrow(
      /leaseTtlMs/,
    );
    // Without leases on the store there is no worker.
    const plain = createProjector({ eventStore: events, readStore: createInMemoryReadStore(), projections: [] });
    expect(plain.worker).toBeUndefined();
  });
});
