// Which spelling of the schedule table a read store takes: portable SQL for the SQL read stores, a Map for the
// in-memory one. A store whose tables cannot be read by due time (Redis: a hash per table) is refused up front.
import { ChronicleError, isChronicleError } from '../errors.js';
import type { ProjectionStore } from '../projections/projection-store.js';
import { SCHEDULER_PROJECTION, type ScheduleTable } from './schedule-table.js';
import { memoryScheduleTable } from './schedule-table-memory.js';
import { sqlScheduleTable } from './schedule-table-sql.js';

/**
 * The table for `readStore`, told apart by its reader: SQL readers name their dialect, the in-memory reader hands out
 * Maps. Anything else gets the reason it cannot keep schedules.
 */
export function scheduleTableFor(readStore: ProjectionStore<any, any>): ScheduleTable | { unsupported: string } {
  const reader = readStore.reader(SCHEDULER_PROJECTION) as { dialect?: unknown; table?: (name: string) => unknown };
  if (reader?.dialect === 'sqlite' || reader?.dialect === 'postgres') return sqlScheduleTable;
  if (typeof reader?.table === 'function') {
    try {
      if (reader.table('schedules') instanceof Map) return memoryScheduleTable;
    } catch (err) {
      // The in-memory reader refuses before the first generation; its tables are Maps once there is one.
      if (isChronicleError(err, 'NOT_FOUND')) return memoryScheduleTable;
      throw err;
    }
  }
  return {
    unsupported:
      'the scheduler keeps pending schedules in a table it reads by due time: it needs a SQL read store (SQLite, ' +
      'PostgreSQL) or the in-memory one; this read store (e.g. Redis) cannot be read that way. Run the scheduler on ' +
      'one of those, or pass `scheduler: false` to createWorkflows and fire schedules in a process that has one',
  };
}

/** The table for `readStore`. @throws INVALID_ARGUMENT when it cannot keep schedules (see scheduleTableFor) */
export function requireScheduleTable(readStore: ProjectionStore<any, any>): ScheduleTable {
  const table = scheduleTableFor(readStore);
  if ('unsupported' in table) throw new ChronicleError('INVALID_ARGUMENT', `scheduler: ${table.unsupported}`);
  return table;
}
