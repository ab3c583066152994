import { describe, expect, it } from 'vitest';
import { Bump, scheduleCommands, scheduleStream } from '../../../test/support/workflows-schedule-kit.js';
import { createCommandBus } from '../command-bus.js';
import { ChronicleError, type ChronicleErrorCode } from '../errors.js';
import type { EventStore } from '../event-store.js';
import { createInMemoryEventStore } from '../in-memory-event-store.js';
import { cancelSchedule, SCHEDULE_FIRED, schedule } from './schedule-events.js';
import { fireSchedule, firingKey } from './schedule-firing.js';
import { pause, REFUSAL_CODES } from './workflow-failures.js';
import type { WorkflowDeps } from './workflow-types.js';

const retry = { attempts: 3, initialDelayMs: 1, maxDelayMs: 4 };
const principal = { id: 'chronicle-workflows', roles: ['system'] };

function deps(eventStore: EventStore, commandBus = scheduleCommands(eventStore).bus): WorkflowDeps {
  return { eventStore, commandBus, clock: Date.now, principal };
}

async function scheduled(store: EventStore, key: string, id = key) {
  const s = schedule(Bump, { id }, { key, at: 0 });
  const { version } = await store.append(s.streamId, [{ type: s.type, data: s.data }]);
  return { key, version, dueMs: 0 };
}

const context = (d: WorkflowDeps, signal = new AbortController().signal) => ({ deps: d, retry, signal });

describe('firing one schedule', () => {
  it('sends nothing for a scheduling the log no longer has pending: cancelled, replaced, fired, or never written', async () => {
    const store = createInMemoryEventStore();
    const commands = scheduleCommands(store);
    const d = deps(store, commands.bus);

    const cancelled = await scheduled(store, 'cancelled');
    const c = cancelSchedule('cancelled');
    await store.append(c.streamId, [{ type: c.type, data: c.data }]);
    expect(await fireSchedule(cancelled, context(d))).toEqual({ fired: false, reason: 'stale' });

    const replaced = await scheduled(store, 'replaced', 'old');
    const latest = await scheduled(store, 'replaced', 'new');
    expect(await fireSchedule(replaced, context(d))).toEqual({ fired: false, reason: 'stale' });
    expect(commands.calls.Bump).toBe(0);
    expect(await fireSchedule(latest, context(d))).toEqual({ fired: true, outcome: 'done' });
    expect([await commands.bumps('old'), await commands.bumps('new')]).toEqual([0, 1]);

    // Fired already: the stream ends with the firing.
    expect(await fireSchedule(latest, context(d))).toEqual({ fired: false, reason: 'stale' });
    expect(await fireSchedule({ key: 'nothing-here', version: 1, dueMs: 0 }, context(d))).toEqual({
      fired: false,
      reason: 'stale',
    });
    expect(commands.calls.Bump).toBe(1);
  });

  it('lets a cancel that arrives while the command is sent stand, recording no firing over it', async () => {
    const store = createInMemoryEventStore();
    const bus = createCommandBus();
    // The command's handler is where the race is won: a cancel lands between the confirmation and the record.
    bus.register(Bump, async () => {
      const c = cancelSchedule('raced');
      return { ok: true, ...(await store.append(c.streamId, [{ type: c.type, data: c.data }])) } as never;
    });
    const pending = await scheduled(store, 'raced');
    expect(await fireSchedule(pending, context(deps(store, bus)))).toMatchObject({ fired: true, outcome: 'done' });
    expect((await scheduleStream(store, 'raced')).map((e) => e.type)).toEqual([
      'chronicle.CommandScheduled',
      'chronicle.ScheduleCancelled',
    ]);
  });

  it('records every business refusal as refused, without trying again', async () => {
    for (const code of REFUSAL_CODES) {
      const store = createInMemoryEventStore();
      const bus = createCommandBus();
      let calls = 0;
      bus.register(Bump, async () => {
        calls++;
        throw new ChronicleError(code as ChronicleErrorCode, `no (${code})`);
      });
      const pending = await scheduled(store, `refused-${code}`);
      expect(await fireSchedule(pending, context(deps(store, bus)))).toMatchObject({
        fired: true,
        outcome: 'refused',
        error: { code, message: `no (${code})` },
      });
      expect(calls).toBe(1);
      const fired = (await scheduleStream(store, `refused-${code}`)).at(-1);
      expect(fired).toMatchObject({ type: SCHEDULE_FIRED, data: { outcome: 'refused', error: { code } } });
    }
  });

  it('holds a command refused for a reason that is no business answer (a missing handler, a policy, a bug)', async () => {
    // Mid-deploy, misconfigured or broken: recorded as refused, the schedule would be lost; held, it fires once fixed.
    for (const code of ['UNKNOWN_MESSAGE', 'FORBIDDEN', 'UNAUTHENTICATED', 'INVALID_ARGUMENT', 'CLOSED'] as const) {
      const store = createInMemoryEventStore();
      const bus = createCommandBus();
      let calls = 0;
      bus.register(Bump, async () => {
        calls++;
        throw new ChronicleError(code, `no (${code})`);
      });
      const pending = await scheduled(store, `held-${code}`);
      expect(await fireSchedule(pending, context(deps(store, bus)))).toEqual({
        fired: false,
        reason: 'failed',
        error: { code, message: `no (${code})` },
      });
      expect(calls).toBe(retry.attempts);
      expect((await scheduleStream(store, `held-${code}`)).length).toBe(1);
    }
  });

  it('takes IDEMPOTENCY_MISMATCH under its own key as sent before, and records the firing as done', async () => {
    // Only a send under this scheduling's key that took effect stores the key: whatever the fingerprint says now.
    const store = createInMemoryEventStore();
    const bus = createCommandBus();
    bus.register(Bump, async () => {
      throw new ChronicleError('IDEMPOTENCY_MISMATCH', 'stored with another fingerprint');
    });
    const pending = await scheduled(store, 'mismatch');
    expect(await fireSchedule(pending, context(deps(store, bus)))).toEqual({ fired: true, outcome: 'done' });
    expect((await scheduleStream(store, 'mismatch')).at(-1)).toMatchObject({
      type: SCHEDULE_FIRED,
      data: { outcome: 'done', scheduled: 1 },
    });
  });

  it('tries a transient failure again with backoff, then reports it without recording anything', async () => {
    for (const failure of [
      new ChronicleError('CONCURRENCY_CONFLICT', 'busy'),
      new ChronicleError('TIMEOUT', 'slow'),
      new TypeError('bug'),
    ]) {
      const store = createInMemoryEventStore();
      const bus = createCommandBus();
      let calls = 0;
      bus.register(Bump, async () => {
        calls++;
        throw failure;
      });
      const pending = await scheduled(store, 'transient');
      const firing = await fireSchedule(pending, context(deps(store, bus)));
      expect(firing).toMatchObject({ fired: false, reason: 'failed', error: { message: failure.message } });
      expect(calls).toBe(retry.attempts);
      expect((await scheduleStream(store, 'transient')).length).toBe(1);
    }
  });

  it('stops waiting to try again when its signal aborts', async () => {
    const store = createInMemoryEventStore();
    const bus = createCommandBus();
    bus.register(Bump, async () => {
      throw new ChronicleError('STORE_ERROR', 'down');
    });
    const abort = new AbortController();
    const pending = await scheduled(store, 'stopped');
    const firing = fireSchedule(pending, {
      deps: deps(store, bus),
      retry: { ...retry, initialDelayMs: 600_000 },
      signal: abort.signal,
    });
    abort.abort();
    expect(await firing).toEqual({ fired: false, reason: 'stopped' });
    expect(await pause(600_000, abort.signal)).toBe(false);
  });

  it('derives the command key from the scheduling, hashing a key too long for the store', () => {
    expect(firingKey('Bump', 'expire-o1', 3)).toBe('chronicle.schedule:expire-o1:3');
    const long = 'k'.repeat(400);
    const hashed = firingKey('A'.repeat(100), long, 12);
    expect(hashed).toMatch(/^chronicle\.schedule:#[\w-]{43}:12$/);
    expect(firingKey('A'.repeat(100), long, 12)).toBe(hashed);
    expect(firingKey('A'.repeat(100), `${long.slice(1)}j`, 12)).not.toBe(hashed);
    expect(firingKey('A'.repeat(100), long, 13)).not.toBe(hashed);
  });
});
