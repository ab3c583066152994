// The scheduler: a projection keeping the pending schedules (so it is checkpointed, leased and reported like any), the
// fire loop that runs beside it on the worker holding it, and the writes that schedule and cancel.
import type { CommandBus } from '../command-bus.js';
import { ChronicleError, isChronicleError } from '../errors.js';
import type { NewEvent, RecordedEvent } from '../event-store.js';
import { validate } from '../messages.js';
import { defineProjection, type Projection } from '../projections/define-projection.js';
import type { ProjectionStore } from '../projections/projection-store.js';
import {
  assertScheduledCommand,
  assertScheduleKey,
  COMMAND_SCHEDULED,
  type CommandScheduledData,
  dueTimeOf,
  resolveAfter,
  SCHEDULE_CANCELLED,
  SCHEDULE_FIRED,
  type ScheduleCancelledData,
  type ScheduledCommand,
  type ScheduleFiredData,
  scheduleKeyOf,
  scheduleStreamId,
} from './schedule-events.js';
import { SCHEDULER_PROJECTION, type ScheduleTable } from './schedule-table.js';
import { requireScheduleTable } from './schedule-table-for.js';
import { type FailingSchedule, FireLoop, type ScheduleError } from './scheduler-loop.js';
import type { RetryOptions, WorkflowDeps } from './workflow-types.js';

export type { FailingSchedule, ScheduleError } from './scheduler-loop.js';

export type SchedulerOptions = {
  /** How often the worker holding the scheduler looks for due commands. Default 250. */
  pollIntervalMs?: number;
  /** Most due commands fired per round (and in flight at once). Default 500. */
  batchSize?: number;
  /**
   * Transient failures of a due command's send, retried before it is left for a later round (at the earliest
   * `maxDelayMs` later). Defaults: 5 attempts, 50 ms doubling up to 2000 ms.
   */
  retry?: RetryOptions;
};

/** What scheduling recorded. */
export type ScheduleReceipt = { key: string; at: string; position: number };

/** The scheduler's queue as its projection shows it now, and how firing goes on this worker. */
export type ScheduleStatus = {
  /** Schedules waiting to fire (the projection's table: as far as it has caught up). */
  pending: number;
  /** Pending schedules whose time has passed. */
  overdue: number;
  /** The earliest due time among the pending ones (ISO-8601). */
  nextDueAt?: string;
  /** Whether this worker fires them (it runs the scheduler's projection). */
  firing: boolean;
  /** Schedules this worker could not fire (transient failures through every attempt) and will try again. */
  failing: FailingSchedule[];
  /** The latest failure of this worker's fire loop. */
  lastError?: ScheduleError;
};

/** Writes schedules and cancellations to the log. */
export interface ScheduleWriter {
  /**
   * Records `s` (an `after` resolved against the clock). With `idempotencyKey`, a repeat records nothing and answers
   * with what the first recorded. A command the bus knows has its payload validated now.
   * @throws INVALID_ARGUMENT not a scheduled command, bad key or time; VALIDATION_FAILED bad payload; UNKNOWN_MESSAGE
   * a command the bus does not know; STORE_ERROR
   */
  schedule(
    s: ScheduledCommand,
    idempotencyKey?: string,
    options?: { cause?: Pick<RecordedEvent, 'id' | 'position'> & { metadata?: { correlationId?: string } } },
  ): Promise<ScheduleReceipt>;
  /**
   * Cancels the pending schedule under `key`; false when none was pending. With `idempotencyKey`, a repeat answers true
   * and records nothing. @throws INVALID_ARGUMENT, CONCURRENCY_CONFLICT (lost the race 10 times), STORE_ERROR
   */
  cancel(key: string, idempotencyKey?: string, options?: { before?: number }): Promise<boolean>;
}

export interface Scheduler extends ScheduleWriter {
  /** The projection keeping the pending schedules; its worker fires them. */
  readonly projection: Projection<any>;
  /** Pending and overdue counts from the projection's table, and this worker's firing. @throws STORE_ERROR */
  status(): Promise<ScheduleStatus>;
  /**
   * Fires what is due now, on the worker running the projection, and waits for the firings in flight; resolves with
   * how many this call fired (0 when the projection does not run here). For tests with a hand-moved clock.
   */
  fireDue(): Promise<number>;
}

const CANCEL_TRIES = 10;

/** The writes of schedules and cancellations, without the projection (a process that leaves firing to another). */
export function createScheduleWriter(deps: WorkflowDeps): ScheduleWriter {
  const { eventStore, commandBus, clock } = deps;
  return {
    async schedule(s, idempotencyKey) {
      assertScheduledCommand(s);
      checkCommand(commandBus, s.data);
      const { key } = s.data;
      const streamId = scheduleStreamId(key);
      const resolved = resolveAfter(s, clock());
      const event: NewEvent = { type: COMMAND_SCHEDULED, data: resolved.data };
      if (s.id !== undefined) event.id = s.id;
      if (s.metadata !== undefined) event.metadata = s.metadata;
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
    async cancel(key, idempotencyKey) {
      assertScheduleKey(key);
      const streamId = scheduleStreamId(key);
      const storedKey = idempotencyKey === undefined ? undefined : `${SCHEDULE_CANCELLED}:${idempotencyKey}`;
      if (storedKey !== undefined && (await eventStore.findIdempotentResult(storedKey))) return true;
      for (let tries = 1; ; tries++) {
        const [last] = await eventStore.readStream(streamId, { direction: 'backward', limit: 1 });
        if (!last || last.type !== COMMAND_SCHEDULED) return false;
        const data: ScheduleCancelledData = { key };
        try {
          await eventStore.append(streamId, [{ type: SCHEDULE_CANCELLED, data }], {
            expectedVersion: last.version,
            ...(storedKey !== undefined && { idempotencyKey: storedKey }),
          });
          return true;
        } catch (err) {
          // Rescheduled, fired or cancelled meanwhile: look again at what is pending now.
          if (!isChronicleError(err, 'CONCURRENCY_CONFLICT') || tries >= CANCEL_TRIES) throw err;
        }
      }
    },
  };
}

/**
 * Creates the scheduler on `readStore` (the one the projector runs on).
 * @throws INVALID_ARGUMENT bad deps or options, or a read store it cannot keep schedules in (Redis: see scheduleTableFor)
 */
export function createScheduler(
  deps: WorkflowDeps,
  readStore: ProjectionStore<any, any>,
  options: SchedulerOptions = {},
): Scheduler {
  assertDeps(deps);
  if (!readStore || typeof readStore.reader !== 'function') {
    throw new ChronicleError('INVALID_ARGUMENT', 'createScheduler needs the read store the projector runs on');
  }
  const settings = checkOptions(options);
  const table = requireScheduleTable(readStore);
  const loop = new FireLoop(deps, table, settings);
  const projection: Projection<any> = Object.freeze({
    ...scheduleProjection(table, (dueMs) => loop.noteDue(dueMs)),
    alongside: (context) => loop.run(context),
  });
  return {
    ...createScheduleWriter(deps),
    projection,
    async status() {
      return { ...(await countsOf(table, readStore, deps.clock())), firing: loop.running, ...loop.failures() };
    },
    fireDue: () => loop.fireDue(),
  };
}

/**
 * The queue as the scheduler's table shows it, read by a process that does not fire (no failures of its own).
 * @throws INVALID_ARGUMENT a read store that cannot keep schedules; STORE_ERROR
 */
export async function readScheduleStatus(readStore: ProjectionStore<any, any>, clock: () => number): Promise<ScheduleStatus> {
  return { ...(await countsOf(requireScheduleTable(readStore), readStore, clock())), firing: false, failing: [] };
}

async function countsOf(table: ScheduleTable, readStore: ProjectionStore<any, any>, now: number) {
  const { pending, overdue, nextDueMs } = await table.counts(readStore.reader(SCHEDULER_PROJECTION), now);
  return nextDueMs === undefined ? { pending, overdue } : { pending, overdue, nextDueAt: new Date(nextDueMs).toISOString() };
}

// The projection: the latest scheduling under each key, gone once cancelled or fired.
function scheduleProjection(table: ScheduleTable, noteDue: (dueMs: number) => void): Projection<any> {
  return defineProjection<unknown>({
    name: SCHEDULER_PROJECTION,
    version: 1,
    setup: (tx) => table.setup(tx),
    handlers: {
      [COMMAND_SCHEDULED]: (event: RecordedEvent, tx: unknown) => {
        const key = keyOf(event);
        const data = event.data as CommandScheduledData;
        const dueMs = dueTimeOf(event);
        if (!Number.isFinite(dueMs) || typeof data.command?.type !== 'string') {
          throw new ChronicleError('INVALID_ARGUMENT', `schedule ${key}: a CommandScheduled without a command or a valid time`);
        }
        noteDue(dueMs);
        return table.put(tx, { key, version: event.version, dueMs, command: data.command });
      },
      [SCHEDULE_CANCELLED]: (event: RecordedEvent, tx: unknown) => table.remove(tx, keyOf(event)),
      [SCHEDULE_FIRED]: (event: RecordedEvent, tx: unknown) =>
        table.removeFired(tx, keyOf(event), (event.data as ScheduleFiredData).scheduled),
    },
  });
}

// A schedule event's key is its stream's: one written elsewhere could never be confirmed against its stream.
function keyOf(event: RecordedEvent): string {
  const key = scheduleKeyOf(event.streamId);
  if (key === undefined || (event.data as { key?: unknown } | null)?.key !== key) {
    throw new ChronicleError(
      'INVALID_ARGUMENT',
      `${event.type} on stream ${event.streamId}: schedule events belong on ${scheduleStreamId('<key>')} with that key in their data`,
    );
  }
  return key;
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

function assertDeps(deps: WorkflowDeps): void {
  if (!deps?.commandBus || !deps.eventStore || typeof deps.clock !== 'function' || typeof deps.principal?.id !== 'string') {
    throw new ChronicleError('INVALID_ARGUMENT', 'the scheduler needs commandBus, eventStore, clock and principal');
  }
}

function checkOptions(options: SchedulerOptions): { pollIntervalMs: number; batchSize: number; retry: Required<RetryOptions> } {
  const pollIntervalMs = options.pollIntervalMs ?? 250;
  const batchSize = options.batchSize ?? 500;
  const retry = {
    attempts: options.retry?.attempts ?? 5,
    initialDelayMs: options.retry?.initialDelayMs ?? 50,
    maxDelayMs: options.retry?.maxDelayMs ?? 2000,
  };
  const bad = (why: string) => new ChronicleError('INVALID_ARGUMENT', `scheduler: ${why}`);
  if (!(pollIntervalMs > 0) || pollIntervalMs > 2 ** 31 - 1) throw bad('pollIntervalMs must be a positive number of ms');
  if (!Number.isSafeInteger(batchSize) || batchSize < 1) throw bad('batchSize must be a positive integer');
  if (!Number.isSafeInteger(retry.attempts) || retry.attempts < 1) throw bad('retry.attempts must be a positive integer');
  if (!(retry.initialDelayMs >= 0) || !(retry.maxDelayMs >= retry.initialDelayMs) || retry.maxDelayMs > 2 ** 31 - 1) {
    throw bad('retry delays must be non-negative, maxDelayMs ≥ initialDelayMs');
  }
  return { pollIntervalMs, batchSize, retry };
}
