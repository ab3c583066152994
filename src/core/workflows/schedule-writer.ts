// The writes of schedules and cancellations: appends to a schedule's own stream, each under an optional idempotency
// key, so a process that runs a step again (after a crash or a failure later in its batch) changes nothing twice.
import type { CommandBus } from '../command-bus.js';
import { ChronicleError, isChronicleError } from '../errors.js';
import { Query } from '../event-query.js';
import type { AppendResult, EventMetadata, NewEvent, RecordedEvent } from '../event-store.js';
import { validate } from '../messages.js';
import {
  assertScheduledCommand,
  assertScheduleKey,
  COMMAND_SCHEDULED,
  type CommandScheduledData,
  dueTimeOf,
  resolveAfter,
  SCHEDULE_CANCELLED,
  type ScheduleCancelledData,
  type ScheduledCommand,
  scheduleStreamId,
} from './schedule-events.js';
import type { WorkflowDeps } from './workflow-types.js';

/** What scheduling recorded. */
export type ScheduleReceipt = { key: string; at: string; position: number };

/** The event a scheduling answers: a process manager's triggering event (a RecordedEvent will do). */
export type ScheduleCause = Pick<RecordedEvent, 'id' | 'position'> & { metadata?: Pick<EventMetadata, 'correlationId'> };

/** How a scheduling is written. */
export type ScheduleWriteOptions = {
  /**
   * The event it answers: the CommandScheduled carries its correlation and causation (so does the command when it
   * fires), and counts as made at the cause's position for `cancel(…, { before })`.
   */
  cause?: ScheduleCause;
};

/** Which pending scheduling a cancel may cancel. */
export type CancelOptions = {
  /**
   * A log position (a process passes its triggering event's): cancel only a scheduling made before it (its
   * CommandScheduled positioned before it, or, scheduled with a cause, that cause). One made since stands, so a step
   * run late or run again cancels the same scheduling or none, never one made after its event.
   */
  before?: number;
};

/** Writes schedules and cancellations to the log. */
export interface ScheduleWriter {
  /**
   * Records `s` (an `after` resolved against the clock), replacing the pending schedule under its key (one whose
   * firing has begun still takes effect: see `cancel`). With `idempotencyKey`, a repeat records nothing and answers
   * with what the first recorded. The command must be one the bus knows; its payload is validated now.
   * @throws INVALID_ARGUMENT not a scheduled command, bad key, time or cause; VALIDATION_FAILED bad payload;
   * UNKNOWN_MESSAGE a command the bus does not know; IDEMPOTENCY_MISMATCH; STORE_ERROR
   */
  schedule(s: ScheduledCommand, idempotencyKey?: string, options?: ScheduleWriteOptions): Promise<ScheduleReceipt>;
  /**
   * Cancels the pending schedule under `key` (with `before`, only one made before that position); false when none
   * was. With `idempotencyKey` the outcome, either one, is recorded under it: a repeat records nothing and answers as
   * the first did. A cancel that races the schedule's firing may answer true while the command is already on its way
   * (the firing confirmed it as pending just before): the command's own handler must check that it still applies.
   * @throws INVALID_ARGUMENT bad key, position or idempotency key; CONCURRENCY_CONFLICT lost the race to other writers
   * of the stream 10 times; STORE_ERROR
   */
  cancel(key: string, idempotencyKey?: string, options?: CancelOptions): Promise<boolean>;
}

const CANCEL_TRIES = 10;

/** The writes of schedules and cancellations, without the projection (a process that leaves firing to another). */
export function createScheduleWriter(deps: WorkflowDeps): ScheduleWriter {
  const { eventStore, commandBus, clock } = deps;
  return {
    async schedule(s, idempotencyKey, options) {
      assertScheduledCommand(s);
      const cause = causeOf(options);
      checkCommand(commandBus, s.data);
      const { key } = s.data;
      const streamId = scheduleStreamId(key);
      const resolved = resolveAfter(s, clock());
      const event: NewEvent = { type: COMMAND_SCHEDULED, data: resolved.data };
      if (s.id !== undefined) event.id = s.id;
      const metadata = cause && {
        correlationId: cause.metadata?.correlationId ?? cause.id,
        causationId: cause.id,
        causationPosition: cause.position,
      };
      if (metadata || s.metadata) event.metadata = { ...metadata, ...s.metadata };
      if (s.tags !== undefined) event.tags = s.tags;
      const result = await eventStore.append(streamId, [event], {
        expectedVersion: 'any',
        ...(idempotencyKey !== undefined && { idempotencyKey: `${COMMAND_SCHEDULED}:${idempotencyKey}` }),
      });
      let at = resolved.data.at!;
      if (result.duplicate) {
        // A repeat: the first one's time is the one that stands.
        const [first] = await eventStore.readStream(streamId, { from: result.version, limit: 1 });
        if (first?.type === COMMAND_SCHEDULED) at = new Date(dueTimeOf(first)).toISOString();
      }
      return { key, at, position: result.position };
    },

    async cancel(key, idempotencyKey, options) {
      assertScheduleKey(key);
      const before = beforeOf(options);
      const streamId = scheduleStreamId(key);
      const storedKey = idempotencyKey === undefined ? undefined : `${SCHEDULE_CANCELLED}:${idempotencyKey}`;
      for (let tries = 1; ; tries++) {
        if (storedKey !== undefined) {
          // A cancel is recorded as its ScheduleCancelled, nothing to cancel as an empty append: [] under the key.
          const first = await eventStore.findIdempotentResult(storedKey);
          if (first) return first.length > 0;
        }
        // Read before the stream: the no-op is recorded on the condition that nothing reached the stream since.
        const head = storedKey === undefined ? 0 : await eventStore.headPosition();
        let last: RecordedEvent | undefined;
        try {
          [last] = await eventStore.readStream(streamId, { direction: 'backward', limit: 1 });
        } catch (err) {
          // Deleted by hand: nothing is pending there, nor can be again.
          if (isChronicleError(err, 'STREAM_DELETED')) return false;
          throw err;
        }
        const pending = last?.type === COMMAND_SCHEDULED && (before === undefined || madeAt(last) < before);
        try {
          if (!pending) {
            if (storedKey === undefined) return false;
            const first = await eventStore.append([], {
              idempotencyKey: storedKey,
              condition: { failIfEventsMatch: Query.tags(streamId), after: head },
            });
            // Non-empty: a concurrent call under the key cancelled first, and its answer stands.
            return first.length > 0;
          }
          const data: ScheduleCancelledData = { key };
          const result: AppendResult | undefined = await eventStore.append(streamId, [{ type: SCHEDULE_CANCELLED, data }], {
            expectedVersion: (last as RecordedEvent).version,
            ...(storedKey !== undefined && { idempotencyKey: storedKey }),
          });
          // A concurrent call under the key got there first (its result may be the no-op's, none): the next look
          // answers with its outcome.
          if (result !== undefined && !result.duplicate) return true;
        } catch (err) {
          // Rescheduled, fired or cancelled meanwhile: look again at what is pending now.
          if (!isChronicleError(err, 'CONCURRENCY_CONFLICT') || tries >= CANCEL_TRIES) throw err;
        }
      }
    },
  };
}

// Where a scheduling counts as made: at its cause when it names an earlier one, else where it was written.
function madeAt(event: RecordedEvent): number {
  const cause = event.metadata.causationPosition;
  return typeof cause === 'number' && Number.isSafeInteger(cause) && cause > 0 && cause < event.position ? cause : event.position;
}

function beforeOf(options: CancelOptions | undefined): number | undefined {
  if (options === undefined) return undefined;
  if (typeof options !== 'object' || options === null) {
    throw new ChronicleError('INVALID_ARGUMENT', 'cancel options must be an object ({ before })');
  }
  const { before } = options;
  if (before !== undefined && (!Number.isSafeInteger(before) || before < 1)) {
    throw new ChronicleError('INVALID_ARGUMENT', `cancel: before must be a log position (a positive integer), got ${before}`);
  }
  return before;
}

function causeOf(options: ScheduleWriteOptions | undefined): ScheduleCause | undefined {
  if (options === undefined) return undefined;
  if (typeof options !== 'object' || options === null) {
    throw new ChronicleError('INVALID_ARGUMENT', 'schedule options must be an object ({ cause })');
  }
  const { cause } = options;
  if (cause === undefined) return undefined;
  const c = cause as Partial<ScheduleCause> | null;
  if (
    typeof c !== 'object' ||
    c === null ||
    typeof c.id !== 'string' ||
    c.id === '' ||
    !Number.isSafeInteger(c.position) ||
    (c.position as number) < 1
  ) {
    throw new ChronicleError('INVALID_ARGUMENT', 'schedule: cause must be a recorded event ({ id, position })');
  }
  const correlationId = c.metadata?.correlationId;
  if (correlationId !== undefined && typeof correlationId !== 'string') {
    throw new ChronicleError('INVALID_ARGUMENT', 'schedule: the cause’s correlationId must be a string');
  }
  return c as ScheduleCause;
}

// The payload is checked when scheduled, not only when it fires hours later, when no caller is left to tell.
function checkCommand(bus: CommandBus, data: CommandScheduledData): void {
  const definition = bus.definition(data.command.type);
  if (!definition) {
    throw new ChronicleError('UNKNOWN_MESSAGE', `schedule ${data.key}: no command ${data.command.type} is registered`, {
      details: { command: data.command.type },
    });
  }
  validate(definition, data.command.data);
}
