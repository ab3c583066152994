// The scheduler projection's table of pending schedules: one row per key (the latest scheduling), found by due time.
// Spelled twice (schedule-table-sql.ts, schedule-table-memory.ts); schedule-table-for.ts picks one for a read store.
import type { Command } from '../command-handler.js';
import { isChronicleError } from '../errors.js';

/** The scheduler's projection: its name in the read store (and in projector status). */
export const SCHEDULER_PROJECTION = 'chronicle_schedules';

/** One pending schedule: its key, the stream version of the CommandScheduled that set it, its due time in ms. */
export type PendingSchedule = { key: string; version: number; dueMs: number };

/** A pending schedule with its command, as the projection writes it. */
export type ScheduleRow = PendingSchedule & { command: Command };

/** The queue's counts at `now`. */
export type ScheduleCounts = { pending: number; overdue: number; nextDueMs?: number };

/**
 * The table on one kind of read store. Writes run inside the projection's batch transaction (`tx`); reads go through
 * the store's reader of the served generation and answer empty before the projection's first generation exists.
 */
export interface ScheduleTable {
  setup(tx: unknown): unknown;
  /** Inserts or replaces the row under `row.key`. */
  put(tx: unknown, row: ScheduleRow): unknown;
  /** Deletes the row under `key`. */
  remove(tx: unknown, key: string): unknown;
  /** Deletes the row under `key` if it is still the scheduling at `version`. */
  removeFired(tx: unknown, key: string, version: number): unknown;
  /** Rows due at or before `now`, oldest first, at most `limit`. */
  due(reader: unknown, now: number, limit: number): Promise<PendingSchedule[]>;
  /** The earliest due time after `now`, if any. */
  nextDueAfter(reader: unknown, now: number): Promise<number | undefined>;
  /** The counts at `now`, leaving out the rows in `except` (at their versions). */
  counts(reader: unknown, now: number, except?: readonly PendingSchedule[]): Promise<ScheduleCounts>;
}

/** Runs a read, answering `empty` while the projection has no tables yet (it has not run anywhere). */
export async function beforeFirstGeneration<T>(empty: T, read: () => T | Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (err) {
    if (isChronicleError(err, 'NOT_FOUND')) return empty;
    throw err;
  }
}
