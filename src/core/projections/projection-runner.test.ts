import { afterEach, describe, expect, it, vi } from 'vitest';
import type { EventStore } from '../event-store.js';
import { createInMemoryEventStore } from '../in-memory-event-store.js';
import { defineProjection } from './define-projection.js';
import { createInMemoryReadStore, type InMemoryReadStore, type InMemoryReadTx } from './in-memory-read-store.js';
import { LogPages } from './log-pages.js';
import { ProjectionRunner, type RunnerContext } from './projection-runner.js';

type Gate = { promise: Promise<void>; open: () => void };
const gate = (): Gate => {
  let open!: () => void;
  const promise = new Promise<void>((r) => {
    open = r;
  });
  return { promise, open };
};

// Counts applications per event id; can hold a batch on a gate or fail an event.
function counting(options: { hold?: () => Promise<void> | undefined; fail?: (position: number) => boolean } = {}) {
  return defineProjection<InMemoryReadTx>({
    name: 'p',
    version: 1,
    handlers: {
      Added: async (event, tx) => {
        await options.hold?.();
        if (options.fail?.(event.position)) throw new Error(`bad ${event.position}`);
        const applied = tx.table<number>('applied');
        applied.set(event.id, (applied.get(event.id) ?? 0) + 1);
      },
    },
  });
}

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

function setup(events: EventStore, readStore: InMemoryReadStore, def = counting()) {
  const calls = { served: [] as number[], changed: 0, stuck: 0, damaged: 0, leaseLost: 0 };
  let runner!: ProjectionRunner<InMemoryReadTx>;
  const pages = new LogPages(events, 5, 10, () => runner.lowWater());
  const ctx: RunnerContext<InMemoryReadTx> = {
    eventStore: events,
    readStore,
    pages,
    served: (_name, position) => calls.served.push(position),
    changed: () => calls.changed++,
    committed: () => {},
    stuck: () => calls.stuck++,
    damaged: () => calls.damaged++,
    leaseLost: () => calls.leaseLost++,
  };
  runner = new ProjectionRunner(def, ctx);
  cleanups.push(async () => {
    await runner.stop();
    pages.stop();
  });
  return { runner, calls };
}

async function seed(events: EventStore, n: number) {
  for (let i = 0; i < n; i++) await events.append(`s-${i % 3}`, [{ type: 'Added', data: {} }]);
}

const applied = (read: InMemoryReadStore) => [...read.reader('p').table<number>('applied').values()];

describe('projection runner', () => {
  it('starts on its first generation, applies batch by batch, reports itself, and stops', async () => {
    const events = createInMemoryEventStore();
    const read = createInMemoryReadStore();
    await seed(events, 12);
    const { runner, calls } = setup(events, read);
    expect(runner.state()).toBe('stopped');
    await runner.start();
    expect(runner.active).toBe(true);
    await vi.waitFor(() => expect(runner.position).toBe(12));
    expect(calls.served).toEqual([5, 10, 12]);
    expect(applied(read)).toEqual(Array(12).fill(1));
    await vi.waitFor(() => expect(runner.state()).toBe('live'));
    expect(runner.view()).toMatchObject({ name: 'p', state: 'live', record: { generation: 1, position: 12 } });
    expect(runner.lowWater()).toBe(13);

    await runner.stop();
    expect(runner.active).toBe(false);
    expect(runner.state()).toBe('stopped');
    expect(runner.lowWater()).toBe(Number.POSITIVE_INFINITY);
  });

  it('stops itself without a failure when another worker takes its lease, and writes nothing of the refused batch', async () => {
    let now = 0;
    const events = createInMemoryEventStore();
    const read = createInMemoryReadStore({ leases: true, clock: () => now });
    await seed(events, 5);
    let held: Gate | undefined;
    const { runner, calls } = setup(events, read, counting({ hold: () => held?.promise }));
    const lease = (await read.leases!.acquire('p', 'w1', 1000))!;
    await runner.start({ owner: 'w1', token: lease.token });
    await vi.waitFor(() => expect(runner.position).toBe(5));

    held = gate();
    const rebuilding = runner.rebuild().catch((e: unknown) => e);
    await vi.waitFor(async () => expect((await read.load('p'))!.rebuild).toBeDefined());
    await seed(events, 1);
    // The rebuild's batch is held inside its handlers while the lease passes to another worker.
    now += 1001;
    await read.leases!.acquire('p', 'w2', 1000);
    held.open();
    await expect(rebuilding).resolves.toMatchObject({ code: 'LEASE_LOST' });
    await vi.waitFor(() => expect(runner.active).toBe(false));
    expect(calls.leaseLost).toBe(1);
    expect(calls.stuck).toBe(0);
    expect(runner.state()).toBe('stopped');
    const record = (await read.load('p'))!;
    expect(record.failure).toBeUndefined();
    expect(record.position).toBe(5);
    expect(record.rebuild!.position).toBe(0);
  });

  it('records a failing event under its fence and holds the served checkpoint before it', async () => {
    const events = createInMemoryEventStore();
    const read = createInMemoryReadStore({ leases: true });
    await seed(events, 8);
    const { runner, calls } = setup(events, read, counting({ fail: (p) => p === 7 }));
    const lease = (await read.leases!.acquire('p', 'w1', 60_000))!;
    await runner.start({ owner: 'w1', token: lease.token });
    await vi.waitFor(() => expect(runner.state()).toBe('failed'));
    expect(runner.position).toBe(6);
    expect(calls.stuck).toBe(1);
    expect(runner.currentFailure()).toMatchObject({ position: 7, generation: 1, message: 'bad 7' });
    expect(runner.failedError()).toMatchObject({ code: 'PROJECTION_FAILED', details: { projection: 'p', position: 6 } });
    expect((await read.load('p'))!.failure).toMatchObject({ position: 7 });
  });

  it('fails its loops when told the read store is damaged', async () => {
    const events = createInMemoryEventStore();
    const read = createInMemoryReadStore();
    const { runner, calls } = setup(events, read);
    await runner.start();
    await vi.waitFor(() => expect(runner.state()).toBe('live'));
    runner.damage({ message: 'file is not a database', code: 'READ_STORE_CORRUPT', at: new Date().toISOString() });
    expect(runner.state()).toBe('failed');
    expect(runner.currentFailure()).toMatchObject({ code: 'READ_STORE_CORRUPT', generation: 1 });
    expect(calls.stuck).toBe(1);
  });
});
