import { describe, expect, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import { Bump, Flaky, Refuse, scheduleCommands, scheduleStream } from '../../../test/support/workflows-schedule-kit.js';
import { createCommandBus } from '../command-bus.js';
import { createDecisionHandler } from '../decision-handler.js';
import { domainError, isChronicleError } from '../errors.js';
import { Query } from '../event-query.js';
import type { EventStore } from '../event-store.js';
import { createInMemoryEventStore } from '../in-memory-event-store.js';
import { defineCommand, type InputOf } from '../messages.js';
import { createInMemoryReadStore } from '../projections/in-memory-read-store.js';
import type { ProjectionStore } from '../projections/projection-store.js';
import { createProjector } from '../projections/projector.js';
import { createWorkflows, type Workflows } from './create-workflows.js';
import { COMMAND_SCHEDULED, type ScheduledCommand, type ScheduleOptions, schedule, scheduleStreamId } from './schedule-events.js';
import {
  type CancelOptions,
  createScheduler,
  createScheduleWriter,
  readScheduleStatus,
  type SchedulerOptions,
  type ScheduleWriter,
} from './scheduler.js';
import type { WorkflowDeps } from './workflow-types.js';

const T0 = Date.parse('2031-03-01T12:00:00.000Z');
// Offsets on the hand-moved clock are hours: the loop also wakes on real timers for what it knows is due (the time left
// on the test's clock when the projection applies a schedule), which then never comes during a test, so only fireDue
// fires — as long as each schedule is applied (settled) before the clock is moved past it. A test that lets the
// projection apply one already due races the loop and asserts effects, not fireDue's count.
const H = 3_600_000;

type World = Awaited<ReturnType<typeof world>>;

// One process: an event store, the three test commands, workflows on an in-memory read store, a running projector.
async function world(
  options: { scheduler?: SchedulerOptions; eventStore?: EventStore; readStore?: ProjectionStore<any, any>; start?: boolean } = {},
) {
  let now = T0;
  const clock = () => now;
  const eventStore = options.eventStore ?? createInMemoryEventStore();
  const readStore = options.readStore ?? createInMemoryReadStore();
  const commands = scheduleCommands(eventStore);
  const workflows = createWorkflows({
    commandBus: commands.bus,
    eventStore,
    readStore,
    clock,
    // A long poll: rounds happen when a test calls fireDue (or a hint wakes the loop), not on their own.
    scheduler: { pollIntervalMs: 60_000, retry: { attempts: 3, initialDelayMs: 1, maxDelayMs: H }, ...options.scheduler },
  });
  const projector = createProjector({ eventStore, readStore, projections: workflows.projections, pollIntervalMs: 5 });
  if (options.start !== false) await projector.start();
  const settle = async () => projector.waitForPosition(await eventStore.headPosition(), { timeoutMs: 5000 });
  return {
    ...commands,
    eventStore,
    readStore,
    workflows,
    projector,
    clock,
    settle,
    /** Moves the clock to `T0 + ms`. */
    at(ms: number) {
      now = T0 + ms;
    },
    /** Sets the clock to `ms` since the epoch. */
    setNow(ms: number) {
      now = ms;
    },
    /** Settles the projection, then fires what is due. */
    async fire() {
      await settle();
      return workflows.fireDue();
    },
  };
}

async function withWorld<T>(run: (w: World) => Promise<T>, options?: Parameters<typeof world>[0]): Promise<T> {
  const w = await world(options);
  try {
    return await run(w);
  } finally {
    await w.projector.stop();
  }
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

describe('the scheduler', () => {
  it('fires a command scheduled at a time once, when the clock reaches it, and records the firing', async () => {
    await withWorld(async (w) => {
      const receipt = await w.workflows.schedule(Bump, { id: 'a' }, { key: 'k-at', at: new Date(T0 + H) });
      expect(receipt).toMatchObject({ key: 'k-at', at: new Date(T0 + H).toISOString() });
      expect(receipt.position).toBe(await w.eventStore.headPosition());
      await w.settle();
      expect((await w.workflows.status()).schedules).toMatchObject({
        pending: 1,
        overdue: 0,
        nextDueAt: new Date(T0 + H).toISOString(),
        firing: true,
      });

      w.at(H - 1);
      expect(await w.fire()).toBe(0);
      expect(w.calls.Bump).toBe(0);
      w.at(H);
      expect(await w.fire()).toBe(1);
      expect(await w.bumps('a')).toBe(1);
      expect(await scheduleStream(w.eventStore, 'k-at')).toEqual([
        expect.objectContaining({ type: COMMAND_SCHEDULED, version: 1 }),
        { type: 'chronicle.ScheduleFired', version: 2, data: { key: 'k-at', scheduled: 1, outcome: 'done' } },
      ]);
      await w.settle();
      expect((await w.workflows.status()).schedules).toMatchObject({ pending: 0, overdue: 0 });
      expect((await w.workflows.status()).schedules.nextDueAt).toBeUndefined();
      w.at(10 * H);
      expect(await w.fire()).toBe(0);
      expect(w.calls.Bump).toBe(1);
    });
  });

  it('sends the command as the workflows principal, caused by and correlated with its scheduling', async () => {
    await withWorld(async (w) => {
      await w.workflows.schedule(Bump, { id: 'meta' }, { key: 'k-meta', at: T0 });
      await w.fire();
      const [scheduled] = await w.eventStore.readStream(scheduleStreamId('k-meta'));
      const [bumped] = await w.eventStore.readStream('bump-meta');
      expect(bumped.metadata).toMatchObject({
        causationId: scheduled.id,
        correlationId: scheduled.metadata.correlationId ?? scheduled.id,
        actor: 'chronicle-workflows',
      });
    });
  });

  it('resolves `after` from application code against the clock', async () => {
    await withWorld(async (w) => {
      const receipt = await w.workflows.schedule(Bump, { id: 'b' }, { key: 'k-after', after: 5 * H });
      expect(receipt.at).toBe(new Date(T0 + 5 * H).toISOString());
      const [event] = await w.eventStore.readStream(scheduleStreamId('k-after'));
      expect(event.data).toEqual({ key: 'k-after', command: { type: 'Bump', data: { id: 'b' } }, at: receipt.at });
      await w.settle();
      w.at(5 * H - 1);
      expect(await w.fire()).toBe(0);
      w.at(5 * H);
      expect(await w.fire()).toBe(1);
      expect(await w.bumps('b')).toBe(1);
    });
  });

  it('counts `after` in a decision from the recorded time of its event, and a refused decision schedules nothing', async () => {
    await withWorld(async (w) => {
      const PlaceOrder = defineCommand('PlaceOrder', z.object({ orderId: z.string(), refuse: z.boolean().optional() }));
      w.bus.register(
        PlaceOrder,
        createDecisionHandler({
          store: w.eventStore,
          query: (c: { type: 'PlaceOrder'; data: { orderId: string } }) => Query.tags(`order:${c.data.orderId}`),
          model: { initialState: null, evolve: (s) => s },
          decide: (c: { type: 'PlaceOrder'; data: { orderId: string; refuse?: boolean } }) => {
            if (c.data.refuse) throw domainError('no');
            return [
              { streamId: `order-${c.data.orderId}`, type: 'OrderPlaced', data: {}, tags: [`order:${c.data.orderId}`] },
              schedule(Bump, { id: c.data.orderId }, { key: `expire-${c.data.orderId}`, after: H }),
            ];
          },
        }),
      );
      // The clock near the store's (which stamps events): the decision's deadline is an hour ahead of both.
      w.setNow(Date.now());
      const result = await w.bus.dispatch(PlaceOrder, { orderId: 'o1' });
      const [scheduled] = await w.eventStore.readStream(scheduleStreamId('expire-o1'));
      const [placed] = await w.eventStore.readStream('order-o1');
      // Committed together: one append, consecutive positions.
      expect(scheduled.position).toBe(placed.position + 1);
      expect(result.position).toBe(scheduled.position);
      expect(scheduled.data).toMatchObject({ after: H });
      const due = Date.parse(scheduled.metadata.timestamp) + H;
      await w.settle();
      expect((await w.workflows.status()).schedules.nextDueAt).toBe(new Date(due).toISOString());

      w.setNow(due - 1);
      expect(await w.fire()).toBe(0);
      w.setNow(due);
      expect(await w.fire()).toBe(1);
      expect(await w.bumps('o1')).toBe(1);

      const refused = await rejection(w.bus.dispatch(PlaceOrder, { orderId: 'o2', refuse: true }));
      expect(isChronicleError(refused, 'DOMAIN_RULE')).toBe(true);
      expect(await w.eventStore.readStream(scheduleStreamId('expire-o2'))).toEqual([]);
      await w.settle();
      expect((await w.workflows.status()).schedules.pending).toBe(0);
    });
  });

  it('refuses a decision whose scheduled command is malformed, committing none of its events', async () => {
    await withWorld(async (w) => {
      const Decide = defineCommand('Decide', z.object({ id: z.string(), bad: z.number() }));
      const good = schedule(Bump, { id: 'd' }, { key: 'k-decided', after: H });
      // What a decide() might return built by hand: each is refused before anything is appended.
      const malformed: unknown[] = [
        { ...good, data: { ...good.data, after: 1500.5 } },
        { ...good, data: { ...good.data, after: 1e300 } },
        { ...good, data: { key: 'k-decided', after: H } },
        { ...good, streamId: 'chronicle.schedule-elsewhere' },
        { ...good, data: { key: 'k-decided', command: good.data.command, after: undefined, at: 'Jan 1 2020' } },
      ];
      w.bus.register(
        Decide,
        createDecisionHandler({
          store: w.eventStore,
          query: (c: { type: 'Decide'; data: { id: string } }) => Query.tags(`decide:${c.data.id}`),
          model: { initialState: null, evolve: (s) => s },
          decide: (c: { type: 'Decide'; data: { id: string; bad: number } }) => [
            { streamId: `decide-${c.data.id}`, type: 'Decided', data: {}, tags: [`decide:${c.data.id}`] },
            (c.data.bad < 0 ? good : malformed[c.data.bad]) as ScheduledCommand,
          ],
        }),
      );
      const head = await w.eventStore.headPosition();
      for (let bad = 0; bad < malformed.length; bad++) {
        const err = await rejection(w.bus.dispatch(Decide, { id: `x${bad}`, bad }));
        expect(isChronicleError(err, 'INVALID_ARGUMENT'), `${bad}: ${(err as Error).message}`).toBe(true);
      }
      expect(await w.eventStore.headPosition()).toBe(head);
      // A well-formed one commits, and the scheduler's projection goes on.
      await w.bus.dispatch(Decide, { id: 'ok', bad: -1 });
      await w.settle();
      expect((await w.workflows.status()).schedules.pending).toBe(1);
    });
  });

  it('replaces a pending schedule scheduled again under its key', async () => {
    await withWorld(async (w) => {
      await w.workflows.schedule(Bump, { id: 'first' }, { key: 'k-re', at: T0 + H });
      await w.settle();
      await w.workflows.schedule(Bump, { id: 'second' }, { key: 'k-re', at: T0 + 5 * H });
      w.at(H);
      expect(await w.fire()).toBe(0);
      expect((await w.workflows.status()).schedules).toMatchObject({ pending: 1, overdue: 0 });
      w.at(5 * H);
      expect(await w.fire()).toBe(1);
      expect(await w.bumps('first')).toBe(0);
      expect(await w.bumps('second')).toBe(1);
      expect((await scheduleStream(w.eventStore, 'k-re')).at(-1)).toMatchObject({ data: { scheduled: 2, outcome: 'done' } });
    });
  });

  it('never fires a schedule cancelled before it was due; cancelling nothing answers false', async () => {
    await withWorld(async (w) => {
      await w.workflows.schedule(Bump, { id: 'c' }, { key: 'k-cancel', at: T0 + H });
      await w.settle();
      expect(await w.workflows.cancel('k-cancel')).toBe(true);
      expect(await w.workflows.cancel('k-cancel')).toBe(false);
      expect(await w.workflows.cancel('never-scheduled')).toBe(false);
      w.at(2 * H);
      expect(await w.fire()).toBe(0);
      expect(w.calls.Bump).toBe(0);
      expect((await w.workflows.status()).schedules.pending).toBe(0);
      expect((await scheduleStream(w.eventStore, 'k-cancel')).map((e) => e.type)).toEqual([
        COMMAND_SCHEDULED,
        'chronicle.ScheduleCancelled',
      ]);

      // Once fired there is nothing left to cancel.
      await w.workflows.schedule(Bump, { id: 'd' }, { key: 'k-fired', at: T0 });
      await w.fire();
      expect(await w.workflows.cancel('k-fired')).toBe(false);
    });
  });

  it('does not fire a schedule cancelled after the projection saw it but before its round', async () => {
    // The projection still holds the row when the round reads it: the log is what the round confirms against.
    const w = await world();
    try {
      await w.workflows.schedule(Bump, { id: 'late' }, { key: 'k-late', at: T0 + H });
      await w.settle();
      await w.projector.stop();
      const other = createScheduler(
        { commandBus: w.bus, eventStore: w.eventStore, clock: w.clock, principal: { id: 'x', roles: [] } },
        w.readStore,
      );
      expect(await other.cancel('k-late')).toBe(true);
      // Started again without letting the projection catch up first: the row is still there when the round runs.
      w.at(H);
      await w.projector.start();
      expect(await w.workflows.fireDue()).toBe(0);
      expect(w.calls.Bump).toBe(0);
    } finally {
      await w.projector.stop();
    }
  });

  it('takes effect once when fireDue runs concurrently, and when two workers fire the same schedule', async () => {
    await withWorld(async (w) => {
      await w.workflows.schedule(Bump, { id: 'once' }, { key: 'k-once', at: T0 + H });
      await w.settle();
      w.at(H);
      const counts = await Promise.all([w.workflows.fireDue(), w.workflows.fireDue(), w.workflows.fireDue()]);
      expect(w.calls.Bump).toBe(1);
      expect(await w.bumps('once')).toBe(1);
      expect(counts).toContain(1);
      await w.settle();
      expect(await w.workflows.fireDue()).toBe(0);
      expect(w.calls.Bump).toBe(1);
    });

    // Two schedulers that both believe they run (two projectors, each on its own read store, no leases).
    const eventStore = createInMemoryEventStore();
    const a = await world({ eventStore });
    const b = await world({ eventStore });
    try {
      for (let i = 0; i < 20; i++) await a.workflows.schedule(Bump, { id: `twice-${i}` }, { key: `k-twice-${i}`, at: T0 });
      await Promise.all([a.settle(), b.settle()]);
      await Promise.all([a.workflows.fireDue(), b.workflows.fireDue()]);
      // Each may have sent some: the keys make every second send a no-op.
      expect(a.calls.Bump + b.calls.Bump).toBeGreaterThanOrEqual(20);
      for (let i = 0; i < 20; i++) {
        expect(await a.bumps(`twice-${i}`)).toBe(1);
        const fired = (await scheduleStream(eventStore, `k-twice-${i}`)).filter((e) => e.type === 'chronicle.ScheduleFired');
        expect(fired).toHaveLength(1);
      }
    } finally {
      await Promise.all([a.projector.stop(), b.projector.stop()]);
    }
  });

  it('records a refused command as fired with its refusal, and does not send it again', async () => {
    await withWorld(async (w) => {
      await w.workflows.schedule(Refuse, { reason: 'out of stock' }, { key: 'k-refuse', at: T0 + H });
      await w.settle();
      w.at(H);
      expect(await w.fire()).toBe(1);
      expect(w.calls.Refuse).toBe(1);
      expect((await scheduleStream(w.eventStore, 'k-refuse')).at(-1)).toEqual({
        type: 'chronicle.ScheduleFired',
        version: 2,
        data: {
          key: 'k-refuse',
          scheduled: 1,
          outcome: 'refused',
          error: { code: 'DOMAIN_RULE', message: 'refused: out of stock' },
        },
      });
      w.at(2 * H);
      expect(await w.fire()).toBe(0);
      expect(w.calls.Refuse).toBe(1);
      expect((await w.workflows.status()).schedules).toMatchObject({ pending: 0, failing: [] });
    });
  });

  it('retries a transient failure with backoff, and holds one that fails every attempt for a later round', async () => {
    await withWorld(async (w) => {
      w.failures.remaining = 2;
      await w.workflows.schedule(Flaky, { id: 'f1' }, { key: 'k-flaky', at: T0 + H });
      await w.settle();
      w.at(H);
      expect(await w.fire()).toBe(1);
      expect(w.calls.Flaky).toBe(3);
      expect((await w.eventStore.readStream('flaky-f1')).length).toBe(1);

      w.calls.Flaky = 0;
      w.failures.remaining = 4;
      await w.workflows.schedule(Flaky, { id: 'f2' }, { key: 'k-flaky-2', at: T0 + 2 * H });
      await w.settle();
      w.at(2 * H);
      expect(await w.fire()).toBe(0);
      expect(w.calls.Flaky).toBe(3);
      const { schedules } = await w.workflows.status();
      expect(schedules.failing).toEqual([
        expect.objectContaining({
          key: 'k-flaky-2',
          version: 1,
          error: { code: 'STORE_ERROR', message: 'the disk hiccuped' },
          retryAt: new Date(T0 + 3 * H).toISOString(),
        }),
      ]);
      expect(schedules.lastError).toMatchObject({ key: 'k-flaky-2', code: 'STORE_ERROR' });
      expect(schedules.overdue).toBe(0);
      // Held: the next round does not spin on it.
      expect(await w.fire()).toBe(0);
      expect(w.calls.Flaky).toBe(3);
      w.at(3 * H - 1);
      expect(await w.fire()).toBe(0);
      w.at(3 * H);
      expect(await w.fire()).toBe(1);
      expect(w.calls.Flaky).toBe(5);
      expect((await w.eventStore.readStream('flaky-f2')).length).toBe(1);
      expect((await w.workflows.status()).schedules.failing).toEqual([]);
    });
  });

  it('holds a command this worker has no handler for (mid-deploy) and fires it once the handler is there', async () => {
    let now = T0;
    const eventStore = createInMemoryEventStore();
    const readStore = createInMemoryReadStore();
    const full = scheduleCommands(eventStore);
    // The old worker: its bus does not know Bump yet.
    const old = createCommandBus();
    const workflows = createWorkflows({
      commandBus: old,
      eventStore,
      readStore,
      clock: () => now,
      scheduler: { pollIntervalMs: 60_000, retry: { attempts: 2, initialDelayMs: 1, maxDelayMs: H } },
    });
    const projector = createProjector({ eventStore, readStore, projections: workflows.projections, pollIntervalMs: 5 });
    await projector.start();
    try {
      // Scheduled by a new worker, which knows it.
      const writer = createScheduleWriter({
        commandBus: full.bus,
        eventStore,
        clock: () => now,
        principal: { id: 'n', roles: [] },
      });
      await writer.schedule(schedule(Bump, { id: 'deploy' }, { key: 'k-deploy', at: T0 }));
      await projector.waitForPosition(await eventStore.headPosition());
      expect(await workflows.fireDue()).toBe(0);
      const { schedules } = await workflows.status();
      expect(schedules.failing).toEqual([
        expect.objectContaining({ key: 'k-deploy', error: expect.objectContaining({ code: 'UNKNOWN_MESSAGE' }) }),
      ]);
      expect(schedules.pending).toBe(1);
      expect((await scheduleStream(eventStore, 'k-deploy')).map((e) => e.type)).toEqual([COMMAND_SCHEDULED]);

      old.register(Bump, (command, context) => full.bus.dispatch(Bump, command.data, context));
      now = T0 + H;
      expect(await workflows.fireDue()).toBe(1);
      expect(await full.bumps('deploy')).toBe(1);
      expect((await scheduleStream(eventStore, 'k-deploy')).at(-1)).toMatchObject({ data: { outcome: 'done' } });
    } finally {
      await projector.stop();
    }
  });

  it('refuses bad keys, bad times and bad payloads with a clear error, writing nothing', async () => {
    await withWorld(async (w) => {
      const head = await w.eventStore.headPosition();
      const cases: [Promise<unknown>, string][] = [
        [w.workflows.schedule(Bump, { id: 'x' }, { key: '', at: T0 }), 'INVALID_ARGUMENT'],
        [w.workflows.schedule(Bump, { id: 'x' }, { key: 'a\nb', at: T0 }), 'INVALID_ARGUMENT'],
        [w.workflows.schedule(Bump, { id: 'x' }, { key: 'k'.repeat(401), at: T0 }), 'INVALID_ARGUMENT'],
        [w.workflows.schedule(Bump, { id: 'x' }, { key: 'k', at: 'tomorrow' }), 'INVALID_ARGUMENT'],
        [w.workflows.schedule(Bump, { id: 'x' }, { key: 'k', at: Number.NaN }), 'INVALID_ARGUMENT'],
        [w.workflows.schedule(Bump, { id: 'x' }, { key: 'k', after: -1 }), 'INVALID_ARGUMENT'],
        [w.workflows.schedule(Bump, { id: 'x' }, { key: 'k', after: Number.POSITIVE_INFINITY }), 'INVALID_ARGUMENT'],
        [w.workflows.schedule(Bump, { id: 'x' }, { key: 'k' } as never), 'INVALID_ARGUMENT'],
        [w.workflows.schedule(Bump, { id: 'x' }, { key: 'k', at: T0, after: 5 } as never), 'INVALID_ARGUMENT'],
        [w.workflows.schedule(Bump, { id: '' }, { key: 'k', at: T0 }), 'VALIDATION_FAILED'],
        [w.workflows.schedule(defineCommand('Nobody', z.object({})), {}, { key: 'k', at: T0 }), 'UNKNOWN_MESSAGE'],
        [w.workflows.cancel(''), 'INVALID_ARGUMENT'],
        [w.workflows.cancel('a\u0000b'), 'INVALID_ARGUMENT'],
      ];
      const scheduler = createScheduler(
        { commandBus: w.bus, eventStore: w.eventStore, clock: w.clock, principal: { id: 'x', roles: [] } },
        w.readStore,
      );
      const good = schedule(Bump, { id: 'x' }, { key: 'k', at: T0 });
      const handMade: [unknown, string][] = [
        [{ ...good, type: 'Other' }, 'INVALID_ARGUMENT'],
        [{ ...good, streamId: 'chronicle.schedule-other' }, 'INVALID_ARGUMENT'],
        [{ ...good, data: { ...good.data, at: 'soon' } }, 'INVALID_ARGUMENT'],
        [{ ...good, data: { ...good.data, after: 10 } }, 'INVALID_ARGUMENT'],
        [{ ...good, data: { ...good.data, command: { data: {} } } }, 'INVALID_ARGUMENT'],
        [null, 'INVALID_ARGUMENT'],
      ];
      for (const [s, code] of handMade) cases.push([scheduler.schedule(s as ScheduledCommand), code]);
      for (const [promise, code] of cases) {
        const err = await rejection(promise);
        expect(isChronicleError(err, code as never), `${code}: ${(err as Error).message}`).toBe(true);
      }
      expect(await w.eventStore.headPosition()).toBe(head);
    });
  });

  it('rejects bad options', () => {
    const deps: WorkflowDeps = {
      commandBus: scheduleCommands(createInMemoryEventStore()).bus,
      eventStore: createInMemoryEventStore(),
      clock: Date.now,
      principal: { id: 'p', roles: [] },
    };
    const readStore = createInMemoryReadStore();
    for (const options of [
      { pollIntervalMs: 0 },
      { batchSize: 0 },
      { batchSize: 1.5 },
      { retry: { attempts: 0 } },
      { retry: { initialDelayMs: 10, maxDelayMs: 5 } },
      // Longer than a timer holds: Node would fire it at once, turning a backoff into a spin.
      { retry: { initialDelayMs: Number.POSITIVE_INFINITY, maxDelayMs: Number.POSITIVE_INFINITY } },
      { retry: { maxDelayMs: 1e12 } },
      { pollIntervalMs: Number.NaN },
      { pollIntervalMs: 2 ** 31 },
      { stopTimeoutMs: -1 },
      { stopTimeoutMs: Number.POSITIVE_INFINITY },
    ]) {
      expect(() => createScheduler(deps, readStore, options)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    }
    expect(() => createScheduler({ ...deps, clock: undefined as never }, readStore)).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    );
  });

  it('refuses a read store it cannot read by due time, naming the reason', () => {
    const deps: WorkflowDeps = {
      commandBus: scheduleCommands(createInMemoryEventStore()).bus,
      eventStore: createInMemoryEventStore(),
      clock: Date.now,
      principal: { id: 'p', roles: [] },
    };
    // A key/value read store's reader (its tables have get/getMany/size, no range by due time), as Redis's is.
    const keyValue = { ...createInMemoryReadStore(), reader: () => ({ table: () => ({ get: async () => undefined }) }) };
    expect(() => createScheduler(deps, keyValue)).toThrow(/SQL read store .* or the in-memory one/);
    expect(() => createWorkflows({ commandBus: deps.commandBus, eventStore: deps.eventStore, readStore: keyValue })).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    );
    // Without firing here, workflows still write schedules on it.
    const writing = createWorkflows({
      commandBus: deps.commandBus,
      eventStore: deps.eventStore,
      readStore: keyValue,
      scheduler: false,
    });
    expect(writing.projections).toEqual([]);
  });

  it('fires nothing where its projection does not run', async () => {
    const w = await world({ start: false });
    await w.workflows.schedule(Bump, { id: 'n' }, { key: 'k-not-here', at: T0 });
    expect(await w.workflows.fireDue()).toBe(0);
    expect((await w.workflows.status()).schedules).toMatchObject({ pending: 0, firing: false });
    expect(w.calls.Bump).toBe(0);
  });

  it('fires on its own, woken as soon as the projection applies a schedule already due', async () => {
    // A real clock and a poll far longer than the test: only the wake-up can fire it in time.
    const eventStore = createInMemoryEventStore();
    const readStore = createInMemoryReadStore();
    const { bus, bumps } = scheduleCommands(eventStore);
    const workflows = createWorkflows({ commandBus: bus, eventStore, readStore, scheduler: { pollIntervalMs: 600_000 } });
    const projector = createProjector({ eventStore, readStore, projections: workflows.projections, pollIntervalMs: 5 });
    await projector.start();
    try {
      await workflows.schedule(Bump, { id: 'now' }, { key: 'k-now', after: 0 });
      await workflows.schedule(Bump, { id: 'soon' }, { key: 'k-soon', after: 150 });
      await expect.poll(() => bumps('now'), { timeout: 5000 }).toBe(1);
      await expect.poll(() => bumps('soon'), { timeout: 5000 }).toBe(1);
    } finally {
      await projector.stop();
    }
  });

  it('fires many more than a batch, round after round without waiting for the poll', async () => {
    const eventStore = createInMemoryEventStore();
    const readStore = createInMemoryReadStore();
    const { bus, calls } = scheduleCommands(eventStore);
    const workflows = createWorkflows({
      commandBus: bus,
      eventStore,
      readStore,
      scheduler: { pollIntervalMs: 600_000, batchSize: 50 },
    });
    const projector = createProjector({ eventStore, readStore, projections: workflows.projections, pollIntervalMs: 5 });
    try {
      for (let i = 0; i < 400; i++) await workflows.schedule(Bump, { id: `m${i}` }, { key: `k-many-${i}`, at: 0 });
      await projector.start();
      await expect.poll(() => calls.Bump, { timeout: 10_000 }).toBe(400);
      await projector.waitForPosition(await eventStore.headPosition());
      await expect.poll(async () => (await workflows.status()).schedules.pending, { timeout: 5000 }).toBe(0);
    } finally {
      await projector.stop();
    }
  });

  it('stops promptly, even while a failing command waits to be tried again', async () => {
    const w = await world({ scheduler: { retry: { attempts: 5, initialDelayMs: 600_000, maxDelayMs: 600_000 } } });
    w.failures.remaining = 100;
    await w.workflows.schedule(Flaky, { id: 's' }, { key: 'k-stop', at: T0 });
    await w.settle();
    const firing = w.workflows.fireDue();
    await expect.poll(() => w.calls.Flaky).toBe(1);
    await w.projector.stop();
    expect(await firing).toBe(0);
    expect(w.calls.Flaky).toBe(1);
  });

  it('leaves out of its counts, then drops, a row the log no longer has pending (stream deleted, or a foreign event last)', async () => {
    await withWorld(async (w) => {
      await w.workflows.schedule(Bump, { id: 'gone' }, { key: 'k-deleted', at: T0 + H });
      await w.workflows.schedule(Bump, { id: 'other' }, { key: 'k-foreign', at: T0 + H });
      await w.settle();
      await w.eventStore.deleteStream(scheduleStreamId('k-deleted'));
      await w.eventStore.append(scheduleStreamId('k-foreign'), [{ type: 'SomethingElse', data: {} }]);
      w.at(2 * H);
      expect(await w.fire()).toBe(0);
      expect(w.calls.Bump).toBe(0);
      // Found stale by this round: not pending, not overdue, though the table still holds them.
      expect((await w.workflows.status()).schedules).toMatchObject({ pending: 0, overdue: 0 });
      expect((await w.workflows.status()).schedules.nextDueAt).toBeUndefined();
      expect(await readScheduleStatus(w.readStore, w.clock)).toMatchObject({ pending: 2, overdue: 2 });
      // The projection's next batch drops them from the table itself, for every reader.
      await w.workflows.schedule(Bump, { id: 'later' }, { key: 'k-later', at: T0 + 5 * H });
      await w.settle();
      expect(await readScheduleStatus(w.readStore, w.clock)).toMatchObject({
        pending: 1,
        overdue: 0,
        nextDueAt: new Date(T0 + 5 * H).toISOString(),
      });
      expect((await w.workflows.status()).schedules).toMatchObject({ pending: 1, overdue: 0 });
    });
  });

  it('rebuilds its table from the log: what fired or was cancelled stays gone', async () => {
    await withWorld(async (w) => {
      await w.workflows.schedule(Bump, { id: 'r1' }, { key: 'k-rb-fired', at: T0 + H });
      await w.workflows.schedule(Bump, { id: 'r2' }, { key: 'k-rb-cancelled', at: T0 + 3 * H });
      await w.workflows.schedule(Bump, { id: 'r3' }, { key: 'k-rb-pending', at: T0 + 3 * H });
      await w.workflows.schedule(Bump, { id: 'r4' }, { key: 'k-rb-pending', at: T0 + 4 * H });
      await w.workflows.cancel('k-rb-cancelled');
      await w.settle();
      w.at(2 * H);
      expect(await w.fire()).toBe(1);
      await w.settle();
      const before = (await w.workflows.status()).schedules;
      await w.projector.rebuild('chronicle_schedules');
      expect((await w.workflows.status()).schedules).toEqual(before);
      expect(before).toMatchObject({ pending: 1, nextDueAt: new Date(T0 + 4 * H).toISOString() });
      w.at(4 * H);
      expect(await w.fire()).toBe(1);
      expect([await w.bumps('r1'), await w.bumps('r2'), await w.bumps('r3'), await w.bumps('r4')]).toEqual([1, 0, 0, 1]);
    });
  });

  it('answers a repeated schedule or cancel under one idempotency key with the first, recording nothing', async () => {
    await withWorld(async (w) => {
      const scheduler = createScheduler(
        { commandBus: w.bus, eventStore: w.eventStore, clock: w.clock, principal: { id: 'x', roles: [] } },
        w.readStore,
      );
      const first = await scheduler.schedule(schedule(Bump, { id: 'i' }, { key: 'k-idem', after: H }), 'pm:e1:s0');
      w.at(H / 2);
      const again = await scheduler.schedule(schedule(Bump, { id: 'i' }, { key: 'k-idem', after: H }), 'pm:e1:s0');
      expect(again).toEqual(first);
      expect(first.at).toBe(new Date(T0 + H).toISOString());
      expect(await scheduler.cancel('k-idem', 'pm:e2:c0')).toBe(true);
      expect(await scheduler.cancel('k-idem', 'pm:e2:c0')).toBe(true);
      expect((await scheduleStream(w.eventStore, 'k-idem')).map((e) => e.type)).toEqual([
        COMMAND_SCHEDULED,
        'chronicle.ScheduleCancelled',
      ]);
    });
  });

  it('types the payload by the command definition', () => {
    expectTypeOf(schedule(Bump, { id: 'ok' }, { key: 'k', at: 0 })).toEqualTypeOf<ScheduledCommand>();
    // The workflows' schedule takes the definition's payload and the same options as schedule().
    expectTypeOf<Parameters<Workflows['schedule']>[2]>().toEqualTypeOf<ScheduleOptions>();
    expectTypeOf<Workflows['schedule']>().toBeCallableWith(Bump, { id: 'ok' }, { key: 'k', after: 10 });
    expectTypeOf(schedule<typeof Bump>)
      .parameter(1)
      .toEqualTypeOf<InputOf<typeof Bump>>();
    expectTypeOf<InputOf<typeof Bump>>().toEqualTypeOf<{ id: string; by?: string | undefined }>();
    expectTypeOf<Parameters<ScheduleWriter['cancel']>>().toEqualTypeOf<
      [key: string, idempotencyKey?: string | undefined, options?: CancelOptions | undefined]
    >();
    // Never called: the lines below only have to fail to compile.
    const wrongUses = (w: Workflows) => {
      // @ts-expect-error a payload that is not the command's
      schedule(Bump, { nope: 1 }, { key: 'k', at: 0 });
      // @ts-expect-error a field of the wrong type
      schedule(Bump, { id: 5 }, { key: 'k', after: 10 });
      // @ts-expect-error at and after together
      schedule(Bump, { id: 'ok' }, { key: 'k', at: 0, after: 10 });
      // @ts-expect-error no key
      schedule(Bump, { id: 'ok' }, { at: 0 });
      // @ts-expect-error the workflows' schedule is typed the same way
      void w.schedule(Refuse, { id: 'x' }, { key: 'k', at: 0 });
    };
    expect(wrongUses).toBeTypeOf('function');
  });
});
