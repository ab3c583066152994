// Scheduled commands as events: scheduling one appends a CommandScheduled event to the schedule's own stream, so a
// schedule made by a decision commits with the decision's events, and one made by a process or by application code is
// as durable as any event. The scheduler projection keeps the pending ones; cancelling or firing appends again.
import type { Command } from '../command-handler.js';
import { ChronicleError } from '../errors.js';
import type { RecordedEvent, TaggedEvent } from '../event-store.js';
import type { CommandDefinition, InputOf } from '../messages.js';
import { nameProblem } from '../name-rules.js';

/**
 * A command was scheduled, or rescheduled: the latest under a key replaces the pending one — unless the pending one's
 * firing had already begun, in which case it still takes effect too (see `cancelSchedule`).
 */
export const COMMAND_SCHEDULED = 'chronicle.CommandScheduled';
/** A schedule was cancelled before it fired. */
export const SCHEDULE_CANCELLED = 'chronicle.ScheduleCancelled';
/** A schedule's command was sent (and took effect, or was refused: `outcome` says which). */
export const SCHEDULE_FIRED = 'chronicle.ScheduleFired';

/** Every event type the scheduler writes and reads. */
export const SCHEDULE_EVENT_TYPES = [COMMAND_SCHEDULED, SCHEDULE_CANCELLED, SCHEDULE_FIRED] as const;

const STREAM_PREFIX = 'chronicle.schedule-';
const MAX_KEY_LENGTH = 400;

/**
 * When a scheduled command is due: `at` a time (a Date, epoch ms, or an ISO-8601 date-time with Z or an offset), or
 * `after` a whole number of ms from when it is scheduled; either within the range of a Date.
 */
export type ScheduleTiming = { at: Date | string | number; after?: undefined } | { after: number; at?: undefined };

/** How a command is scheduled: when, and the key it is known, replaced and cancelled by. */
export type ScheduleOptions = ScheduleTiming & {
  /**
   * Unique per schedule (e.g. `expire-order-o1`): scheduling again under it replaces the pending one. Not atomically
   * with its firing: if that had begun (confirmed as pending, command on its way), the old command still takes effect
   * and the new one fires later, so a command must check its own state (e.g. that the order is still unpaid).
   */
  key: string;
};

/** The data of a CommandScheduled event. Exactly one of `at` and `after` is set. */
export type CommandScheduledData = {
  key: string;
  command: Command;
  /** ISO-8601 time it is due. */
  at?: string;
  /** Due this many ms after the event was recorded (a decision has no clock; its event's timestamp is the time). */
  after?: number;
};

/** The data of a ScheduleCancelled event. */
export type ScheduleCancelledData = { key: string };

/** The data of a ScheduleFired event: which scheduling (its version in the stream) fired, and how it went. */
export type ScheduleFiredData = {
  key: string;
  /** The stream version of the CommandScheduled event that fired. */
  scheduled: number;
  outcome: 'done' | 'refused';
  /** The refusal's code and message when refused. */
  error?: { code: string; message: string };
};

/**
 * A command to send later. It is itself the event that records it, so a decision may return it among its events
 * (it commits with them), a process manager returns it in `schedule`, and application code passes it to
 * `workflows.schedule`.
 */
export type ScheduledCommand = TaggedEvent<typeof COMMAND_SCHEDULED, CommandScheduledData>;

/** The stream holding a schedule's events. @throws INVALID_ARGUMENT bad key */
export function scheduleStreamId(key: string): string {
  assertScheduleKey(key);
  return `${STREAM_PREFIX}${key}`;
}

/** @throws INVALID_ARGUMENT unless `key` is a non-empty string of at most 400 characters without control characters */
export function assertScheduleKey(key: unknown): asserts key is string {
  const problem = nameProblem(key, 'schedule key');
  if (problem) throw new ChronicleError('INVALID_ARGUMENT', problem);
  if ((key as string).length > MAX_KEY_LENGTH) {
    throw new ChronicleError('INVALID_ARGUMENT', `schedule key is longer than ${MAX_KEY_LENGTH} characters`);
  }
}

/**
 * Schedules `definition` with `payload` at `options.at`, or `options.after` ms from when the returned event is
 * recorded. The payload is typed by the definition and validated when the command is sent, like any dispatch.
 * @throws INVALID_ARGUMENT bad key, a time that is not a Date, epoch ms or an ISO-8601 date-time with a zone within the
 *   range of a Date, a delay that is not a whole number of ms within it, or both/neither
 */
export function schedule<D extends CommandDefinition>(
  definition: D,
  payload: InputOf<D>,
  options: ScheduleOptions,
): ScheduledCommand {
  if (typeof definition?.name !== 'string') throw new ChronicleError('INVALID_ARGUMENT', 'schedule needs a command definition');
  if (typeof options !== 'object' || options === null) {
    throw new ChronicleError('INVALID_ARGUMENT', 'schedule needs options { key, at | after }');
  }
  const { key } = options;
  const streamId = scheduleStreamId(key);
  if (options.at !== undefined && options.after !== undefined) {
    throw new ChronicleError('INVALID_ARGUMENT', `schedule ${key}: give at or after, not both`);
  }
  const command: Command = { type: definition.name, data: payload };
  const data: CommandScheduledData =
    options.at !== undefined ? { key, command, at: toIso(options.at) } : { key, command, after: toDelay(options.after) };
  return { streamId, type: COMMAND_SCHEDULED, data };
}

/**
 * The event that cancels the schedule under `key`, for a decision to return. It cannot stop a firing that has begun
 * (the scheduler confirmed the schedule as pending and sent its command): the command then still takes effect, so a
 * command that must not take effect after a cancel checks its own state (ExpireOrder leaves a paid order alone).
 * @throws INVALID_ARGUMENT bad key
 */
export function cancelSchedule(key: string): TaggedEvent<typeof SCHEDULE_CANCELLED, ScheduleCancelledData> {
  return { streamId: scheduleStreamId(key), type: SCHEDULE_CANCELLED, data: { key } };
}

/** The key of a schedule stream, or undefined when `streamId` is not one. */
export function scheduleKeyOf(streamId: string): string | undefined {
  return streamId.startsWith(STREAM_PREFIX) ? streamId.slice(STREAM_PREFIX.length) : undefined;
}

/**
 * Checks a ScheduledCommand built by hand (or arriving from outside) as `schedule()` would have built it: the type,
 * the stream matching the key, a command with a type, and exactly one valid `at` or `after`.
 * @throws INVALID_ARGUMENT naming what is wrong
 */
export function assertScheduledCommand(s: unknown): asserts s is ScheduledCommand {
  const bad = (why: string) => new ChronicleError('INVALID_ARGUMENT', `not a scheduled command: ${why}`);
  if (typeof s !== 'object' || s === null) throw bad('expected the event schedule() returns');
  const { type, streamId, data } = s as Partial<ScheduledCommand>;
  if (type !== COMMAND_SCHEDULED) throw bad(`type must be ${COMMAND_SCHEDULED}`);
  if (typeof data !== 'object' || data === null) throw bad('data is missing');
  assertScheduleKey(data.key);
  if (streamId !== scheduleStreamId(data.key)) throw bad(`streamId must be ${scheduleStreamId(data.key)}`);
  const command = data.command as Partial<Command> | undefined;
  if (typeof command !== 'object' || command === null || typeof command.type !== 'string' || command.type === '') {
    throw bad('data.command must be { type, data }');
  }
  if ((data.at === undefined) === (data.after === undefined)) throw bad('give exactly one of data.at and data.after');
  if (data.at !== undefined && (typeof data.at !== 'string' || isoMs(data.at) === undefined)) {
    throw bad('data.at must be an ISO-8601 date-time with Z or an offset');
  }
  if (data.after !== undefined) toDelay(data.after);
}

/**
 * A CommandScheduled event's due time in whole ms: its `at`, or its recorded time plus `after`, floored and held within
 * the range of a Date (so an event stored before the checks, or appended by hand, still has a time a table can keep).
 * NaN only when the event has no readable time at all.
 */
export function dueTimeOf(event: RecordedEvent): number {
  const data = event.data as CommandScheduledData;
  const ms = data.at !== undefined ? Date.parse(data.at) : Date.parse(event.metadata.timestamp) + (data.after ?? 0);
  return Math.min(Math.max(Math.floor(ms), -MAX_TIME), MAX_TIME);
}

/**
 * `s` with `after` resolved against `now`: what a process or application code stores, as they have a clock.
 * @throws INVALID_ARGUMENT when `now + after` is not a time a Date can hold
 */
export function resolveAfter(s: ScheduledCommand, now: number): ScheduledCommand {
  if (s.data.after === undefined) return s;
  const { after, ...rest } = s.data;
  const ms = now + after;
  if (!Number.isFinite(ms) || Math.abs(ms) > MAX_TIME) {
    throw new ChronicleError(
      'INVALID_ARGUMENT',
      `schedule ${s.data.key}: ${after} ms after ${now} is beyond the times a Date can hold`,
    );
  }
  return { ...s, data: { ...rest, at: new Date(ms).toISOString() } };
}

// The furthest a Date reaches either side of the epoch, in ms.
const MAX_TIME = 8.64e15;

// A full date-time with its zone: a date alone or a local time would mean another instant on another server.
const ISO_DATE_TIME = /^(?:[+-]\d{6}|\d{4})-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2})$/;

// The ms of an ISO-8601 date-time with a zone, or undefined.
function isoMs(at: string): number | undefined {
  if (!ISO_DATE_TIME.test(at)) return undefined;
  const ms = Date.parse(at);
  return Number.isFinite(ms) ? ms : undefined;
}

function toIso(at: Date | string | number): string {
  const ms = at instanceof Date ? at.getTime() : typeof at === 'string' ? isoMs(at) : at;
  if (typeof ms !== 'number' || !Number.isFinite(ms) || Math.abs(ms) > MAX_TIME) {
    throw new ChronicleError(
      'INVALID_ARGUMENT',
      `schedule time must be a Date, an ISO-8601 date-time with Z or an offset, or epoch ms, within the range of a Date; got ${String(at)}`,
    );
  }
  return new Date(ms).toISOString();
}

function toDelay(after: unknown): number {
  if (typeof after !== 'number' || !Number.isSafeInteger(after) || after < 0 || after > MAX_TIME) {
    throw new ChronicleError(
      'INVALID_ARGUMENT',
      `schedule needs at, or after as a whole number of ms from 0 to ${MAX_TIME}; got ${String(after)}`,
    );
  }
  return after;
}
