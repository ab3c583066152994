// The scheduler: a projection keeping the pending schedules (so it is checkpointed, leased and reported like any), and
// the fire loop that runs beside it on the worker holding it; the writes that schedule and cancel are schedule-writer.ts.
import { ChronicleError } from '../errors.js';
import type { RecordedEvent } from '../event-store.js';
import { type AlongsideContext, defineProjection, type Projection } from '../projections/define-projection.js';
import type { ProjectionStore } from '../projections/projection-store.js';
import { runHandlers } from '../projections/run-handlers.js';
import {
  COMMAND_SCHEDULED,
  type CommandScheduledData,
  dueTimeOf,
  SCHEDULE_CANCELLED,
  SCHEDULE_FIRED,
  type ScheduleFiredData,
  scheduleKeyOf,
  scheduleStreamId,
} from './schedule-events.js';
import { type PendingSchedule, SCHEDULER_PROJECTION, type ScheduleTable } from './schedule-table.js';
import { requireScheduleTable } from './schedule-table-for.js';
import { createScheduleWriter, type ScheduleWriter } from './schedule-writer.js';
import { type FailingSchedule, FireLoop, type FireLoopOptions, type ScheduleError } from './scheduler-loop.js';
import { MAX_DELAY_MS, retrySettings } from './workflow-failures.js';
import type { RetryOptions, WorkflowDeps } from './workflow-types.js';

export {
  type CancelOptions,
  createScheduleWriter,
  type ScheduleCause,
  type ScheduleReceipt,
  type ScheduleWriteOptions,
  type ScheduleWriter,
} from './schedule-writer.js';
export type { FailingSchedule, ScheduleError } from './scheduler-loop.js';

export type SchedulerOptions = {
  /** How often the worker holding the scheduler looks for due commands. Default 250. */
  pollIntervalMs?: number;
  /** Most due commands fired per round (and in flight at once). Default 500. */
  batchSize?: number;
  /**
   * Failures of a due command's send other than a business refusal (REFUSAL_CODES: recorded as the firing's outcome),
   * such as a store error or a handler missing on this worker mid-deploy: retried, then held for a later round (at the
   * earliest `maxDelayMs` later), and shown in `failing`. Defaults: 5 attempts, 50 ms doubling up to 2000 ms; delays
   * up to 2^31-1 ms.
   */
  retry?: RetryOptions;
  /**
   * How long stopping waits for commands in flight to answer before it lets them go (one that answers later still
   * records its firing; one that never does is sent again by the next worker, under the same key). Default 5000.
   */
  stopTimeoutMs?: number;
};

/** The scheduler's queue as its projection shows it now, and how firing goes on this worker. */
export type ScheduleStatus = {
  /**
   * Schedules waiting to fire (the projection's table: as far as it has caught up), less the rows this worker found
   * no longer pending in the log (a deleted stream, a foreign event last) that the projection has not dropped yet.
   */
  pending: number;
  /** Pending schedules whose time has passed. */
  overdue: number;
  /** The earliest due time among the pending ones (ISO-8601). */
  nextDueAt?: string;
  /** Whether this worker fires them (it runs the scheduler's projection). */
  firing: boolean;
  /** Schedules this worker could not fire (failures other than refusals through every attempt) and will try again. */
  failing: FailingSchedule[];
  /** The latest failure of this worker's fire loop. */
  lastError?: ScheduleError;
};

export interface Scheduler extends ScheduleWriter {
  /** The projection keeping the pending schedules; its worker fires them. */
  readonly projection: Projection<any>;
  /** Pending and overdue counts from the projection's table, and this worker's firing. @throws STORE_ERROR */
  status(): Promise<ScheduleStatus>;
  /**
   * Fires what is due now, on the worker running the projection, and waits for the firings in flight; resolves with
   * how many this call fired (0 when the projection does not run here; the loop's own firings are not counted). For
   * tests with a hand-moved clock. @throws STORE_ERROR reading the due schedules
   */
  fireDue(): Promise<number>;
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
  const base = scheduleProjection(table, (dueMs) => loop.noteDue(dueMs));
  const projection: Projection<any> = Object.freeze({
    ...base,
    runBatch: (events: readonly RecordedEvent[], tx: unknown) => {
      const stale = loop.staleRows();
      if (stale.length === 0) return runHandlers(base.handlers, events, tx);
      return dropStale(table, tx, stale).then(() => runHandlers(base.handlers, events, tx));
    },
    alongside: (context: AlongsideContext) => loop.run(context),
  });
  return {
    ...createScheduleWriter(deps),
    projection,
    async status() {
      const counts = await countsOf(table, readStore, deps.clock(), loop.staleRows());
      return { ...counts, firing: loop.running, ...loop.failures() };
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

async function countsOf(
  table: ScheduleTable,
  readStore: ProjectionStore<any, any>,
  now: number,
  except?: readonly PendingSchedule[],
) {
  const { pending, overdue, nextDueMs } = await table.counts(readStore.reader(SCHEDULER_PROJECTION), now, except);
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

// Rows the fire loop found no longer pending in the log go with the batch, each only if still at the version found.
async function dropStale(table: ScheduleTable, tx: unknown, stale: readonly PendingSchedule[]): Promise<void> {
  for (const { key, version } of stale) await table.removeFired(tx, key, version);
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

function assertDeps(deps: WorkflowDeps): void {
  if (!deps?.commandBus || !deps.eventStore || typeof deps.clock !== 'function' || typeof deps.principal?.id !== 'string') {
    throw new ChronicleError('INVALID_ARGUMENT', 'the scheduler needs commandBus, eventStore, clock and principal');
  }
}

function checkOptions(options: SchedulerOptions): FireLoopOptions {
  if (typeof options !== 'object' || options === null) {
    throw new ChronicleError('INVALID_ARGUMENT', 'scheduler: options must be an object');
  }
  const pollIntervalMs = options.pollIntervalMs ?? 250;
  const batchSize = options.batchSize ?? 500;
  const stopTimeoutMs = options.stopTimeoutMs ?? 5000;
  const bad = (why: string) => new ChronicleError('INVALID_ARGUMENT', `scheduler: ${why}`);
  if (typeof pollIntervalMs !== 'number' || !(pollIntervalMs > 0) || pollIntervalMs > MAX_DELAY_MS) {
    throw bad(`pollIntervalMs must be a positive number of ms up to ${MAX_DELAY_MS}`);
  }
  if (!Number.isSafeInteger(batchSize) || batchSize < 1) throw bad('batchSize must be a positive integer');
  if (typeof stopTimeoutMs !== 'number' || !(stopTimeoutMs >= 0) || stopTimeoutMs > MAX_DELAY_MS) {
    throw bad(`stopTimeoutMs must be between 0 and ${MAX_DELAY_MS} ms`);
  }
  return { pollIntervalMs, batchSize, stopTimeoutMs, retry: retrySettings('scheduler', options.retry) };
}
