// Two projector workers on one PostgreSQL read store with leases, each with its own workflows: worker A (a child
// process) holds the scheduler's projection and fires every due schedule, B none; then A is killed (SIGKILL: nothing
// released, commands possibly sent and not recorded) while it fires, B takes the lease over and fires the rest, and
// every command takes effect exactly once. Then, on one worker: rows stored unchecked (a fractional or huge delay), a
// row whose stream was deleted, and cancels recorded under idempotency keys, on PostgreSQL's tables.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import {
  COMMAND_SCHEDULED,
  createProjector,
  createWorkflows,
  type EventStore,
  SCHEDULE_FIRED,
  SCHEDULER_PROJECTION,
  schedule,
} from 'chronicle-es';
import { createPostgresEventStore, createPostgresReadStore } from 'chronicle-es/postgres';
import { afterAll, describe, expect, it } from 'vitest';
import { createScheduleWriter } from '../src/core/workflows/schedule-writer.js';
import { followChild } from './support/child-lines.js';
import { type FreshSchema, freshSchema, PG_URL, pgAvailable } from './support/postgres.js';
import { Bump, scheduleCommands } from './support/workflows-schedule-kit.js';

const child = fileURLToPath(new URL('./workflows-schedule-worker-child.ts', import.meta.url));
const root = fileURLToPath(new URL('..', import.meta.url));
const schemas: FreshSchema[] = [];
afterAll(async () => {
  await Promise.all(schemas.map((s) => s.drop()));
});

function startWorker(eventsSchema: string, readSchema: string, worker: string) {
  const proc = spawn(
    process.execPath,
    ['--conditions=chronicle-source', '--import', 'tsx', child, PG_URL, eventsSchema, readSchema, worker],
    { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const state = { held: false };
  const out = followChild(proc, ([kind, held]) => {
    if (kind === 'held') state.held = held === '1';
  });
  const exited = new Promise<NodeJS.Signals | null>((resolve) => proc.on('exit', (_code, signal) => resolve(signal)));
  return { proc, state, exited, stderr: () => out.stderr };
}

// Every Bumped in the log: by id, how many and by whom.
async function effects(store: EventStore, prefix: string) {
  const byId = new Map<string, { count: number; by: string[] }>();
  for (let from = 1; ; ) {
    const page = await store.readAll({ from, limit: 5000, filter: { categories: ['bump'] } });
    for (const e of page) {
      const { id, by } = e.data as { id: string; by: string };
      if (!id.startsWith(prefix)) continue;
      const entry = byId.get(id) ?? { count: 0, by: [] };
      entry.count++;
      entry.by.push(by);
      byId.set(id, entry);
    }
    if (page.length < 5000) return byId;
    from = page[page.length - 1].position + 1;
  }
}

// ScheduleFired events per schedule stream.
async function firings(store: EventStore) {
  const fired = new Map<string, number>();
  for (let from = 1; ; ) {
    const page = await store.readAll({ from, limit: 5000, filter: { types: [SCHEDULE_FIRED] } });
    for (const e of page) fired.set(e.streamId, (fired.get(e.streamId) ?? 0) + 1);
    if (page.length < 5000) return fired;
    from = page[page.length - 1].position + 1;
  }
}

const range = (from: number, to?: number) =>
  to === undefined ? Array.from({ length: from }, (_, i) => i) : Array.from({ length: to - from }, (_, i) => from + i);

describe.skipIf(!pgAvailable)('schedules on PostgreSQL with two workers and leases', () => {
  it('are fired only by the lease holder, each once, and by the other worker once the holder dies', async () => {
    const events = freshSchema('sched_ev');
    const read = freshSchema('sched_rd');
    schemas.push(events, read);
    const a = startWorker(events.schema, read.schema, 'A');
    const eventStore = createPostgresEventStore({ connectionString: PG_URL, schema: events.schema, poolSize: 6 });
    const readStore = createPostgresReadStore({ connectionString: PG_URL, schema: read.schema, poolSize: 4 });
    const b = scheduleCommands(eventStore, { worker: 'B' });
    const workflows = createWorkflows({ commandBus: b.bus, eventStore, readStore, scheduler: { pollIntervalMs: 50 } });
    const projector = createProjector({
      eventStore,
      readStore,
      projections: workflows.projections,
      pollIntervalMs: 20,
      worker: { id: 'B', leaseTtlMs: 1000 },
    });
    const bHolds = async () => (await projector.status()).find((s) => s.name === SCHEDULER_PROJECTION)?.held === true;
    try {
      await expect.poll(() => a.state.held, { timeout: 20_000, interval: 50 }).toBe(true);
      await projector.start();

      // 500 due at once: A fires them all, B none.
      const past = Date.now() - 1000;
      for (const chunk of [0, 1, 2, 3, 4]) {
        await Promise.all(
          range(100).map((i) =>
            workflows.schedule(Bump, { id: `one-${chunk * 100 + i}` }, { key: `one-${chunk * 100 + i}`, at: past }),
          ),
        );
      }
      await expect.poll(async () => (await effects(eventStore, 'one-')).size, { timeout: 30_000, interval: 100 }).toBe(500);
      const first = await effects(eventStore, 'one-');
      expect([...first.values()].filter((e) => e.count !== 1)).toEqual([]);
      expect(new Set([...first.values()].flatMap((e) => e.by))).toEqual(new Set(['A']));
      expect(b.calls.Bump).toBe(0);
      expect(await bHolds()).toBe(false);

      // 1,000 more: A dies while it fires the first half, and the second half is scheduled after its death (so only
      // B can fire it, however long the first half took to write on a loaded machine).
      const due = Date.now() - 1000;
      for (const chunk of range(5)) {
        await Promise.all(
          range(100).map((i) => {
            const n = chunk * 100 + i;
            return workflows.schedule(Bump, { id: `two-${n}` }, { key: `two-${n}`, at: due });
          }),
        );
      }
      await expect
        .poll(async () => (await effects(eventStore, 'two-')).size, { timeout: 30_000, interval: 5 })
        .toBeGreaterThan(0);
      a.proc.kill('SIGKILL');
      expect(await a.exited).toBe('SIGKILL');
      const atDeath = (await effects(eventStore, 'two-')).size;
      for (const chunk of range(5, 10)) {
        await Promise.all(
          range(100).map((i) => {
            const n = chunk * 100 + i;
            return workflows.schedule(Bump, { id: `two-${n}` }, { key: `two-${n}`, at: Date.now() });
          }),
        );
      }

      await expect.poll(bHolds, { timeout: 10_000, interval: 50 }).toBe(true);
      await expect.poll(async () => (await effects(eventStore, 'two-')).size, { timeout: 30_000, interval: 100 }).toBe(1000);
      const second = await effects(eventStore, 'two-');
      expect([...second.values()].filter((e) => e.count !== 1)).toEqual([]);
      const byB = [...second.values()].filter((e) => e.by[0] === 'B').length;
      expect(byB).toBeGreaterThanOrEqual(500);
      expect(byB).toBeLessThanOrEqual(1000 - atDeath);
      console.log(`A fired ${1000 - byB} of the second 1,000 before it died (${atDeath} seen), B the other ${byB}`);

      // Every schedule recorded as fired exactly once (the record follows the effect), and nothing is left pending.
      await expect.poll(async () => (await firings(eventStore)).size, { timeout: 10_000, interval: 100 }).toBe(1500);
      expect([...(await firings(eventStore)).values()].filter((n) => n !== 1)).toEqual([]);
      await projector.waitForPosition(await eventStore.headPosition(), { timeoutMs: 10_000 });
      expect((await workflows.status()).schedules).toMatchObject({ pending: 0, overdue: 0, firing: true, failing: [] });
    } finally {
      if (a.proc.exitCode === null && a.proc.signalCode === null) a.proc.kill('SIGKILL');
      await projector.stop();
      await Promise.all([eventStore.close(), readStore.close()]);
    }
  }, 120_000);
});

describe.skipIf(!pgAvailable)('schedules on PostgreSQL tables', () => {
  it('keep firing past rows stored unchecked and rows whose stream was deleted; cancels are recorded under keys', async () => {
    const events = freshSchema('sched_ev');
    const read = freshSchema('sched_rd');
    schemas.push(events, read);
    const eventStore = createPostgresEventStore({ connectionString: PG_URL, schema: events.schema, poolSize: 4 });
    const readStore = createPostgresReadStore({ connectionString: PG_URL, schema: read.schema, poolSize: 2 });
    const commands = scheduleCommands(eventStore);
    let now = Date.now();
    const deps = { commandBus: commands.bus, eventStore, clock: () => now, principal: { id: 'w', roles: [] } };
    const workflows = createWorkflows({ ...deps, readStore, scheduler: { pollIntervalMs: 600_000 } });
    const projector = createProjector({ eventStore, readStore, projections: workflows.projections, pollIntervalMs: 10 });
    const settle = async () => projector.waitForPosition(await eventStore.headPosition(), { timeoutMs: 10_000 });
    const H = 3_600_000;
    try {
      // Appended by hand, past every check (as a decision could commit them before decisions were checked): a
      // fractional delay is no BIGINT, a huge one no Date. The projection must keep them, floored and clamped.
      const raw = (key: string, after: number) =>
        eventStore.append(`chronicle.schedule-${key}`, [
          { type: COMMAND_SCHEDULED, data: { key, command: { type: 'Bump', data: { id: key } }, after } },
        ]);
      await raw('pg-frac', 1500.5);
      await raw('pg-huge', 1e300);
      await workflows.schedule(Bump, { id: 'pg-deleted' }, { key: 'pg-deleted', at: now + H });
      await projector.start();
      await settle();
      expect((await projector.status()).find((s) => s.name === SCHEDULER_PROJECTION)?.state).toBe('live');
      expect((await workflows.status()).schedules).toMatchObject({ pending: 3, overdue: 0 });

      await eventStore.deleteStream('chronicle.schedule-pg-deleted');
      now += 2 * H;
      await workflows.fireDue();
      expect([await commands.bumps('pg-frac'), await commands.bumps('pg-huge'), await commands.bumps('pg-deleted')]).toEqual([
        1, 0, 0,
      ]);
      await settle();
      // The deleted one went from the table with the batch that applied the other's firing: gone for every reader.
      const elsewhere = createWorkflows({ ...deps, readStore, scheduler: false });
      for (const runtime of [workflows, elsewhere]) {
        expect((await runtime.status()).schedules).toMatchObject({
          pending: 1,
          overdue: 0,
          nextDueAt: '+275760-09-13T00:00:00.000Z',
        });
      }

      // A cancel that found nothing is recorded too: the same step again cancels nothing scheduled since.
      const writer = createScheduleWriter(deps);
      expect(await writer.cancel('pg-later', 'pm:e1:c0')).toBe(false);
      const later = await writer.schedule(schedule(Bump, { id: 'pg-later' }, { key: 'pg-later', after: H }));
      expect(await writer.cancel('pg-later', 'pm:e1:c0')).toBe(false);
      expect(await writer.cancel('pg-later', 'pm:e2:c0', { before: later.position })).toBe(false);
      expect(await writer.cancel('pg-later', 'pm:e3:c0', { before: later.position + 1 })).toBe(true);
      expect(await writer.cancel('pg-later', 'pm:e3:c0', { before: later.position + 1 })).toBe(true);
      await settle();
      expect((await elsewhere.status()).schedules).toMatchObject({ pending: 1, overdue: 0 });
    } finally {
      await projector.stop();
      await Promise.all([eventStore.close(), readStore.close()]);
    }
  });
});
