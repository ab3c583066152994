// Tables of the SQLite event store and the migration that creates them.
import type Database from 'better-sqlite3';
import { ChronicleError } from 'chronicle';
import { storeError } from './sqlite-error.js';

/** Schema version this code writes; kept in `PRAGMA user_version`. */
export const EVENT_STORE_SCHEMA_VERSION = 1;

const SCHEMA_V1 = `
CREATE TABLE IF NOT EXISTS events (
  position INTEGER PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  stream_id TEXT NOT NULL,
  version INTEGER NOT NULL,
  category TEXT NOT NULL,
  type TEXT NOT NULL,
  data TEXT NOT NULL,
  metadata TEXT NOT NULL,
  UNIQUE (stream_id, version)
);
CREATE INDEX IF NOT EXISTS events_category ON events (category, position);
-- Only streams that were deleted or given metadata have a row: a stream's version is read from the
-- (stream_id, version) index, so an append writes one table and commits one page fewer.
CREATE TABLE IF NOT EXISTS streams (
  stream_id TEXT PRIMARY KEY,
  deleted INTEGER NOT NULL DEFAULT 0,
  metadata TEXT NOT NULL DEFAULT '{}'
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS idempotency (
  key TEXT PRIMARY KEY,
  result TEXT NOT NULL
) WITHOUT ROWID;
`;

/**
 * Brings the file's schema up to EVENT_STORE_SCHEMA_VERSION inside one write transaction,
 * so two processes opening a new file at once cannot both create it.
 * @throws STORE_ERROR when the file was written by a newer schema or the driver fails
 */
export function migrateEventStore(db: Database.Database): void {
  const sql = 'BEGIN IMMEDIATE';
  try {
    db.exec(sql);
  } catch (err) {
    throw storeError(err, sql);
  }
  try {
    const current = db.pragma('user_version', { simple: true }) as number;
    if (current > EVENT_STORE_SCHEMA_VERSION) {
      throw new ChronicleError(
        'STORE_ERROR',
        `event store schema version ${current} is newer than this code supports (${EVENT_STORE_SCHEMA_VERSION})`,
        { details: { schemaVersion: current } },
      );
    }
    if (current < 1) {
      try {
        db.exec(SCHEMA_V1);
      } catch (err) {
        throw storeError(err, SCHEMA_V1);
      }
    }
    db.pragma(`user_version = ${EVENT_STORE_SCHEMA_VERSION}`);
    db.exec('COMMIT');
  } catch (err) {
    if (db.inTransaction) db.exec('ROLLBACK');
    throw storeError(err, 'migrate');
  }
}
