import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { isChronicleError } from '../errors.js';
import type { RecordedEvent } from '../event-store.js';
import { defineCommand } from '../messages.js';
import {
  assertScheduledCommand,
  COMMAND_SCHEDULED,
  type CommandScheduledData,
  dueTimeOf,
  resolveAfter,
  schedule,
} from './schedule-events.js';

const C = defineCommand('C', z.object({}));
// The last instant a Date can hold, in ms either side of the epoch.
const MAX_TIME = 8.64e15;

function thrown(run: () => unknown): unknown {
  try {
    run();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}

const invalid = (run: () => unknown) => {
  const err = thrown(run);
  expect(isChronicleError(err, 'INVALID_ARGUMENT'), String(err)).toBe(true);
};

function recorded(data: Partial<CommandScheduledData>, timestamp = '2030-01-01T00:00:00.000Z'): RecordedEvent {
  return {
    id: 'e1',
    type: COMMAND_SCHEDULED,
    streamId: 'chronicle.schedule-k',
    version: 1,
    position: 1,
    tags: [],
    data: { key: 'k', command: { type: 'C', data: {} }, ...data },
    metadata: { schemaVersion: 1, timestamp },
  };
}

describe('schedule times', () => {
  it('takes a delay only as whole ms within the range of a Date', () => {
    expect(schedule(C, {}, { key: 'k', after: 0 }).data.after).toBe(0);
    expect(schedule(C, {}, { key: 'k', after: MAX_TIME }).data.after).toBe(MAX_TIME);
    for (const after of [1.5, 1500.5, 1e300, MAX_TIME + 1, -1, Number.NaN, Number.POSITIVE_INFINITY, '10']) {
      invalid(() => schedule(C, {}, { key: 'k', after: after as number }));
    }
  });

  it('takes a time only within the range of a Date, and a string only in ISO-8601 with a zone', () => {
    expect(schedule(C, {}, { key: 'k', at: MAX_TIME }).data.at).toBe('+275760-09-13T00:00:00.000Z');
    expect(schedule(C, {}, { key: 'k', at: '2030-01-01T02:00:00+02:00' }).data.at).toBe('2030-01-01T00:00:00.000Z');
    expect(schedule(C, {}, { key: 'k', at: new Date(0) }).data.at).toBe('1970-01-01T00:00:00.000Z');
    for (const at of [
      MAX_TIME + 1,
      -MAX_TIME - 1,
      1e20,
      '+275760-09-13T00:00:00.001Z',
      'Jan 1 2020',
      '2020-01-01',
      '1700000000000',
    ]) {
      invalid(() => schedule(C, {}, { key: 'k', at }));
    }
    invalid(() => schedule(C, {}, { key: 'k', at: new Date(Number.NaN) }));
  });

  it('checks a hand-built scheduled command the same way', () => {
    const good = schedule(C, {}, { key: 'k', at: 0 });
    expect(() => assertScheduledCommand(good)).not.toThrow();
    expect(() => assertScheduledCommand(schedule(C, {}, { key: 'k', after: 10 }))).not.toThrow();
    for (const data of [
      { key: 'k', command: good.data.command, at: 'Jan 1 2020' },
      { key: 'k', command: good.data.command, at: '2020-01-01' },
      { key: 'k', command: good.data.command, at: 5 },
      { key: 'k', command: good.data.command, after: 1500.5 },
      { key: 'k', command: good.data.command, after: 1e300 },
    ]) {
      invalid(() => assertScheduledCommand({ ...good, data }));
    }
  });

  it('resolves `after` to a time only when the sum is a time a Date can hold', () => {
    const s = schedule(C, {}, { key: 'k', after: 1000 });
    expect(resolveAfter(s, 0).data).toEqual({ key: 'k', command: s.data.command, at: '1970-01-01T00:00:01.000Z' });
    invalid(() => resolveAfter(schedule(C, {}, { key: 'k', after: MAX_TIME }), 1));
    invalid(() => resolveAfter(s, Number.NaN));
  });

  it('gives a due time in whole ms within the range of a Date, even for an event stored unchecked', () => {
    expect(dueTimeOf(recorded({ after: 1000 }))).toBe(Date.parse('2030-01-01T00:00:01.000Z'));
    expect(dueTimeOf(recorded({ at: '2031-01-01T00:00:00.000Z' }))).toBe(Date.parse('2031-01-01T00:00:00.000Z'));
    // Stored before the checks, or appended by hand: a fraction is floored and a huge delay is the last Date.
    expect(dueTimeOf(recorded({ after: 1500.5 }))).toBe(Date.parse('2030-01-01T00:00:01.500Z'));
    expect(dueTimeOf(recorded({ after: 1e300 }))).toBe(MAX_TIME);
  });
});
