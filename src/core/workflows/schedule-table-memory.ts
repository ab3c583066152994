// The pending schedules as a table of the in-memory read store: a Map by key, scanned for what is due (the in-memory
// store is for tests and small embedded uses, where a scan per round costs nothing worth an index).
import { ChronicleError } from '../errors.js';
import type { InMemoryReader, InMemoryReadTx } from '../projections/in-memory-read-store.js';
import { InMemoryTable } from '../projections/in-memory-table.js';
import type { PendingSchedule, ScheduleCounts, ScheduleRow, ScheduleTable } from './schedule-table.js';
import { beforeFirstGeneration } from './schedule-table.js';

const TABLE = 'schedules';

const rowsOf = (reader: unknown) => (reader as InMemoryReader).table<ScheduleRow>(TABLE).values();

function tableOf(raw: unknown): InMemoryTable<ScheduleRow> {
  const table = (raw as InMemoryReadTx).table<ScheduleRow>(TABLE);
  // Chosen by the store's reader; a transaction of another kind would write somewhere no round ever reads.
  if (!(table instanceof InMemoryTable)) {
    throw new ChronicleError('INVALID_ARGUMENT', 'scheduler: the read store is not the in-memory one its reader looked like');
  }
  return table;
}

const byDue = (a: PendingSchedule, b: PendingSchedule) => a.dueMs - b.dueMs || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);

/** The scheduler's table on the in-memory read store. */
export const memoryScheduleTable: ScheduleTable = {
  setup(tx) {
    tableOf(tx);
  },
  put(tx, row) {
    tableOf(tx).set(row.key, structuredClone(row));
  },
  remove(tx, key) {
    tableOf(tx).delete(key);
  },
  removeFired(tx, key, version) {
    const table = tableOf(tx);
    if (table.get(key)?.version === version) table.delete(key);
  },
  due(reader, now, limit) {
    return beforeFirstGeneration<PendingSchedule[]>([], () => {
      const due: PendingSchedule[] = [];
      for (const { key, version, dueMs } of rowsOf(reader)) if (dueMs <= now) due.push({ key, version, dueMs });
      return due.sort(byDue).slice(0, limit);
    });
  },
  nextDueAfter(reader, now) {
    return beforeFirstGeneration<number | undefined>(undefined, () => {
      let next: number | undefined;
      for (const { dueMs } of rowsOf(reader)) if (dueMs > now && (next === undefined || dueMs < next)) next = dueMs;
      return next;
    });
  },
  counts(reader, now, except = []) {
    const left = new Map(except.map((r) => [r.key, r.version]));
    return beforeFirstGeneration<ScheduleCounts>({ pending: 0, overdue: 0 }, () => {
      const counts: ScheduleCounts = { pending: 0, overdue: 0 };
      for (const { key, version, dueMs } of rowsOf(reader)) {
        if (left.get(key) === version) continue;
        counts.pending++;
        if (dueMs < now) counts.overdue++;
        if (counts.nextDueMs === undefined || dueMs < counts.nextDueMs) counts.nextDueMs = dueMs;
      }
      return counts;
    });
  },
};
