import { afterEach, describe, expect, it } from 'vitest';
import { createInMemoryEventStore } from '../in-memory-event-store.js';
import { defineProjection } from './define-projection.js';
import { createInMemoryReadStore, type InMemoryReadStore, type InMemoryReadTx } from './in-memory-read-store.js';
import type { ControlRequest } from './projection-store.js';
import { createProjector, type Projector } from './projector.js';

const totals = (fail?: (position: number) => boolean) =>
  defineProjection<InMemoryReadTx>({
    name: 'totals',
    version: 1,
    handlers: {
      Added: (event, tx) => {
        if (fail?.(event.position)) throw new Error(`cannot apply ${event.position}`);
        const t = tx.table<number>('sum');
        t.set('all', (t.get('all') ?? 0) + 1);
      },
    },
  });

const running: Projector[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((p) => p.stop()));
});

async function setup(fail?: (position: number) => boolean) {
  const events = createInMemoryEventStore();
  for (let i = 0; i < 20; i++) await events.append(`acc-${i % 3}`, [{ type: 'Added', data: {} }]);
  const read = createInMemoryReadStore();
  const projector = createProjector({
    eventStore: events,
    readStore: read,
    projections: [totals(fail)],
    pollIntervalMs: 5,
    controlPollIntervalMs: 5,
  });
  running.push(projector);
  await projector.start();
  return { events, read, projector };
}

async function settled(read: InMemoryReadStore, id: string): Promise<ControlRequest> {
  for (;;) {
    const r = await read.control!.get(id);
    if (r && r.state !== 'pending' && r.state !== 'taken') return r;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('control requests carried out by the projector', () => {
  it('rebuilds into a new generation when asked from outside, and marks the request done', async () => {
    const { read, projector } = await setup();
    await projector.waitForPosition(20);
    const before = (await read.load('totals'))!.generation;
    const request = await read.control!.request('totals', 'rebuild', 10_000);
    const done = await settled(read, request.id);
    expect(done.state).toBe('done');
    expect(done.takenBy).toBeTruthy();
    const after = (await read.load('totals'))!;
    expect(after.generation).toBeGreaterThan(before);
    expect(after.rebuild).toBeUndefined();
    expect(read.reader('totals').table<number>('sum').get('all')).toBe(20);
  });

  it('fails a request the operation refuses, with its code', async () => {
    const { read, projector } = await setup();
    await projector.waitForPosition(20);
    const request = await read.control!.request('totals', 'skip', 10_000);
    const done = await settled(read, request.id);
    expect(done.state).toBe('failed');
    expect(done.error?.code).toBe('INVALID_ARGUMENT');
  });

  it('skips a failed event when asked, and the projection goes on', async () => {
    const { read, projector } = await setup((position) => position === 7);
    await expect(projector.waitForPosition(20, { timeoutMs: 2000 })).rejects.toMatchObject({ code: 'PROJECTION_FAILED' });
    const request = await read.control!.request('totals', 'skip', 10_000);
    expect((await settled(read, request.id)).state).toBe('done');
    await projector.waitForPosition(20);
    expect(read.reader('totals').table<number>('sum').get('all')).toBe(19);
  });

  it('leaves a request for a projection not running here pending, and a cancelled one is never taken', async () => {
    const { read } = await setup();
    const other = await read.control!.request('elsewhere', 'rebuild', 10_000);
    const cancelled = await read.control!.request('totals', 'rebuild', 10_000);
    expect(await read.control!.cancel(cancelled.id)).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect((await read.control!.get(other.id))?.state).toBe('pending');
    expect((await read.control!.get(cancelled.id))?.state).toBe('cancelled');
    expect((await read.load('totals'))!.generation).toBe(1);
  });

  it('with leases, is carried out once, by the worker holding the projection', async () => {
    const events = createInMemoryEventStore();
    for (let i = 0; i < 10; i++) await events.append(`acc-${i}`, [{ type: 'Added', data: {} }]);
    const read = createInMemoryReadStore({ leases: true });
    const workers = ['worker-a', 'worker-b'].map((id) =>
      createProjector({
        eventStore: events,
        readStore: read,
        projections: [totals()],
        pollIntervalMs: 5,
        controlPollIntervalMs: 5,
        worker: { id, leaseTtlMs: 5000 },
      }),
    );
    running.push(...workers);
    await Promise.all(workers.map((w) => w.start()));
    let holder: string | undefined;
    while (!holder) {
      holder = (await read.leases!.list()).find((l) => l.projection === 'totals')?.owner;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const before = (await read.load('totals'))!.generation;
    const request = await read.control!.request('totals', 'rebuild', 10_000);
    const done = await settled(read, request.id);
    expect(done).toMatchObject({ state: 'done', takenBy: holder });
    // One rebuild: one new generation.
    expect((await read.load('totals'))!.generation).toBe(before + 1);
  });
});
