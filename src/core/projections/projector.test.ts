import { afterEach, describe, expect, it, vi } from 'vitest';
import { isChronicleError } from '../errors.js';
import type { EventStore, RecordedEvent } from '../event-store.js';
import { createInMemoryEventStore } from '../in-memory-event-store.js';
import { defineProjection } from './define-projection.js';
import { createInMemoryReadStore, type InMemoryReadStore, type InMemoryReadTx } from './in-memory-read-store.js';
import type { ProjectionStore } from './projection-store.js';
import { createProjector, type Projector } from './projector.js';

type Added = { amount: number; poison?: boolean };

// Counts applications per event id, so a repeat or a gap is visible.
function counting(
  name: string,
  options: { version?: number; fail?: (e: RecordedEvent) => boolean; delay?: () => Promise<void> } = {},
) {
  return defineProjection<InMemoryReadTx>({
    name,
    version: options.version ?? 1,
    handlers: {
      Added: async (event, tx) => {
        if (options.delay) await options.delay();
        if (options.fail?.(event)) throw new Error(`cannot apply ${event.position}`);
        const applied = tx.table<number>('applied');
        applied.set(event.id, (applied.get(event.id) ?? 0) + 1);
        const totals = tx.table<{ sum: number }>('totals');
        const row = totals.get('all') ?? { sum: 0 };
        row.sum += (event.data as Added).amount * (options.version ?? 1);
        totals.set('all', row);
      },
    },
  });
}

async function seed(store: EventStore, n: number, data: (i: number) => Added = () => ({ amount: 1 })) {
  for (let i = 0; i < n; i++) await store.append(`acc-${i % 7}`, [{ type: 'Added', data: data(i) }]);
  return store.headPosition();
}

const appliedOf = (read: InMemoryReadStore, name: string) => read.reader(name).table<number>('applied');
const sumOf = (read: InMemoryReadStore, name: string) => read.reader(name).table<{ sum: number }>('totals').get('all')?.sum ?? 0;

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

// Records every apply call, to see the batches and their checkpoints.
function recording<Tx>(inner: ProjectionStore<Tx, unknown>) {
  const applies: Array<{ name: string; checkpoint: number; withWork: boolean }> = [];
  const store: ProjectionStore<Tx, unknown> = {
    ...inner,
    apply(name, generation, work, checkpoint, after) {
      applies.push({ name, checkpoint, withWork: work !== undefined });
      return inner.apply(name, generation, work, checkpoint, after);
    },
  };
  return { store, applies };
}

const projectors: Projector[] = [];
function track(p: Projector) {
  projectors.push(p);
  return p;
}
afterEach(async () => {
  await Promise.all(projectors.splice(0).map((p) => p.stop()));
});

describe('projector', () => {
  it('projects every event and reports live status at the head', async () => {
    const events = createInMemoryEventStore();
    const read = createInMemoryReadStore();
    const head = await seed(events, 30);
    const projector = track(createProjector({ eventStore: events, readStore: read, projections: [counting('totals')] }));
    await projector.start();
    await projector.waitForPosition(head);
    expect(sumOf(read, 'totals')).toBe(30);
    const [status] = await projector.status();
    expect(status).toEqual({ name: 'totals', version: 1, position: head, lagEvents: 0, lagSeconds: 0, state: 'live' });
  });

  it('refuses a wait Node could not time, and answers at once when the projector is not running', async () => {
    const events = createInMemoryEventStore();
    const read = createInMemoryReadStore();
    const head = await seed(events, 5);
    const projector = track(createProjector({ eventStore: events, readStore: read, projections: [counting('totals')] }));
    const early = await projector.waitForPosition(head, { timeoutMs: 10_000 }).catch((e) => e);
    expect(isChronicleError(early, 'CLOSED')).toBe(true);
    await projector.start();
    await projector.waitForPosition(head);
    const huge = await projector.waitForPosition(head + 1, { timeoutMs: 2 ** 31 }).catch((e) => e);
    expect(isChronicleError(huge, 'INVALID_ARGUMENT')).toBe(true);
    await projector.stop();
    // A position already served still resolves; a later one cannot be reached by a stopped projector.
    await projector.waitForPosition(head);
    // CLOSED, not TIMEOUT: it answers at once instead of waiting out the 10 s.
    const late = await projector.waitForPosition(head + 1, { timeoutMs: 10_000 }).catch((e) => e);
    expect(isChronicleError(late, 'CLOSED')).toBe(true);
  });

  it('resolves rebuild() only after its own swap, even with a retry queued just before it', async () => {
    const events = createInMemoryEventStore();
    const read = createInMemoryReadStore();
    const head = await seed(events, 10);
    let failing = true;
    const projector = track(
      createProjector({
        eventStore: events,
        readStore: read,
        projections: [counting('totals', { fail: (e) => failing && e.position === 5 })],
      }),
    );
    await projector.start();
    await expect(projector.waitForPosition(head, { timeoutMs: 2000 })).rejects.toMatchObject({ code: 'PROJECTION_FAILED' });
    failing = false;
    void projector.retry('totals');
    await projector.rebuild('totals');
    const [status] = await projector.status();
    expect(status.rebuild).toBeUndefined();
    expect(read.reader('totals').table<number>('applied').size).toBe(10);
  });

  it('commits one checkpoint per batch', async () => {
    const events = createInMemoryEventStore();
    const { store, applies } = recording(createInMemoryReadStore());
    await seed(events, 25);
    const projector = track(
      createProjector({ eventStore: events, readStore: store, projections: [counting('totals')], batchSize: 10 }),
    );
    await projector.start();
    await projector.waitForPosition(25);
    expect(applies.map((a) => a.checkpoint)).toEqual([10, 20, 25]);
  });

  it('applies every event exactly once across stop and start, even mid catch-up', async () => {
    const events = createInMemoryEventStore();
    const read = createInMemoryReadStore();
    await seed(events, 200);
    const slow = () => new Promise<void>((r) => setImmediate(r));
    const first = createProjector({
      eventStore: events,
      readStore: read,
      projections: [counting('totals', { delay: slow })],
      batchSize: 7,
    });
    await first.start();
    await first.waitForPosition(50);
    await first.stop();
    const stoppedAt = (await read.load('totals'))!.position;
    expect(stoppedAt).toBeGreaterThanOrEqual(50);
    expect(stoppedAt).toBeLessThan(200);
    await seed(events, 100);

    const second = track(
      createProjector({ eventStore: events, readStore: read, projections: [counting('totals')], batchSize: 7 }),
    );
    await second.start();
    await second.waitForPosition(300);
    const applied = appliedOf(read, 'totals');
    expect(applied.size).toBe(300);
    expect([...applied.values()].every((n) => n === 1)).toBe(true);
    expect(sumOf(read, 'totals')).toBe(300);
  });

  it('advances the checkpoint over events a projection does not handle', async () => {
    const events = createInMemoryEventStore();
    const read = createInMemoryReadStore();
    await seed(events, 3);
    for (let i = 0; i < 20; i++) await events.append('other-1', [{ type: 'Ignored', data: {} }]);
    const projector = track(
      createProjector({ eventStore: events, readStore: read, projections: [counting('totals')], batchSize: 5 }),
    );
    await projector.start();
    await projector.waitForPosition(23, { timeoutMs: 1000 });
    expect((await read.load('totals'))!.position).toBe(23);
  });

  it('stops only the failing projection, keeps the events before the culprit, and reports it', async () => {
    const events = createInMemoryEventStore();
    const read = createInMemoryReadStore();
    await seed(events, 20, (i) => ({ amount: 1, poison: i === 12 }));
    const bad = counting('bad', { fail: (e) => (e.data as Added).poison === true });
    const good = counting('good');
    const projector = track(createProjector({ eventStore: events, readStore: read, projections: [bad, good], batchSize: 100 }));
    await projector.start();
    await projector.waitForPosition(20, { projections: ['good'] });
    await vi.waitFor(async () => expect((await projector.status())[0].state).toBe('failed'));

    const [badStatus, goodStatus] = await projector.status();
    const poison = (await events.readAll({ from: 13, limit: 1 }))[0];
    expect(badStatus).toMatchObject({ position: 12, lagEvents: 8, state: 'failed' });
    expect(badStatus.lastError).toEqual({
      message: 'cannot apply 13',
      eventId: poison.id,
      position: 13,
      type: 'Added',
      generation: 1,
    });
    expect(goodStatus).toMatchObject({ position: 20, state: 'live' });
    expect(goodStatus.lastError).toBeUndefined();
    expect(sumOf(read, 'bad')).toBe(12);
    expect((await read.load('bad'))!.failure?.eventId).toBe(poison.id);

    const err = await projector.waitForPosition(20).catch((e: unknown) => e);
    expect(isChronicleError(err, 'PROJECTION_FAILED')).toBe(true);
    await projector.waitForPosition(12, { projections: ['bad'] });
  });

  it('rejects a pending wait when the projection it needs fails', async () => {
    const events = createInMemoryEventStore();
    const read = createInMemoryReadStore();
    const projector = track(
      createProjector({
        eventStore: events,
        readStore: read,
        projections: [counting('bad', { fail: (e) => (e.data as Added).poison === true })],
      }),
    );
    await projector.start();
    const waiting = projector.waitForPosition(2).catch((e: unknown) => e);
    await seed(events, 2, (i) => ({ amount: 1, poison: i === 1 }));
    expect(isChronicleError(await waiting, 'PROJECTION_FAILED')).toBe(true);
  });

  it('retries a failed projection from the failing event', async () => {
    const events = createInMemoryEventStore();
    const read = createInMemoryReadStore();
    let broken = true;
    await seed(events, 10, (i) => ({ amount: 1, poison: i === 4 }));
    const projector = track(
      createProjector({
        eventStore: events,
        readStore: read,
        projections: [counting('totals', { fail: (e) => broken && (e.data as Added).poison === true })],
      }),
    );
    await projector.start();
    await vi.waitFor(async () => expect((await projector.status())[0].state).toBe('failed'));
    await projector.retry('totals');
    await vi.waitFor(async () => expect((await projector.status())[0].position).toBe(4));
    expect((await projector.status())[0].state).toBe('failed');

    broken = false;
    await projector.retry('totals');
    await projector.waitForPosition(10);
    const [status] = await projector.status();
    expect(status.state).toBe('live');
    expect(status.lastError).toBeUndefined();
    expect([...appliedOf(read, 'totals').values()]).toEqual(Array(10).fill(1));
    expect((await read.load('totals'))!.failure).toBeUndefined();
  });

  it('skips the failing event on request and continues after it', async () => {
    const events = createInMemoryEventStore();
    const read = createInMemoryReadStore();
    await seed(events, 10, (i) => ({ amount: 1, poison: i === 4 }));
    const projector = track(
      createProjector({
        eventStore: events,
        readStore: read,
        projections: [counting('totals', { fail: (e) => (e.data as Added).poison === true })],
      }),
    );
    await expect(projector.skip('totals')).rejects.toMatchObject({ code: 'CLOSED' });
    await projector.start();
    await expect(projector.skip('totals')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await vi.waitFor(async () => expect((await projector.status())[0].state).toBe('failed'));
    await projector.skip('totals');
    await projector.waitForPosition(10);
    expect(sumOf(read, 'totals')).toBe(9);
    const skipped = await read.skipped('totals');
    expect(skipped).toHaveLength(1);
    expect(skipped[0]).toMatchObject({ position: 5, type: 'Added', message: 'cannot apply 5' });
    expect((await projector.status())[0].state).toBe('live');
  });

  it('resolves waitForPosition from the apply path and times out with TIMEOUT', async () => {
    const events = createInMemoryEventStore();
    const read = createInMemoryReadStore();
    const projector = track(createProjector({ eventStore: events, readStore: read, projections: [counting('totals')] }));
    await projector.start();
    const waiting = projector.waitForPosition(3, { timeoutMs: 2000 });
    await seed(events, 3);
    await waiting;
    expect(sumOf(read, 'totals')).toBe(3);

    const started = Date.now();
    const err = await projector.waitForPosition(10, { timeoutMs: 50 }).catch((e: unknown) => e);
    expect(isChronicleError(err, 'TIMEOUT')).toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(45);
    expect((err as { details: Record<string, unknown> }).details.behind).toEqual({ totals: 3 });
    await expect(projector.waitForPosition(1, { projections: ['nope'] })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(projector.waitForPosition(-1)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it('rejects pending waits with CLOSED when stopped', async () => {
    const events = createInMemoryEventStore();
    const projector = createProjector({
      eventStore: events,
      readStore: createInMemoryReadStore(),
      projections: [counting('totals')],
    });
    await projector.start();
    const waiting = projector.waitForPosition(5).catch((e: unknown) => e);
    await projector.stop();
    expect(isChronicleError(await waiting, 'CLOSED')).toBe(true);
  });

  it('rebuilds into a fresh generation while the current one keeps serving, then swaps', async () => {
    const events = createInMemoryEventStore();
    const read = createInMemoryReadStore();
    await seed(events, 20);
    let gate: Promise<void> | undefined;
    const projector = track(
      createProjector({
        eventStore: events,
        readStore: read,
        projections: [counting('totals', { delay: () => gate ?? Promise.resolve() })],
        batchSize: 5,
      }),
    );
    await projector.start();
    await projector.waitForPosition(20);
    expect((await read.load('totals'))!.generation).toBe(1);

    const open = deferred();
    gate = open.promise;
    const rebuilt = projector.rebuild('totals');
    await vi.waitFor(async () => expect((await projector.status())[0].state).toBe('rebuilding'));
    const [during] = await projector.status();
    expect(during.rebuild).toEqual({ version: 1, position: 0, target: 20 });
    expect(sumOf(read, 'totals')).toBe(20);
    expect((await read.load('totals'))!.generation).toBe(1);

    gate = undefined;
    open.resolve();
    await rebuilt;
    const record = (await read.load('totals'))!;
    expect(record).toMatchObject({ generation: 2, position: 20, version: 1 });
    expect(record.rebuild).toBeUndefined();
    expect(sumOf(read, 'totals')).toBe(20);
    expect((await projector.status())[0].state).toBe('live');

    await seed(events, 2);
    await projector.waitForPosition(22);
    expect(sumOf(read, 'totals')).toBe(22);
  });

  it('keeps the served generation live during a rebuild: a later event is served and waited for before the swap', async () => {
    const events = createInMemoryEventStore();
    const read = createInMemoryReadStore();
    await seed(events, 200);
    let slow = false;
    const projector = track(
      createProjector({
        eventStore: events,
        readStore: read,
        projections: [counting('totals', { delay: () => (slow ? new Promise((r) => setTimeout(r, 5)) : Promise.resolve()) })],
        batchSize: 20,
      }),
    );
    await projector.start();
    await projector.waitForPosition(200);
    slow = true;
    let swapped = false;
    const rebuilt = projector.rebuild('totals').then(() => {
      swapped = true;
    });
    rebuilt.catch(() => {});
    await vi.waitFor(async () => expect((await projector.status())[0].state).toBe('rebuilding'));
    const head = await seed(events, 1);
    await projector.waitForPosition(head, { timeoutMs: 800 });
    expect(swapped).toBe(false);
    const during = (await read.load('totals'))!;
    expect(during).toMatchObject({ generation: 1, position: head });
    expect(during.rebuild!.position).toBeLessThan(head);
    expect(sumOf(read, 'totals')).toBe(201);
    const [status] = await projector.status();
    expect(status).toMatchObject({ position: head, lagEvents: 0, state: 'rebuilding' });
    expect(status.rebuild!.target).toBe(head);

    await rebuilt;
    expect((await read.load('totals'))!).toMatchObject({ generation: 2, position: head });
    expect([...appliedOf(read, 'totals').values()]).toEqual(Array(201).fill(1));
    expect(sumOf(read, 'totals')).toBe(201);
    expect((await projector.status())[0].state).toBe('live');
  });

  it('isolates failures between the served generation and the rebuild, and says which one failed', async () => {
    const events = createInMemoryEventStore();
    const read = createInMemoryReadStore();
    await seed(events, 40);
    let failing: (e: RecordedEvent) => boolean = () => false;
    let delayMs = 1;
    const projector = track(
      createProjector({
        eventStore: events,
        readStore: read,
        projections: [counting('totals', { fail: (e) => failing(e), delay: () => new Promise((r) => setTimeout(r, delayMs)) })],
        batchSize: 5,
      }),
    );
    await projector.start();
    await projector.waitForPosition(40);

    // The rebuild fails (event 7 is only replayed by it): the served generation goes on.
    failing = (e) => e.position === 7;
    const failed = await projector.rebuild('totals').catch((e: unknown) => e);
    expect(isChronicleError(failed, 'PROJECTION_FAILED')).toBe(true);
    let [status] = await projector.status();
    expect(status).toMatchObject({
      state: 'live',
      position: 40,
      rebuild: { position: 6, failed: true },
      lastError: { position: 7, generation: 2 },
    });
    await seed(events, 1);
    await projector.waitForPosition(41);
    expect(sumOf(read, 'totals')).toBe(41);
    failing = () => false;
    await projector.retry('totals');
    await vi.waitFor(async () => expect((await read.load('totals'))!).toMatchObject({ generation: 2, position: 41 }));
    expect([...appliedOf(read, 'totals').values()]).toEqual(Array(41).fill(1));

    // The served generation fails on a new event (only the first time): the rebuild goes on, swaps in, applies it.
    let failures = 0;
    failing = (e) => e.position === 42 && ++failures === 1;
    delayMs = 5;
    const rebuilt = projector.rebuild('totals');
    await seed(events, 1);
    await vi.waitFor(async () => expect((await projector.status())[0].state).toBe('failed'));
    [status] = await projector.status();
    expect(status).toMatchObject({ position: 41, lastError: { position: 42, generation: 2 } });
    expect(status.rebuild?.failed).toBeUndefined();
    await expect(projector.waitForPosition(42)).rejects.toMatchObject({ code: 'PROJECTION_FAILED' });
    await rebuilt;
    await projector.waitForPosition(42);
    expect((await projector.status())[0]).toMatchObject({ state: 'live', position: 42, version: 1 });
    expect((await read.load('totals'))!).toMatchObject({ generation: 3, position: 42 });
    expect([...appliedOf(read, 'totals').values()]).toEqual(Array(42).fill(1));
  });

  it('resumes an interrupted rebuild from its own checkpoint after a restart', async () => {
    const events = createInMemoryEventStore();
    const read = createInMemoryReadStore();
    await seed(events, 40);
    const first = createProjector({ eventStore: events, readStore: read, projections: [counting('totals')], batchSize: 5 });
    await first.start();
    await first.waitForPosition(40);
    let gate: Promise<void> | undefined;
    const open = deferred();
    let applied = 0;
    const slow = createProjector({
      eventStore: events,
      readStore: read,
      projections: [counting('totals', { delay: () => (++applied > 12 ? (gate ?? Promise.resolve()) : Promise.resolve()) })],
      batchSize: 5,
    });
    await first.stop();
    await slow.start();
    gate = open.promise;
    const rebuilt = slow.rebuild('totals').catch((e: unknown) => e);
    await vi.waitFor(async () => expect((await read.load('totals'))!.rebuild?.position).toBe(10));
    const stopping = slow.stop();
    open.resolve();
    await stopping;
    expect(isChronicleError(await rebuilt, 'CLOSED')).toBe(true);
    const interrupted = (await read.load('totals'))!;
    expect(interrupted).toMatchObject({ generation: 1, position: 40 });
    expect(interrupted.rebuild!.position).toBeGreaterThanOrEqual(10);

    const again = track(
      createProjector({ eventStore: events, readStore: read, projections: [counting('totals')], batchSize: 5 }),
    );
    await again.start();
    await vi.waitFor(async () => expect((await read.load('totals'))!.generation).toBe(2));
    expect([...appliedOf(read, 'totals').values()]).toEqual(Array(40).fill(1));
    expect(sumOf(read, 'totals')).toBe(40);
  });

  it('marks a projection whose setup throws as failed without stopping the others', async () => {
    const events = createInMemoryEventStore();
    const read = createInMemoryReadStore();
    await seed(events, 3);
    const broken = defineProjection<InMemoryReadTx>({
      name: 'broken',
      version: 1,
      setup: () => {
        throw new Error('bad schema');
      },
      handlers: { Added: () => {} },
    });
    const projector = track(createProjector({ eventStore: events, readStore: read, projections: [broken, counting('totals')] }));
    await projector.start();
    await projector.waitForPosition(3, { projections: ['totals'] });
    const [status] = await projector.status();
    expect(status).toMatchObject({ name: 'broken', state: 'failed', lastError: { message: 'bad schema' } });
    await expect(projector.waitForPosition(3)).rejects.toMatchObject({ code: 'PROJECTION_FAILED' });
  });

  it('rebuilds automatically when the defined version is raised', async () => {
    const events = createInMemoryEventStore();
    const read = createInMemoryReadStore();
    await seed(events, 10);
    const v1 = createProjector({ eventStore: events, readStore: read, projections: [counting('totals')] });
    await v1.start();
    await v1.waitForPosition(10);
    await v1.stop();
    expect(sumOf(read, 'totals')).toBe(10);

    const v2 = track(createProjector({ eventStore: events, readStore: read, projections: [counting('totals', { version: 2 })] }));
    const changes: number[] = [];
    v2.onChange((c) => changes.push(c.position));
    await v2.start();
    await vi.waitFor(async () => expect((await v2.status())[0].version).toBe(2));
    expect(sumOf(read, 'totals')).toBe(20);
    expect((await read.load('totals'))!.generation).toBe(2);
    expect(changes).toContain(10);
  });

  it('refuses a read store built by a newer version', async () => {
    const events = createInMemoryEventStore();
    const read = createInMemoryReadStore();
    const v2 = createProjector({ eventStore: events, readStore: read, projections: [counting('totals', { version: 2 })] });
    await v2.start();
    await v2.stop();
    const v1 = track(createProjector({ eventStore: events, readStore: read, projections: [counting('totals')] }));
    await v1.start();
    const [status] = await v1.status();
    expect(status.state).toBe('failed');
    expect(status.lastError?.message).toMatch(/newer than the defined 1/);
  });

  it('reports lag in events and seconds while stopped', async () => {
    const events = createInMemoryEventStore();
    const read = createInMemoryReadStore();
    const projector = createProjector({ eventStore: events, readStore: read, projections: [counting('totals')] });
    await projector.start();
    await seed(events, 2);
    await projector.waitForPosition(2);
    await projector.stop();
    await seed(events, 5);
    await new Promise((r) => setTimeout(r, 30));
    const [status] = await projector.status();
    expect(status).toMatchObject({ position: 2, lagEvents: 5, state: 'stopped' });
    expect(status.lagSeconds).toBeGreaterThanOrEqual(0.02);
    expect(status.lagSeconds).toBeLessThan(5);
  });

  it('notifies onChange after each committed batch until unsubscribed', async () => {
    const events = createInMemoryEventStore();
    const projector = track(
      createProjector({
        eventStore: events,
        readStore: createInMemoryReadStore(),
        projections: [counting('totals')],
        batchSize: 4,
      }),
    );
    await seed(events, 10);
    const changes: Array<{ projection: string; position: number }> = [];
    const off = projector.onChange((c) => changes.push(c));
    await projector.start();
    await projector.waitForPosition(10);
    expect(changes).toEqual([4, 8, 10].map((position) => ({ projection: 'totals', position })));
    off();
    await seed(events, 1);
    await projector.waitForPosition(11);
    expect(changes).toHaveLength(3);
  });

  it('shares one read store between two projectors: each event applied once, both reach the head', async () => {
    const events = createInMemoryEventStore();
    const read = createInMemoryReadStore();
    await seed(events, 300);
    const yieldOnce = () => new Promise<void>((r) => setImmediate(r));
    const conflicts: number[] = [];
    const workers = [0, 1].map((i) => {
      const { store, applies } = recording(read);
      const counted: ProjectionStore<InMemoryReadTx, unknown> = {
        ...store,
        apply: (...args) =>
          store.apply(...args).catch((err: unknown) => {
            if (isChronicleError(err, 'CONCURRENCY_CONFLICT')) conflicts[i] = (conflicts[i] ?? 0) + 1;
            throw err;
          }),
      };
      const projector = track(
        createProjector({
          eventStore: events,
          readStore: counted,
          projections: [counting('a', { delay: yieldOnce }), counting('b')],
          batchSize: 7,
        }),
      );
      return { projector, applies };
    });
    const changes: number[] = [];
    workers[1].projector.onChange((c) => c.projection === 'a' && changes.push(c.position));
    await Promise.all(workers.map((w) => w.projector.start()));
    await Promise.all(workers.map((w) => w.projector.waitForPosition(300, { timeoutMs: 5000 })));
    await seed(events, 50);
    await Promise.all(workers.map((w) => w.projector.waitForPosition(350, { timeoutMs: 5000 })));

    for (const name of ['a', 'b']) {
      expect(appliedOf(read, name).size).toBe(350);
      expect([...appliedOf(read, name).values()].every((n) => n === 1)).toBe(true);
      expect(sumOf(read, name)).toBe(350);
    }
    for (const { projector } of workers) {
      expect((await projector.status()).map((s) => [s.name, s.position, s.state])).toEqual([
        ['a', 350, 'live'],
        ['b', 350, 'live'],
      ]);
    }
    // They really raced, and each committed part of the work.
    expect(conflicts.reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    for (const { applies } of workers) expect(applies.length).toBeGreaterThan(0);
    expect(changes.at(-1)).toBe(350);
  });

  it('settles the waits of a projector whose batches another one keeps applying first', async () => {
    const events = createInMemoryEventStore();
    const read = createInMemoryReadStore();
    const fast = track(createProjector({ eventStore: events, readStore: read, projections: [counting('totals')] }));
    // Every batch of the slow one takes long enough that the fast one has committed it already.
    const slow = track(
      createProjector({
        eventStore: events,
        readStore: read,
        projections: [counting('totals', { delay: () => new Promise((r) => setTimeout(r, 20)) })],
      }),
    );
    await fast.start();
    await slow.start();
    const waiting = slow.waitForPosition(40, { timeoutMs: 5000 });
    await seed(events, 40);
    await waiting;
    await fast.waitForPosition(40);
    expect([...appliedOf(read, 'totals').values()]).toEqual(Array(40).fill(1));
    expect((await slow.status())[0]).toMatchObject({ position: 40, state: 'live' });
  });

  it('rebuilds once when two projectors raise the version together', async () => {
    const events = createInMemoryEventStore();
    const read = createInMemoryReadStore();
    await seed(events, 60);
    const v1 = createProjector({ eventStore: events, readStore: read, projections: [counting('totals')], batchSize: 5 });
    await v1.start();
    await v1.waitForPosition(60);
    await v1.stop();

    const yieldOnce = () => new Promise<void>((r) => setImmediate(r));
    const v2 = [0, 1].map(() =>
      track(
        createProjector({
          eventStore: events,
          readStore: read,
          projections: [counting('totals', { version: 2, delay: yieldOnce })],
          batchSize: 5,
        }),
      ),
    );
    await Promise.all(v2.map((p) => p.start()));
    for (const p of v2) await vi.waitFor(async () => expect((await p.status())[0]).toMatchObject({ version: 2, state: 'live' }));
    await seed(events, 5);
    await Promise.all(v2.map((p) => p.waitForPosition(65)));
    expect((await read.load('totals'))!).toMatchObject({ version: 2, position: 65 });
    expect((await read.load('totals'))!.rebuild).toBeUndefined();
    expect([...appliedOf(read, 'totals').values()]).toEqual(Array(65).fill(1));
    expect(sumOf(read, 'totals')).toBe(130);
  });

  it('reads each page of the log once for all the projections positioned on it', async () => {
    const inner = createInMemoryEventStore();
    const pageReads: number[] = [];
    const events: EventStore = {
      ...inner,
      readAll: (options) => {
        if (options?.limit === 10) pageReads.push(options.from ?? 0);
        return inner.readAll(options);
      },
    };
    const read = createInMemoryReadStore();
    await seed(inner, 100);
    const projector = track(
      createProjector({
        eventStore: events,
        readStore: read,
        projections: [counting('a'), counting('b'), counting('c')],
        batchSize: 10,
      }),
    );
    await projector.start();
    await projector.waitForPosition(100);
    const pages = pageReads.filter((from) => from <= 100);
    expect(new Set(pages).size).toBe(10);
    expect(pages).toHaveLength(10);
    for (const name of ['a', 'b', 'c']) expect([...appliedOf(read, name).values()]).toEqual(Array(100).fill(1));
  });

  it('keeps projections at different positions independent: one catching up from 0 beside live ones', async () => {
    const events = createInMemoryEventStore();
    const read = createInMemoryReadStore();
    await seed(events, 50);
    const first = createProjector({ eventStore: events, readStore: read, projections: [counting('a')], batchSize: 8 });
    await first.start();
    await first.waitForPosition(50);
    await first.stop();

    const slow = () => new Promise<void>((r) => setTimeout(r, 1));
    const projector = track(
      createProjector({
        eventStore: events,
        readStore: read,
        projections: [counting('a'), counting('late', { delay: slow }), counting('bad', { fail: (e) => e.position === 60 })],
        batchSize: 8,
      }),
    );
    await projector.start();
    const appending = seed(events, 30);
    await projector.waitForPosition(30, { projections: ['late'] });
    await appending;
    await projector.waitForPosition(80, { projections: ['a', 'late'] });
    await vi.waitFor(async () => expect((await projector.status())[2]).toMatchObject({ state: 'failed', position: 59 }));
    for (const name of ['a', 'late']) expect([...appliedOf(read, name).values()]).toEqual(Array(80).fill(1));
    expect(appliedOf(read, 'bad').size).toBe(59);
  });

  it('tells a source with settled how far every projection has committed, holding it at a failed event until skipped', async () => {
    const events = createInMemoryEventStore();
    const read = createInMemoryReadStore();
    await seed(events, 30, (i) => ({ amount: 1, poison: i === 19 }));
    const told: number[] = [];
    const source = {
      readAll: events.readAll.bind(events),
      subscribe: events.subscribe.bind(events),
      headPosition: events.headPosition.bind(events),
      settled: (position: number) => told.push(position),
    };
    const bad = counting('bad', { fail: (e) => (e.data as Added).poison === true });
    const projector = track(
      createProjector({ eventStore: source, readStore: read, projections: [bad, counting('good')], batchSize: 7 }),
    );
    await projector.start();
    await projector.waitForPosition(30, { projections: ['good'] });
    await vi.waitFor(async () => expect((await projector.status())[0].state).toBe('failed'));
    // Never past the failed projection's checkpoint, never moving back.
    expect(told.length).toBeGreaterThan(0);
    expect(told.at(-1)).toBe(19);
    expect(told).toEqual([...told].sort((a, b) => a - b));
    expect(new Set(told).size).toBe(told.length);
    await projector.skip('bad');
    await projector.waitForPosition(30);
    await vi.waitFor(() => expect(told.at(-1)).toBe(30));
  });

  it('does not hold settled back for a rebuild reading from further back', async () => {
    const events = createInMemoryEventStore();
    const read = createInMemoryReadStore();
    await seed(events, 10);
    const told: number[] = [];
    const source = {
      readAll: events.readAll.bind(events),
      subscribe: events.subscribe.bind(events),
      headPosition: events.headPosition.bind(events),
      settled: (position: number) => told.push(position),
    };
    // Old events stay blocked once `hold` is set: only the rebuild meets them again.
    let hold = false;
    const gate = deferred();
    const slow = defineProjection<InMemoryReadTx>({
      name: 'slow',
      version: 1,
      handlers: {
        Added: async (event, tx) => {
          if (hold && event.position <= 10) await gate.promise;
          tx.table<number>('applied').set(event.id, 1);
        },
      },
    });
    const projector = track(createProjector({ eventStore: source, readStore: read, projections: [slow] }));
    await projector.start();
    await projector.waitForPosition(10);
    hold = true;
    const rebuilt = projector.rebuild('slow');
    await seed(events, 5);
    await projector.waitForPosition(15);
    await vi.waitFor(() => expect(told.at(-1)).toBe(15));
    gate.resolve();
    await rebuilt;
  });

  it('rejects duplicate projection names and bad options', () => {
    const events = createInMemoryEventStore();
    const readStore = createInMemoryReadStore();
    expect(() => createProjector({ eventStore: events, readStore, projections: [counting('a'), counting('a')] })).toThrow(
      /twice/,
    );
    expect(() => createProjector({ eventStore: events, readStore, projections: [], batchSize: 0 })).toThrow(/batchSize/);
  });
});
