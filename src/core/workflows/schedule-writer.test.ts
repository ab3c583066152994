import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { Bump, scheduleCommands, scheduleStream } from '../../../test/support/workflows-schedule-kit.js';
import { ChronicleError, isChronicleError } from '../errors.js';
import type { EventStore, RecordedEvent } from '../event-store.js';
import { createInMemoryEventStore } from '../in-memory-event-store.js';
import { defineCommand, defineEvent } from '../messages.js';
import { createInMemoryReadStore } from '../projections/in-memory-read-store.js';
import { createProjector } from '../projections/projector.js';
import { createWorkflows } from './create-workflows.js';
import { defineProcessManager } from './define-process-manager.js';
import { COMMAND_SCHEDULED, SCHEDULE_CANCELLED, schedule, scheduleStreamId } from './schedule-events.js';
import { createScheduleWriter, type ScheduleWriter } from './scheduler.js';

const T0 = Date.parse('2031-03-01T12:00:00.000Z');
const H = 3_600_000;

function writer(eventStore: EventStore = createInMemoryEventStore()): { eventStore: EventStore; writer: ScheduleWriter } {
  const { bus } = scheduleCommands(eventStore);
  return {
    eventStore,
    writer: createScheduleWriter({ commandBus: bus, eventStore, clock: () => T0, principal: { id: 'p', roles: [] } }),
  };
}

const types = async (store: EventStore, key: string) => (await scheduleStream(store, key)).map((e) => e.type);

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

describe('cancelling a schedule', () => {
  it('records that there was nothing to cancel, so a repeat cancels nothing scheduled since', async () => {
    const { eventStore, writer: w } = writer();
    expect(await w.cancel('k-noop', 'pm:e1:c0')).toBe(false);
    await w.schedule(schedule(Bump, { id: 'a' }, { key: 'k-noop', after: H }));
    // The same step again (a batch re-run): it answers as the first did, and the schedule made since stands.
    expect(await w.cancel('k-noop', 'pm:e1:c0')).toBe(false);
    expect(await types(eventStore, 'k-noop')).toEqual([COMMAND_SCHEDULED]);
    // Under another key it is a cancel of its own.
    expect(await w.cancel('k-noop', 'pm:e2:c0')).toBe(true);
    expect(await w.cancel('k-noop', 'pm:e2:c0')).toBe(true);
    expect(await types(eventStore, 'k-noop')).toEqual([COMMAND_SCHEDULED, SCHEDULE_CANCELLED]);
  });

  it('with `before`, cancels only a scheduling positioned before it', async () => {
    const { eventStore, writer: w } = writer();
    const first = await w.schedule(schedule(Bump, { id: 'a' }, { key: 'k-before', after: H }));
    expect(await w.cancel('k-before', undefined, { before: first.position })).toBe(false);
    expect(await types(eventStore, 'k-before')).toEqual([COMMAND_SCHEDULED]);
    expect(await w.cancel('k-before', undefined, { before: first.position + 1 })).toBe(true);
    // Rescheduled after the position: the new scheduling stands.
    const again = await w.schedule(schedule(Bump, { id: 'b' }, { key: 'k-before', after: H }));
    expect(await w.cancel('k-before', 'x:1', { before: again.position - 1 })).toBe(false);
    expect(await w.cancel('k-before', 'x:1', { before: again.position + 5 })).toBe(false);
    expect(await types(eventStore, 'k-before')).toEqual([COMMAND_SCHEDULED, SCHEDULE_CANCELLED, COMMAND_SCHEDULED]);
  });

  it('counts a scheduling made with a cause as made at the cause, and stamps its correlation', async () => {
    const { eventStore, writer: w } = writer();
    const [trigger] = await eventStore
      .append('order-o1', [{ type: 'OrderPlaced', data: {}, metadata: { correlationId: 'corr-1' } }])
      .then(async () => eventStore.readStream('order-o1'));
    const [paid] = await eventStore
      .append('order-o1', [{ type: 'OrderPaid', data: {} }])
      .then(async () => eventStore.readStream('order-o1', { from: 2 }));
    // Written after both events (a process acting on a batch), in answer to the first.
    const receipt = await w.schedule(schedule(Bump, { id: 'o1' }, { key: 'expire-o1', after: H }), 'pm:e:s0', {
      cause: trigger,
    });
    expect(receipt.position).toBeGreaterThan(paid.position);
    const [scheduled] = await eventStore.readStream(scheduleStreamId('expire-o1'));
    expect(scheduled.metadata).toMatchObject({
      correlationId: 'corr-1',
      causationId: trigger.id,
      causationPosition: trigger.position,
    });
    // The second event's step cancels what the first's made, though it was written later.
    expect(await w.cancel('expire-o1', 'pm:paid:c0', { before: paid.position })).toBe(true);
  });

  it('refuses a bad position or cause, writing nothing', async () => {
    const { eventStore, writer: w } = writer();
    const s = schedule(Bump, { id: 'a' }, { key: 'k-bad', at: T0 });
    const bad = [
      w.cancel('k-bad', undefined, { before: 0 }),
      w.cancel('k-bad', undefined, { before: 1.5 }),
      w.cancel('k-bad', undefined, { before: '3' as never }),
      w.cancel('k-bad', undefined, null as never),
      w.schedule(s, undefined, { cause: { id: '', position: 1 } }),
      w.schedule(s, undefined, { cause: { id: 'e', position: -1 } }),
      w.schedule(s, undefined, { cause: 'e' as never }),
    ];
    for (const promise of bad) {
      const err = await rejection(promise);
      expect(isChronicleError(err, 'INVALID_ARGUMENT'), String(err)).toBe(true);
    }
    expect(await eventStore.headPosition()).toBe(0);
  });

  it('cancels once when the same cancel runs concurrently, every call answering true', async () => {
    const { eventStore, writer: w } = writer();
    await w.schedule(schedule(Bump, { id: 'a' }, { key: 'k-race', after: H }));
    const answers = await Promise.all(Array.from({ length: 8 }, () => w.cancel('k-race', 'pm:e:c0')));
    expect(answers).toEqual(Array(8).fill(true));
    expect(await types(eventStore, 'k-race')).toEqual([COMMAND_SCHEDULED, SCHEDULE_CANCELLED]);
  });

  it('answers false for a deleted schedule stream', async () => {
    const { eventStore, writer: w } = writer();
    await w.schedule(schedule(Bump, { id: 'a' }, { key: 'k-deleted', after: H }));
    await eventStore.deleteStream(scheduleStreamId('k-deleted'));
    expect(await w.cancel('k-deleted')).toBe(false);
    expect(await w.cancel('k-deleted', 'pm:e:c0')).toBe(false);
  });

  it('keeps a schedule made after a process step that found nothing to cancel, when the step is run again', async () => {
    // A step cancels a reminder that is not there; a later event's step schedules it (through application code) and
    // then fails, so the batch runs again from the first event. The second run must not cancel the new reminder.
    const Ev = defineEvent('Ev', z.object({ id: z.string() }));
    const Fail = defineCommand('Fail', z.object({ id: z.string() }));
    const eventStore = createInMemoryEventStore();
    const readStore = createInMemoryReadStore();
    const { bus } = scheduleCommands(eventStore);
    let failing = 1;
    let workflows: ReturnType<typeof createWorkflows> | undefined;
    bus.register(Fail, async () => {
      if (failing-- > 0) {
        await workflows?.schedule(Bump, { id: 'o1' }, { key: 'remind-o1', after: H });
        throw new ChronicleError('STORE_ERROR', 'transient');
      }
      return { streamId: 'fail', version: 0, position: 0 };
    });
    const pm = defineProcessManager<unknown, typeof Ev>({
      name: 'reminders',
      version: 1,
      events: [Ev],
      // One process: its steps run in event order, so the cancel has run (finding nothing) when the schedule is made.
      correlate: () => 'o1',
      handlers: {
        Ev: (event: RecordedEvent<'Ev', { id: string }>) =>
          event.data.id === 'a' ? { cancel: ['remind-o1'] } : { send: [{ type: 'Fail', data: { id: 'b' } }] },
      },
      retry: { attempts: 1, initialDelayMs: 0, maxDelayMs: 0 },
    });
    workflows = createWorkflows({ commandBus: bus, eventStore, readStore, processManagers: [pm], scheduler: false });
    await eventStore.append('s-a', [{ type: 'Ev', data: { id: 'a' } }]);
    await eventStore.append('s-b', [{ type: 'Ev', data: { id: 'b' } }]);
    const projector = createProjector({ eventStore, readStore, projections: workflows.projections, pollIntervalMs: 5 });
    await projector.start();
    try {
      await expect.poll(async () => (await projector.status())[0].position, { timeout: 5000 }).toBeGreaterThanOrEqual(1);
      await expect.poll(async () => (await projector.status())[0].state, { timeout: 5000 }).not.toBe('live');
      expect(await types(eventStore, 'remind-o1')).toEqual([COMMAND_SCHEDULED]);
    } finally {
      await projector.stop();
    }
  });
});
