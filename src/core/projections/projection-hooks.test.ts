// The two hooks workflows run on: a projection applying a whole batch at once, and work alongside a projection that
// runs only where (and while) the projection runs.
import { afterEach, describe, expect, it } from 'vitest';
import { createInMemoryEventStore } from '../in-memory-event-store.js';
import type { AlongsideContext, Projection } from './define-projection.js';
import { createInMemoryReadStore, type InMemoryReadTx } from './in-memory-read-store.js';
import { createProjector, type Projector } from './projector.js';
import { HandlerFailure } from './run-handlers.js';

const projectors: Projector[] = [];
afterEach(async () => {
  await Promise.all(projectors.splice(0).map((p) => p.stop()));
});

const until = async (check: () => boolean, ms = 3000) => {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
};

describe('Projection.runBatch', () => {
  it('receives whole batches, and a HandlerFailure commits the events before the culprit only', async () => {
    const events = createInMemoryEventStore();
    const read = createInMemoryReadStore();
    for (let i = 1; i <= 7; i++) await events.append(`s-${i}`, [{ type: 'Added', data: { n: i } }]);
    const batches: number[][] = [];
    const projection: Projection<InMemoryReadTx> = {
      name: 'whole',
      version: 1,
      handlers: { Added: () => {} },
      eventTypes: ['Added'],
      runBatch(batch, tx) {
        batches.push(batch.map((e) => e.position));
        batch.forEach((event, i) => {
          if ((event.data as { n: number }).n === 6) throw new HandlerFailure(i, new Error('six is refused'));
          tx.table<number>('seen').set(event.id, event.position);
        });
      },
    };
    const projector = createProjector({ eventStore: events, readStore: read, projections: [projection], batchSize: 4 });
    projectors.push(projector);
    await projector.start();
    await until(() => batches.length >= 3);
    await until(() => read.reader('whole').table('seen').size === 5);
    const [status] = await projector.status();
    expect(status.state).toBe('failed');
    expect(status.position).toBe(5);
    expect(status.lastError?.position).toBe(6);
    // The first batch whole, then the one holding the culprit, then only the events before it.
    expect(batches.slice(0, 3)).toEqual([[1, 2, 3, 4], [5, 6, 7], [5]]);
  });
});

describe('Projection.alongside', () => {
  function watched(log: string[]): Projection<InMemoryReadTx> {
    return {
      name: 'watched',
      version: 1,
      handlers: { Added: () => {} },
      eventTypes: ['Added'],
      async alongside({ signal, reader }: AlongsideContext) {
        log.push(reader === undefined ? 'no reader' : 'started');
        await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
        log.push('stopped');
      },
    };
  }

  it('runs from start until stop, and stop waits for it to end', async () => {
    const log: string[] = [];
    const projector = createProjector({
      eventStore: createInMemoryEventStore(),
      readStore: createInMemoryReadStore(),
      projections: [watched(log)],
    });
    await projector.start();
    await until(() => log.length === 1);
    expect(log).toEqual(['started']);
    await projector.stop();
    expect(log).toEqual(['started', 'stopped']);
  });

  it('runs on one worker at a time with leases, and moves with the lease', async () => {
    const events = createInMemoryEventStore();
    const read = createInMemoryReadStore({ leases: true });
    const logs = { a: [] as string[], b: [] as string[] };
    const a = createProjector({
      eventStore: events,
      readStore: read,
      projections: [watched(logs.a)],
      pollIntervalMs: 10,
      worker: { id: 'a', leaseTtlMs: 2000 },
    });
    const b = createProjector({
      eventStore: events,
      readStore: read,
      projections: [watched(logs.b)],
      pollIntervalMs: 10,
      worker: { id: 'b', leaseTtlMs: 2000 },
    });
    projectors.push(a, b);
    await a.start();
    await b.start();
    await until(() => logs.a.length === 1);
    await new Promise((r) => setTimeout(r, 300));
    expect(logs.b).toEqual([]);
    // The holder leaves: the work stops there and starts on the other worker.
    await a.stop();
    expect(logs.a).toEqual(['started', 'stopped']);
    await until(() => logs.b.length === 1, 10_000);
    expect(logs.b).toEqual(['started']);
  });
});

describe('Projection.firstRun', () => {
  it("'head' skips the history a first run finds, then follows; a second start resumes from its checkpoint", async () => {
    const events = createInMemoryEventStore();
    const read = createInMemoryReadStore();
    for (let i = 1; i <= 5; i++) await events.append(`s-${i}`, [{ type: 'Added', data: {} }]);
    const seen: number[] = [];
    const late: Projection<InMemoryReadTx> = {
      name: 'late',
      version: 1,
      handlers: { Added: (event) => void seen.push(event.position) },
      eventTypes: ['Added'],
      firstRun: 'head',
    };
    const first = createProjector({ eventStore: events, readStore: read, projections: [late], pollIntervalMs: 10 });
    projectors.push(first);
    await first.start();
    expect((await first.status())[0].position).toBe(5);
    await events.append('s-6', [{ type: 'Added', data: {} }]);
    await first.waitForPosition(6);
    await first.stop();
    await events.append('s-7', [{ type: 'Added', data: {} }]);
    const second = createProjector({ eventStore: events, readStore: read, projections: [late], pollIntervalMs: 10 });
    projectors.push(second);
    await second.start();
    await second.waitForPosition(7);
    expect(seen).toEqual([6, 7]);
  });
});

describe('BatchContext.replayThrough', () => {
  function recording(version: number, log: Array<[number[], number]>): Projection<InMemoryReadTx> {
    return {
      name: 'acting',
      version,
      handlers: { Added: () => {} },
      eventTypes: ['Added'],
      runBatch: (batch, _tx, { replayThrough }) => void log.push([batch.map((e) => e.position), replayThrough]),
    };
  }

  it('is 0 for the serving generation and the served checkpoint for a rebuild, with or without a raised version', async () => {
    const events = createInMemoryEventStore();
    const read = createInMemoryReadStore();
    for (let i = 1; i <= 4; i++) await events.append(`s-${i}`, [{ type: 'Added', data: {} }]);
    const v1: Array<[number[], number]> = [];
    const first = createProjector({ eventStore: events, readStore: read, projections: [recording(1, v1)] });
    projectors.push(first);
    await first.start();
    await first.waitForPosition(4);
    expect(v1).toEqual([[[1, 2, 3, 4], 0]]);
    // An operator's rebuild: the serving generation acted on 1..4, the rebuild replays them.
    v1.length = 0;
    await first.rebuild('acting');
    expect(v1).toEqual([[[1, 2, 3, 4], 4]]);
    await first.stop();
    // A raised version: the old generation stopped at 4, so the new one replays through 4 and acts after it.
    await events.append('s-5', [{ type: 'Added', data: {} }]);
    const v2: Array<[number[], number]> = [];
    const second = createProjector({ eventStore: events, readStore: read, projections: [recording(2, v2)] });
    projectors.push(second);
    await second.start();
    await second.waitForPosition(5);
    expect(v2).toEqual([[[1, 2, 3, 4, 5], 4]]);
    await events.append('s-6', [{ type: 'Added', data: {} }]);
    await second.waitForPosition(6);
    expect(v2[1]).toEqual([[6], 0]);
  });

  it('rejects a firstRun that is neither beginning nor head', () => {
    const bad = { ...recording(1, []), firstRun: 'Head' } as unknown as Projection<InMemoryReadTx>;
    expect(() =>
      createProjector({ eventStore: createInMemoryEventStore(), readStore: createInMemoryReadStore(), projections: [bad] }),
    ).toThrow(/firstRun/);
  });
});
