// The pending schedules as a SQL table, in the SQL both read stores share (SQLite, PostgreSQL), with an index on the
// due time so a round reads only what is due.
import type { SqlReader, SqlReadTx } from '../projections/sql-tx.js';
import type { PendingSchedule, ScheduleCounts, ScheduleRow, ScheduleTable } from './schedule-table.js';
import { beforeFirstGeneration } from './schedule-table.js';

const TABLE = 'schedules';
// Most rows a count leaves out by key and version (beyond, they are counted until dropped).
const MAX_EXCEPT = 200;

type DueRow = { schedule_key: string; version: number; due_ms: number };
type CountRow = { pending: number; overdue: number | null; next_due: number | null };

// Keys compare byte by byte on both engines (PostgreSQL's default collation would order ties otherwise).
const keyType = (tx: SqlReadTx) => (tx.dialect === 'postgres' ? 'TEXT COLLATE "C"' : 'TEXT');

/** The scheduler's table on a SQL read store. */
export const sqlScheduleTable: ScheduleTable = {
  async setup(raw) {
    const tx = raw as SqlReadTx;
    const t = tx.table(TABLE);
    await tx.run(
      `CREATE TABLE ${t} (schedule_key ${keyType(tx)} PRIMARY KEY, version BIGINT NOT NULL, due_ms BIGINT NOT NULL,
       command TEXT NOT NULL)`,
    );
    await tx.run(`CREATE INDEX ${tx.table('schedules_by_due')} ON ${t} (due_ms, schedule_key)`);
  },
  put(raw, row: ScheduleRow) {
    const tx = raw as SqlReadTx;
    return tx.run(
      `INSERT INTO ${tx.table(TABLE)} (schedule_key, version, due_ms, command) VALUES (?, ?, ?, ?)
       ON CONFLICT (schedule_key) DO UPDATE SET version = excluded.version, due_ms = excluded.due_ms, command = excluded.command`,
      [row.key, row.version, row.dueMs, JSON.stringify(row.command)],
    );
  },
  remove(raw, key) {
    const tx = raw as SqlReadTx;
    return tx.run(`DELETE FROM ${tx.table(TABLE)} WHERE schedule_key = ?`, [key]);
  },
  removeFired(raw, key, version) {
    const tx = raw as SqlReadTx;
    return tx.run(`DELETE FROM ${tx.table(TABLE)} WHERE schedule_key = ? AND version = ?`, [key, version]);
  },
  due(raw, now, limit) {
    const reader = raw as SqlReader;
    return beforeFirstGeneration<PendingSchedule[]>([], async () => {
      const rows = await reader.all<DueRow>(
        `SELECT schedule_key, version, due_ms FROM ${reader.table(TABLE)} WHERE due_ms <= ?
         ORDER BY due_ms, schedule_key LIMIT ?`,
        [now, limit],
      );
      return rows.map((r) => ({ key: r.schedule_key, version: Number(r.version), dueMs: Number(r.due_ms) }));
    });
  },
  nextDueAfter(raw, now) {
    const reader = raw as SqlReader;
    return beforeFirstGeneration<number | undefined>(undefined, async () => {
      const row = await reader.get<{ next_due: number | null }>(
        `SELECT MIN(due_ms) AS next_due FROM ${reader.table(TABLE)} WHERE due_ms > ?`,
        [now],
      );
      return row?.next_due == null ? undefined : Number(row.next_due);
    });
  },
  counts(raw, now, except = []) {
    const reader = raw as SqlReader;
    // A handful at most (rows found stale, until the projection's next batch drops them): one condition each.
    const left = except.slice(0, MAX_EXCEPT);
    const where = left.length === 0 ? '' : ` WHERE NOT (${left.map(() => '(schedule_key = ? AND version = ?)').join(' OR ')})`;
    return beforeFirstGeneration<ScheduleCounts>({ pending: 0, overdue: 0 }, async () => {
      const row = await reader.get<CountRow>(
        `SELECT COUNT(*) AS pending, SUM(CASE WHEN due_ms < ? THEN 1 ELSE 0 END) AS overdue, MIN(due_ms) AS next_due
         FROM ${reader.table(TABLE)}${where}`,
        [now, ...left.flatMap((r) => [r.key, r.version])],
      );
      const counts: ScheduleCounts = { pending: Number(row?.pending ?? 0), overdue: Number(row?.overdue ?? 0) };
      if (row?.next_due != null) counts.nextDueMs = Number(row.next_due);
      return counts;
    });
  },
};
