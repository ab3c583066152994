// Schedules on SQLite files survive a restart: made, everything stopped and closed, reopened and the clock moved past
// due, they fire once; a process that sent a command but died before recording the firing sends it again after the
// restart, and the command's key makes the second send take no effect.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ChronicleError,
  createDecisionHandler,
  createProjector,
  createWorkflows,
  defineCommand,
  type EventStore,
  Query,
  SCHEDULE_FIRED,
  schedule,
} from 'chronicle-es';
import { createSqliteEventStore, createSqliteReadStore } from 'chronicle-es/sqlite';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { Bump, scheduleCommands, scheduleStream } from './support/workflows-schedule-kit.js';

const dir = mkdtempSync(join(tmpdir(), 'chronicle-schedules-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const T0 = Date.parse('2032-06-01T00:00:00.000Z');
const H = 3_600_000;
const PlaceOrder = defineCommand('PlaceOrder', z.object({ orderId: z.string() }));

// One run of the "process": the two store files, its bus and workflows, a projector; `wrap` may stand between the
// workflows and the event store (to make it fail where a crash would).
async function open(name: string, now: number, wrap: (store: EventStore) => EventStore = (s) => s) {
  const eventStore = createSqliteEventStore({ path: join(dir, `${name}-events.db`) });
  const readStore = createSqliteReadStore({ path: join(dir, `${name}-read.db`) });
  const commands = scheduleCommands(eventStore);
  commands.bus.register(
    PlaceOrder,
    createDecisionHandler({
      store: eventStore,
      query: (c: { type: 'PlaceOrder'; data: { orderId: string } }) => Query.tags(`order:${c.data.orderId}`),
      model: { initialState: null, evolve: (s) => s },
      decide: (c: { type: 'PlaceOrder'; data: { orderId: string } }) => [
        { streamId: `order-${c.data.orderId}`, type: 'OrderPlaced', data: {}, tags: [`order:${c.data.orderId}`] },
        schedule(Bump, { id: `expire-${c.data.orderId}` }, { key: `expire-${c.data.orderId}`, after: H }),
      ],
    }),
  );
  let clockNow = now;
  const workflows = createWorkflows({
    commandBus: commands.bus,
    eventStore: wrap(eventStore),
    readStore,
    clock: () => clockNow,
    scheduler: { pollIntervalMs: 600_000, retry: { attempts: 2, initialDelayMs: 1, maxDelayMs: 2 } },
  });
  const projector = createProjector({ eventStore, readStore, projections: workflows.projections, pollIntervalMs: 10 });
  await projector.start();
  const settle = async () => projector.waitForPosition(await eventStore.headPosition(), { timeoutMs: 10_000 });
  return {
    ...commands,
    eventStore,
    workflows,
    settle,
    /** Moves the clock; the loop, asleep for its long poll, does not notice: only fireDue fires what became due. */
    setNow(ms: number) {
      clockNow = ms;
    },
    async close() {
      await projector.stop();
      await Promise.all([eventStore.close(), readStore.close()]);
    },
  };
}

describe('schedules on SQLite files', () => {
  it('survive a restart and fire once after it, when due; a cancelled one never', async () => {
    const first = await open('restart', T0);
    await first.workflows.schedule(Bump, { id: 'at' }, { key: 'k-at', at: T0 + H });
    await first.workflows.schedule(Bump, { id: 'after' }, { key: 'k-after', after: 2 * H });
    await first.workflows.schedule(Bump, { id: 'later' }, { key: 'k-later', at: T0 + 10 * H });
    await first.workflows.schedule(Bump, { id: 'cancelled' }, { key: 'k-cancelled', at: T0 + H });
    // Rescheduled: only the second one stands.
    await first.workflows.schedule(Bump, { id: 'moved-1' }, { key: 'k-moved', at: T0 + H });
    await first.workflows.schedule(Bump, { id: 'moved-2' }, { key: 'k-moved', at: T0 + 3 * H });
    expect(await first.workflows.cancel('k-cancelled')).toBe(true);
    await first.settle();
    expect((await first.workflows.status()).schedules).toMatchObject({
      pending: 4,
      overdue: 0,
      nextDueAt: new Date(T0 + H).toISOString(),
    });
    expect(await first.workflows.fireDue()).toBe(0);
    await first.close();

    // Reopened before they are due (the loop's first round, at start, finds nothing), then the clock passes them.
    const second = await open('restart', T0);
    await second.settle();
    expect((await second.workflows.status()).schedules).toMatchObject({ pending: 4, overdue: 0 });
    second.setNow(T0 + 5 * H);
    expect((await second.workflows.status()).schedules).toMatchObject({ pending: 4, overdue: 3 });
    expect(await second.workflows.fireDue()).toBe(3);
    expect(await Promise.all(['at', 'after', 'moved-1', 'moved-2', 'later', 'cancelled'].map((id) => second.bumps(id)))).toEqual([
      1, 1, 0, 1, 0, 0,
    ]);
    await second.settle();
    expect((await second.workflows.status()).schedules).toMatchObject({ pending: 1, overdue: 0 });
    await second.close();

    // Reopened after the last is due: the loop's first round may fire it before fireDue does, so the effects count.
    const third = await open('restart', T0 + 20 * H);
    await third.workflows.fireDue();
    expect(await Promise.all(['at', 'after', 'moved-2', 'later'].map((id) => third.bumps(id)))).toEqual([1, 1, 1, 1]);
    await third.settle();
    expect(await third.workflows.fireDue()).toBe(0);
    expect(third.calls.Bump).toBe(1);
    await third.close();
  });

  it('leaves a row whose stream was deleted out of its counts, and drops it with the next batch', async () => {
    const first = await open('stale', T0);
    await first.workflows.schedule(Bump, { id: 'gone' }, { key: 'k-gone', at: T0 + H });
    await first.workflows.schedule(Bump, { id: 'kept' }, { key: 'k-kept', at: T0 + 3 * H });
    await first.settle();
    await first.eventStore.deleteStream('chronicle.schedule-k-gone');
    await first.close();

    const w = await open('stale', T0 + 2 * H);
    await w.settle();
    await w.workflows.fireDue();
    expect(await w.bumps('gone')).toBe(0);
    expect((await w.workflows.status()).schedules).toMatchObject({
      pending: 1,
      overdue: 0,
      nextDueAt: new Date(T0 + 3 * H).toISOString(),
    });
    await w.workflows.schedule(Bump, { id: 'next' }, { key: 'k-next', at: T0 + 4 * H });
    await w.settle();
    await w.close();
    // Reopened: nothing remembers what the last worker found, and the table itself no longer has the row.
    const again = await open('stale', T0 + 2 * H);
    await again.settle();
    expect((await again.workflows.status()).schedules).toMatchObject({ pending: 2, overdue: 0 });
    await again.close();
  });

  it('keeps a schedule a decision made with its events, and fires it from their recorded time', async () => {
    const first = await open('decision', Date.now());
    const status = await first.bus.dispatch(PlaceOrder, { orderId: 'o1' });
    const [scheduled] = await first.eventStore.readStream('chronicle.schedule-expire-o1');
    expect(scheduled.position).toBe(status.position);
    const due = Date.parse(scheduled.metadata.timestamp) + H;
    await first.settle();
    expect((await first.workflows.status()).schedules.nextDueAt).toBe(new Date(due).toISOString());
    await first.close();

    const early = await open('decision', due - 1);
    expect(await early.workflows.fireDue()).toBe(0);
    await early.close();
    const onTime = await open('decision', due);
    // Due at start: the loop's first round may be the one firing it.
    await onTime.workflows.fireDue();
    expect(await onTime.bumps('expire-o1')).toBe(1);
    await onTime.close();
  });

  it('sends again after a crash between sending and recording, and the command takes effect once', async () => {
    // The first run's event store refuses to record firings, as a process killed right after sending would leave it.
    let refused = 0;
    const noFiringRecords = (store: EventStore): EventStore =>
      new Proxy(store, {
        get(target, property, receiver) {
          const value = Reflect.get(target, property, receiver);
          if (property !== 'append') return typeof value === 'function' ? value.bind(target) : value;
          return (...args: unknown[]) => {
            const events = args[1] as { type: string }[] | undefined;
            if (Array.isArray(events) && events.some((e) => e.type === SCHEDULE_FIRED)) {
              refused++;
              return Promise.reject(new ChronicleError('STORE_ERROR', 'the process died here'));
            }
            return (value as (...a: unknown[]) => unknown).apply(target, args);
          };
        },
      });
    const first = await open('crash', T0, noFiringRecords);
    for (let i = 0; i < 20; i++) await first.workflows.schedule(Bump, { id: `c${i}` }, { key: `k-crash-${i}`, at: T0 });
    await first.settle();
    expect(await first.workflows.fireDue()).toBe(0);
    expect(first.calls.Bump).toBeGreaterThanOrEqual(20);
    expect(refused).toBeGreaterThanOrEqual(20);
    const failing = (await first.workflows.status()).schedules.failing;
    expect(failing).toHaveLength(20);
    expect(failing[0].error).toEqual({ code: 'STORE_ERROR', message: 'the process died here' });
    await first.close();

    const second = await open('crash', T0 + H);
    // Due at start: the loop's first round may fire some; fireDue waits for those in flight and fires the rest.
    await second.workflows.fireDue();
    for (let i = 0; i < 20; i++) {
      expect(await second.bumps(`c${i}`)).toBe(1);
      const stream = await scheduleStream(second.eventStore, `k-crash-${i}`);
      expect(stream.map((e) => e.type)).toEqual(['chronicle.CommandScheduled', SCHEDULE_FIRED]);
    }
    await second.settle();
    expect((await second.workflows.status()).schedules).toMatchObject({ pending: 0, failing: [] });
    await second.close();
  });
});
