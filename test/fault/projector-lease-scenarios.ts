// Projection-worker fault scenarios written against the read-store port, so every store with leases runs the same
// ones: the in-memory store here (projector-fencing.test.ts, projector-failover.test.ts), PostgreSQL with a harness
// whose projection writes through SqlReadTx.
//   fencing: a worker whose batch is paused mid-apply while its lease passes to another can never commit it.
//   failover: a worker that dies without releasing anything has its projections taken over within 5 s, from the
//   checkpoints, with no event lost or applied twice.
import {
  ChronicleError,
  createProjector,
  type EventStore,
  type Projection,
  type ProjectionLeases,
  type ProjectionStore,
  type Projector,
  type RecordedEvent,
} from 'chronicle-es';
import { expect, vi } from 'vitest';

/** One event as a projection applied it: how many times, and by which worker (the last one). */
export type Applied = { count: number; worker: string };

/** How a scenario reaches one kind of read store. */
export type LeaseScenarioHarness<Tx> = {
  eventStore: EventStore;
  /** A handle on the shared read store, as one worker process would open it (with `leases`); the scenario closes it. */
  openReadStore(): ProjectionStore<Tx, unknown> | Promise<ProjectionStore<Tx, unknown>>;
  /**
   * A projection of the `Added` events that records, per event id, how many times it was applied and by `worker`;
   * `hold` is awaited before each event is applied (undefined: go on).
   */
  projection(name: string, worker: string, hold?: (event: RecordedEvent) => Promise<void> | undefined): Projection<Tx>;
  /** Every application recorded by `projection(name)` so far, read through `store`. */
  applied(store: ProjectionStore<Tx, unknown>, name: string): Promise<Map<string, Applied>>;
};

type Mode = 'ok' | 'hang' | 'dead';

/**
 * Wraps a worker's read store so a test can cut it off: 'leases' makes only its lease calls hang (a worker whose
 * heartbeats stopped getting through, while a batch of its own is still inside apply); 'all' makes every call hang,
 * as for a process that died. `heal` lets hung calls through; `bury` fails them, and every later call, with CLOSED.
 * Every apply's outcome is recorded.
 */
export function severable<Tx, R>(inner: ProjectionStore<Tx, R>) {
  let leasesMode: Mode = 'ok';
  let storeMode: Mode = 'ok';
  let release: Array<(go: boolean) => void> = [];
  const applies: Array<{ ok: boolean; code?: string }> = [];
  const gated =
    (mode: () => Mode) =>
    async <T>(call: () => Promise<T>): Promise<T> => {
      if (mode() === 'hang') {
        const go = await new Promise<boolean>((resolve) => release.push(resolve));
        if (!go) throw new ChronicleError('CLOSED', 'this worker is dead');
      }
      if (mode() === 'dead') throw new ChronicleError('CLOSED', 'this worker is dead');
      return call();
    };
  const viaStore = gated(() => storeMode);
  const viaLeases = gated(() => (storeMode === 'ok' ? leasesMode : storeMode));
  const leases = inner.leases;
  const store: ProjectionStore<Tx, R> = {
    load: (name) => viaStore(() => inner.load(name)),
    list: () => viaStore(() => inner.list()),
    apply: (name, generation, work, checkpoint, after, fence) =>
      viaStore(() => inner.apply(name, generation, work, checkpoint, after, fence)).then(
        () => {
          applies.push({ ok: true });
        },
        (err: unknown) => {
          applies.push({ ok: false, code: (err as { code?: string }).code });
          throw err;
        },
      ),
    beginGeneration: (name, version, setup, fence) => viaStore(() => inner.beginGeneration(name, version, setup, fence)),
    swapGeneration: (name, generation, replacing, fence) =>
      viaStore(() => inner.swapGeneration(name, generation, replacing, fence)),
    setFailure: (name, failure, fence) => viaStore(() => inner.setFailure(name, failure, fence)),
    skip: (name, generation, failure, fence) => viaStore(() => inner.skip(name, generation, failure, fence)),
    skipped: (name) => viaStore(() => inner.skipped(name)),
    reader: (name) => inner.reader(name),
    close: () => inner.close(),
    ...(leases && {
      leases: {
        heartbeat: (worker, ttlMs) => viaLeases(() => leases.heartbeat(worker, ttlMs)),
        acquire: (projection, worker, ttlMs) => viaLeases(() => leases.acquire(projection, worker, ttlMs)),
        release: (projection, fence) => viaLeases(() => leases.release(projection, fence)),
        list: () => viaLeases(() => leases.list()),
      } satisfies ProjectionLeases,
    }),
  };
  const settle = (go: boolean) => {
    const pending = release;
    release = [];
    for (const resolve of pending) resolve(go);
  };
  return {
    store,
    applies,
    sever(what: 'leases' | 'all') {
      if (what === 'leases') leasesMode = 'hang';
      else storeMode = 'hang';
    },
    heal() {
      leasesMode = 'ok';
      storeMode = 'ok';
      settle(true);
    },
    bury() {
      leasesMode = 'dead';
      storeMode = 'dead';
      settle(false);
    },
  };
}

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

async function append(store: EventStore, n: number): Promise<number> {
  for (let i = 0; i < n; i++) await store.append(`acc-${i % 7}`, [{ type: 'Added', data: { i } }]);
  return store.headPosition();
}

const positionsBy = (applied: Map<string, Applied>, worker: string, events: readonly RecordedEvent[]) =>
  events.filter((e) => applied.get(e.id)?.worker === worker).map((e) => e.position);

/**
 * Worker A holds the projection; its second batch is paused inside a handler; its lease calls stop getting through, so
 * the lease expires and worker B takes it over and commits that batch itself. Then A's batch resumes: its commit must
 * be refused with LEASE_LOST (not merely lose a compare-and-set race), nothing of it may be written, A must stop the
 * projection without calling it failed, and B's rows must stand with every event applied exactly once.
 */
export async function fencingScenario<Tx>(harness: LeaseScenarioHarness<Tx>, leaseTtlMs = 300): Promise<void> {
  const { eventStore } = harness;
  const startHead = await eventStore.headPosition();
  await append(eventStore, 20);
  const firstBatchEnd = startHead + 10;
  const storeA = severable(await harness.openReadStore());
  const storeB = await harness.openReadStore();
  const paused = deferred();
  const gate = deferred();
  const hold = (event: RecordedEvent) => {
    if (event.position <= firstBatchEnd) return undefined;
    paused.resolve();
    return gate.promise;
  };
  const options = { eventStore, batchSize: 10, pollIntervalMs: 20 };
  const a = createProjector({
    ...options,
    readStore: storeA.store,
    projections: [harness.projection('fenced', 'A', hold)],
    worker: { id: 'A', leaseTtlMs },
  });
  const b = createProjector({
    ...options,
    readStore: storeB,
    projections: [harness.projection('fenced', 'B')],
    worker: { id: 'B', leaseTtlMs },
  });
  const projectors: Projector[] = [a, b];
  try {
    await a.start();
    expect((await a.status())[0]).toMatchObject({ held: true, owner: 'A' });
    await paused.promise;
    expect((await storeB.load('fenced'))!.position).toBe(firstBatchEnd);

    storeA.sever('leases');
    await b.start();
    await vi.waitFor(async () => expect((await b.status())[0]).toMatchObject({ held: true, owner: 'B' }), {
      timeout: leaseTtlMs * 10,
    });
    const head = await eventStore.headPosition();
    await b.waitForPosition(head, { timeoutMs: 5000 });
    const refusedBefore = storeA.applies.length;

    gate.resolve();
    await vi.waitFor(() => expect(storeA.applies.length).toBeGreaterThan(refusedBefore), { timeout: 5000 });
    expect(storeA.applies.slice(refusedBefore)).toEqual([{ ok: false, code: 'LEASE_LOST' }]);
    const record = (await storeB.load('fenced'))!;
    expect(record.position).toBe(head);
    expect(record.failure).toBeUndefined();

    // A stopped the projection, which is not a failure there: B has it.
    storeA.heal();
    await vi.waitFor(async () => expect((await a.status())[0]).toMatchObject({ held: false, owner: 'B', state: 'live' }), {
      timeout: 5000,
    });
    const more = await append(eventStore, 5);
    await b.waitForPosition(more, { timeoutMs: 5000 });
    await a.waitForPosition(more, { timeoutMs: 5000 });
    expect(storeA.applies.slice(refusedBefore)).toEqual([{ ok: false, code: 'LEASE_LOST' }]);

    const events = await eventStore.readAll({ from: startHead + 1, limit: 1000 });
    const applied = await harness.applied(storeB, 'fenced');
    expect(events.map((e) => applied.get(e.id)?.count)).toEqual(events.map(() => 1));
    expect(positionsBy(applied, 'A', events)).toEqual(events.filter((e) => e.position <= firstBatchEnd).map((e) => e.position));
    expect(positionsBy(applied, 'B', events)).toEqual(events.filter((e) => e.position > firstBatchEnd).map((e) => e.position));
  } finally {
    gate.resolve();
    storeA.heal();
    await Promise.all(projectors.map((p) => p.stop()));
    await Promise.all([storeA.store.close(), storeB.close()]);
  }
}

/**
 * Workers A and B share the projections while events keep coming; A dies (every store call of its hangs, nothing is
 * released). B must hold every projection and have passed the position the log was at when A died within 5 s, with
 * the default lease ttl, and in the end every event is applied exactly once in every projection.
 */
export async function failoverScenario<Tx>(harness: LeaseScenarioHarness<Tx>, names: readonly string[] = ['f1', 'f2', 'f3']) {
  const { eventStore } = harness;
  const startHead = await eventStore.headPosition();
  await append(eventStore, 50);
  const storeA = severable(await harness.openReadStore());
  const storeB = await harness.openReadStore();
  const options = { eventStore, batchSize: 20, pollIntervalMs: 20 };
  const a = createProjector({
    ...options,
    readStore: storeA.store,
    projections: names.map((n) => harness.projection(n, 'A')),
    worker: { id: 'A' },
  });
  const b = createProjector({
    ...options,
    readStore: storeB,
    projections: names.map((n) => harness.projection(n, 'B')),
    worker: { id: 'B' },
  });
  let appending = true;
  let appender: Promise<void> = Promise.resolve();
  try {
    await a.start();
    await b.start();
    // Both hold some before A dies.
    await vi.waitFor(async () => expect((await b.status()).filter((s) => s.held).length).toBe(Math.floor(names.length / 2)), {
      timeout: 10_000,
    });
    const heldByA = (await a.status()).filter((s) => s.held).map((s) => s.name);
    expect(heldByA.length).toBeGreaterThan(0);
    await b.waitForPosition(await eventStore.headPosition(), { timeoutMs: 5000 });

    appender = (async () => {
      while (appending) {
        await append(eventStore, 3);
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    await new Promise((r) => setTimeout(r, 100));

    storeA.sever('all');
    const died = Date.now();
    const headAtDeath = await eventStore.headPosition();
    await vi.waitFor(
      async () => {
        const status = await b.status();
        expect(status.map((s) => [s.name, s.held, s.position >= headAtDeath])).toEqual(names.map((n) => [n, true, true]));
      },
      { timeout: 10_000, interval: 50 },
    );
    const tookOverMs = Date.now() - died;
    expect(tookOverMs).toBeLessThan(5000);

    appending = false;
    await appender;
    const head = await eventStore.headPosition();
    await b.waitForPosition(head, { timeoutMs: 5000 });
    const events = await eventStore.readAll({ from: startHead + 1, limit: 100_000 });
    for (const name of names) {
      const applied = await harness.applied(storeB, name);
      expect(
        events.filter((e) => applied.get(e.id)?.count !== 1).map((e) => e.position),
        `${name}: events not applied exactly once`,
      ).toEqual([]);
      // After A died, only B applied anything.
      expect(events.filter((e) => e.position > headAtDeath && applied.get(e.id)?.worker !== 'B')).toEqual([]);
    }
    return { tookOverMs, heldByA };
  } finally {
    appending = false;
    await appender;
    storeA.bury();
    await Promise.all([a.stop(), b.stop()]);
    await Promise.all([storeA.store.close(), storeB.close()]);
  }
}
