// Tables the SQLite read store keeps about projections, and the names of projections' own tables.
import type Database from 'better-sqlite3';
import { ChronicleError } from 'chronicle-es';
import { readStoreError } from './sqlite-error.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS chronicle_projections (
  name TEXT PRIMARY KEY,
  version INTEGER NOT NULL DEFAULT 0,
  generation INTEGER NOT NULL DEFAULT 0,
  position INTEGER NOT NULL DEFAULT 0,
  last_generation INTEGER NOT NULL DEFAULT 0,
  rebuild_generation INTEGER,
  rebuild_version INTEGER,
  rebuild_position INTEGER,
  failure TEXT
);
CREATE TABLE IF NOT EXISTS chronicle_projection_skips (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  position INTEGER NOT NULL,
  event_id TEXT NOT NULL,
  type TEXT NOT NULL,
  message TEXT NOT NULL,
  failed_at TEXT NOT NULL,
  skipped_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS chronicle_projection_skips_name ON chronicle_projection_skips (name, id);
CREATE TABLE IF NOT EXISTS chronicle_control (
  seq INTEGER PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  projection TEXT NOT NULL,
  action TEXT NOT NULL,
  state TEXT NOT NULL,
  requested_at TEXT NOT NULL,
  expires_at TEXT NOT NULL,
  taken_by TEXT,
  error TEXT
);
CREATE INDEX IF NOT EXISTS chronicle_control_state ON chronicle_control (state, seq);
`;

/**
 * Creates the read store's tables if missing, in one write transaction.
 * @throws INVALID_ARGUMENT when the file holds an event store; READ_STORE_CORRUPT; STORE_ERROR
 */
export function migrateReadStore(db: Database.Database): void {
  // A projection with async handlers holds the file's write lock across awaits; on the event store's own file
  // that would stall the event store's commits in this very process (SQLite waits synchronously for the lock).
  const eventStoreTables = db
    .prepare("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN ('events', 'idempotency')")
    .pluck()
    .get() as number;
  if (eventStoreTables === 2) {
    throw new ChronicleError('INVALID_ARGUMENT', `${db.name} holds an event store; give the read store a file of its own`);
  }
  try {
    db.exec(`BEGIN IMMEDIATE;${SCHEMA}COMMIT;`);
  } catch (err) {
    if (db.inTransaction) db.exec('ROLLBACK');
    throw readStoreError(err, SCHEMA);
  }
}

/**
 * Runs SQLite's quick check over the whole file: a page damaged while the store was closed would otherwise go
 * unnoticed until a query happens to read it. Linear in the file's size, with no lock held against readers.
 * @throws READ_STORE_CORRUPT naming the first problems found; STORE_ERROR
 */
export function checkReadStore(db: Database.Database): void {
  const sql = 'PRAGMA quick_check(5)';
  let problems: string[];
  try {
    problems = db.prepare(sql).pluck().all() as string[];
  } catch (err) {
    throw readStoreError(err, sql);
  }
  if (problems.length === 1 && problems[0] === 'ok') return;
  throw new ChronicleError('READ_STORE_CORRUPT', `${db.name} failed its quick check: ${problems.join('; ')}`, {
    details: { sql, problems },
  });
}

/** The quoted physical name of a projection's logical table in one generation; names are pre-checked identifiers. */
export function physicalTable(projection: string, table: string, generation: number): string {
  return `"${projection}__${table}__g${generation}"`;
}

/**
 * Physical tables of one generation of a projection, among `tables` (every table in the file). Names are
 * `<projection>__<table>__g<n>` and neither part may contain `__`, so splitting on it is unambiguous.
 */
export function tablesOfGeneration(tables: readonly string[], projection: string, generation: number): string[] {
  return tables.filter((name) => {
    const parts = name.split('__');
    return parts.length === 3 && parts[0] === projection && parts[2] === `g${generation}`;
  });
}
