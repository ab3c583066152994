// SCAFFOLD (to be replaced by the scheduler work): the scheduler's public shape only.
import { ChronicleError } from '../errors.js';
import type { Projection } from '../projections/define-projection.js';
import type { ProjectionStore } from '../projections/projection-store.js';
import type { ScheduledCommand } from './schedule-events.js';
import type { RetryOptions, WorkflowDeps } from './workflow-types.js';

export type SchedulerOptions = {
  /** How often the worker holding the scheduler looks for due commands. Default 250. */
  pollIntervalMs?: number;
  /** Most due commands fired per round. Default 500. */
  batchSize?: number;
  /** Transient failures of a due command's send, retried before it is left for the next round. */
  retry?: RetryOptions;
};

/** What scheduling recorded. */
export type ScheduleReceipt = { key: string; at: string; position: number };

/** The scheduler's queue as its projection shows it now. */
export type ScheduleStatus = { pending: number; overdue: number; nextDueAt?: string };

/** Writes schedules and cancellations to the log. */
export interface ScheduleWriter {
  /** Records `s` (an `after` resolved against the clock). With `idempotencyKey`, a repeat records nothing. @throws INVALID_ARGUMENT, STORE_ERROR */
  schedule(s: ScheduledCommand, idempotencyKey?: string): Promise<ScheduleReceipt>;
  /** Cancels the pending schedule under `key`; false when none was pending. @throws INVALID_ARGUMENT, STORE_ERROR */
  cancel(key: string, idempotencyKey?: string): Promise<boolean>;
}

export interface Scheduler extends ScheduleWriter {
  /** The projection keeping the pending schedules; its worker fires them. */
  readonly projection: Projection<any>;
  status(): Promise<ScheduleStatus>;
  /** Fires what is due now, on the worker running the projection; resolves with how many fired. */
  fireDue(): Promise<number>;
}

/** Creates the scheduler. @throws INVALID_ARGUMENT bad options, or a read store it cannot keep schedules in */
export function createScheduler(
  _deps: WorkflowDeps,
  _readStore: ProjectionStore<any, any>,
  _options?: SchedulerOptions,
): Scheduler {
  throw new ChronicleError('INVALID_ARGUMENT', 'scheduler: not built yet');
}
