// A process manager's batch runs again over events it already acted on — after a failure later in the batch, a crash
// before the commit, an operator's rebuild, a raised version — and must then do nothing a second time: not refuse
// what went through, not resend what was refused and compensated, not cancel what was scheduled since, and on a
// rebuild not act at all.
import { afterEach, describe, expect, it } from 'vitest';
import { ChronicleError, domainError } from '../errors.js';
import { createInMemoryEventStore } from '../in-memory-event-store.js';
import { createInMemoryReadStore } from '../projections/in-memory-read-store.js';
import { createProjector, type Projector } from '../projections/projector.js';
import { command } from './define-process-manager.js';
import {
  orderCommands,
  orderProcess,
  orderWorld,
  ReleaseOrder,
  ReserveStock,
  recordingScheduleWriter,
  WORKFLOWS,
} from './fixtures/process-orders.js';
import { processManagerProjection } from './process-manager-projection.js';
import { COMMAND_REFUSED, type CommandRefusedData, processStreamId } from './process-refusal.js';
import { COMMAND_SCHEDULED, SCHEDULE_CANCELLED, schedule } from './schedule-events.js';
import type { ScheduleWriter } from './scheduler.js';

const worlds: ReturnType<typeof orderWorld>[] = [];
const projectors: Projector[] = [];
const world = (options: Parameters<typeof orderWorld>[0] = {}) => {
  const w = orderWorld(options);
  worlds.push(w);
  return w;
};
afterEach(async () => {
  await Promise.all([...worlds.splice(0).map((w) => w.stop()), ...projectors.splice(0).map((p) => p.stop())]);
});

const once = { attempts: 1, initialDelayMs: 0, maxDelayMs: 0 };

describe('a batch run again over events already acted on', () => {
  it('takes a command whose payload came out otherwise as already sent, not as refused', async () => {
    // The step's payload reads the clock, which moves between the two runs of the batch.
    let now = 1_000;
    const refusals: string[] = [];
    const pm = orderProcess({
      retry: once,
      handlers: {
        OrderPlaced: ({ data }, context) => ({
          send: [command(ReserveStock, { orderId: data.orderId, amount: context.now % 50 })],
        }),
      },
      onRefused: (refusal) => {
        refusals.push(refusal.code);
        return undefined;
      },
    });
    let failing = 1;
    const w = world({
      pm,
      clock: () => now++,
      // The second order's command fails once: the batch is applied again with the first order alone.
      before(sent) {
        if ((sent.data as { orderId: string }).orderId === 'b' && failing-- > 0)
          throw new ChronicleError('STORE_ERROR', 'hiccup');
      },
    });
    await w.place('a');
    await w.place('b');
    await w.start();
    await expect(w.caughtUp()).rejects.toMatchObject({ code: 'PROJECTION_FAILED' });
    await w.projector.retry('order_process');
    await w.caughtUp();
    // The first order's command was sent twice with different payloads under one key: once in effect, never refused.
    expect(w.sent.filter((s) => (s.data as { orderId: string }).orderId === 'a')).toHaveLength(2);
    expect(await w.ofType(COMMAND_REFUSED)).toEqual([]);
    expect(refusals).toEqual([]);
    expect((await w.reserved()).sort()).toEqual(['a', 'b']);
    expect((await w.projector.status())[0].lastError).toBeUndefined();
  });

  it('takes a schedule whose time came out otherwise (a writer that fingerprints it) as already made', async () => {
    const eventStore = createInMemoryEventStore();
    const readStore = createInMemoryReadStore();
    const { bus } = orderCommands(eventStore);
    const deps = { commandBus: bus, eventStore, clock: Date.now, principal: WORKFLOWS };
    const real = recordingScheduleWriter(deps);
    // A replay resolves `after` against a later clock: a writer keeping a fingerprint answers IDEMPOTENCY_MISMATCH.
    const fingerprinting: ScheduleWriter = {
      schedule: () => Promise.reject(new ChronicleError('IDEMPOTENCY_MISMATCH', 'another time under this key')),
      cancel: (...args) => real.cancel(...args),
    };
    const projector = createProjector({
      eventStore,
      readStore,
      projections: [processManagerProjection(orderProcess(), deps, fingerprinting)],
      pollIntervalMs: 5,
    });
    projectors.push(projector);
    await eventStore.append('order-m1', [{ type: 'OrderPlaced', data: { orderId: 'm1', amount: 1 } }]);
    await projector.start();
    await projector.waitForPosition(await eventStore.headPosition(), { timeoutMs: 5000 });
    await projector.waitForPosition(await eventStore.headPosition(), { timeoutMs: 5000 });
    expect((await projector.status())[0].lastError).toBeUndefined();
    expect((await eventStore.readAll({ filter: { types: ['StockReserved'] } })).length).toBe(1);
  });

  it('does not send again a command that was refused and compensated: onRefused runs again instead', async () => {
    const read = createInMemoryReadStore();
    let stockArrives = false;
    let failing = 1;
    const w = world({
      readStore: read,
      retry: once,
      before(sent) {
        const { orderId } = sent.data as { orderId: string };
        // Refused while there is no stock; by the time the batch runs again there is.
        if (sent.type === 'ReserveStock' && orderId === 'a' && !stockArrives) {
          stockArrives = true;
          throw domainError('no stock yet');
        }
        if (orderId === 'b' && failing-- > 0) throw new ChronicleError('STORE_ERROR', 'hiccup');
      },
    });
    await w.place('a');
    await w.place('b');
    await w.start();
    await expect(w.caughtUp()).rejects.toMatchObject({ code: 'PROJECTION_FAILED' });
    await w.projector.retry('order_process');
    await w.caughtUp();
    // The reservation was tried once; its refusal stands, compensated once in effect.
    expect(w.sent.filter((s) => s.type === 'ReserveStock' && (s.data as { orderId: string }).orderId === 'a')).toHaveLength(1);
    expect(await w.reserved()).toEqual(['b']);
    expect((await w.ofType('OrderReleased')).map((e) => e.data)).toEqual([{ orderId: 'a', reason: 'DOMAIN_RULE' }]);
    expect(await w.eventStore.readStream(processStreamId('order_process', 'a'))).toHaveLength(1);
    // The state is what onRefused made of it, from the same starting point, not counted twice.
    expect(read.reader('order_process').table('state').get('a')).toEqual({ amount: 1, status: 'refused', refusals: 1 });
  });

  it('bounds a cancellation to what was scheduled before it, so a replay leaves a schedule made since', async () => {
    let failing = 1;
    let later: { position: number } | undefined;
    const pm = orderProcess({
      retry: once,
      handlers: {
        // Paying cancels a reminder that nothing scheduled yet.
        OrderPaid: ({ data }) => ({ cancel: [`remind-${data.orderId}`] }),
        OrderPlaced: ({ data }) => ({ send: [command(ReleaseOrder, { orderId: data.orderId, reason: 'test' })] }),
      },
    });
    const w = world({
      pm,
      async before(sent) {
        if ((sent.data as { orderId: string }).orderId !== 'b' || failing-- <= 0) return;
        // Meanwhile the application schedules that reminder, after the cancellation found nothing to cancel.
        later = await w.writer.schedule(
          schedule(ReleaseOrder, { orderId: 'a', reason: 'reminder' }, { after: 60_000, key: 'remind-a' }),
        );
        throw new ChronicleError('STORE_ERROR', 'hiccup');
      },
    });
    await w.pay('a');
    await w.place('b');
    await w.start();
    await expect(w.caughtUp()).rejects.toMatchObject({ code: 'PROJECTION_FAILED' });
    await w.projector.retry('order_process');
    await w.caughtUp();
    const [paid] = await w.ofType('OrderPaid');
    const cancels = w.writer.calls.filter((c) => c.kind === 'cancel');
    // Both runs cancel under one key and one bound, the paying event's: the reminder scheduled since is after it.
    expect(cancels).toHaveLength(2);
    expect(cancels.map((c) => c.before)).toEqual([paid.position + 1, paid.position + 1]);
    expect(later!.position).toBeGreaterThan(paid.position);
    expect(new Set(cancels.map((c) => c.idempotencyKey)).size).toBe(1);
  });

  it('on an operator rebuild, rebuilds the state without sending, scheduling, cancelling or recording anything', async () => {
    const read = createInMemoryReadStore();
    const w = world({ readStore: read });
    await w.place('r1', 2);
    await w.place('big', 500);
    await w.place('paid', 3);
    await w.pay('paid');
    await w.start();
    await w.caughtUp();
    const served = read.reader('order_process').table('state');
    const before = { r1: served.get('r1'), big: served.get('big'), paid: served.get('paid') };
    expect(before.big).toEqual({ amount: 500, status: 'refused', refusals: 1 });
    const sent = w.sent.length;
    const calls = w.writer.calls.length;
    const head = await w.eventStore.headPosition();

    await w.projector.rebuild('order_process');
    expect(w.sent.length).toBe(sent);
    expect(w.writer.calls.length).toBe(calls);
    expect(await w.eventStore.headPosition()).toBe(head);
    // The same state as before, the refused order's as onRefused left it (its refusal found, not made again).
    const rebuilt = read.reader('order_process').table('state');
    expect({ r1: rebuilt.get('r1'), big: rebuilt.get('big'), paid: rebuilt.get('paid') }).toEqual(before);

    // What comes after is acted on.
    await w.place('r2');
    await w.caughtUp();
    expect((await w.reserved()).sort()).toEqual(['paid', 'r1', 'r2']);
    expect(w.sent.length).toBe(sent + 1);
  });

  it('on a raised version, acts only on what the previous version had not reached', async () => {
    const eventStore = createInMemoryEventStore();
    const readStore = createInMemoryReadStore();
    const v1 = world({ eventStore, readStore });
    await v1.place('old1');
    await v1.place('old2', 500);
    await v1.start();
    await v1.caughtUp();
    await v1.stop();
    const refusalsBefore = (await v1.ofType(COMMAND_REFUSED)).length;
    const scheduledBefore = (await v1.ofType(COMMAND_SCHEDULED)).length;
    await v1.place('new1');

    // Version 2 reserves twice the amount and sends a second command: neither may reach the old orders.
    const v2pm = orderProcess({
      version: 2,
      handlers: {
        OrderPlaced: ({ data }) => ({
          state: { amount: data.amount, status: 'placed' },
          send: [
            command(ReserveStock, { orderId: data.orderId, amount: data.amount * 2 }),
            command(ReleaseOrder, { orderId: data.orderId, reason: 'v2' }),
          ],
        }),
      },
    });
    const v2 = world({ eventStore, readStore, pm: v2pm });
    await v2.start();
    await v2.caughtUp();
    expect(v2.sent.map((s) => [s.type, (s.data as { orderId: string }).orderId])).toEqual([
      ['ReserveStock', 'new1'],
      ['ReleaseOrder', 'new1'],
    ]);
    expect((await v2.ofType(COMMAND_REFUSED)).length).toBe(refusalsBefore);
    expect((await v2.ofType(COMMAND_SCHEDULED)).length).toBe(scheduledBefore);
    expect((await v2.ofType(SCHEDULE_CANCELLED)).length).toBe(0);
    const refused = (await v2.ofType(COMMAND_REFUSED)).map((e) => (e.data as CommandRefusedData).key);
    expect(refused).toEqual(['old2']);
    // Its state for the old orders is rebuilt (the refused one through onRefused), for the new one acted on.
    const state = readStore.reader('order_process').table('state');
    expect(state.get('old1')).toEqual({ amount: 1, status: 'placed' });
    expect(state.get('old2')).toEqual({ amount: 500, status: 'refused', refusals: 1 });
    expect(state.get('new1')).toEqual({ amount: 1, status: 'placed' });
    const [status] = await v2.projector.status();
    expect(status.version).toBe(2);
    expect(status.lastError).toBeUndefined();
  });
});
