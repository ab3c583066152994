// Tables of the SQLite event store and the migrations that bring a file up to date.
import type Database from 'better-sqlite3';
import { ChronicleError } from 'chronicle-es';
import { storeError } from './sqlite-error.js';

// Step n brings a file from user_version n to n + 1. Steps are only ever appended: files in the field hold older ones.
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE events (
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
  CREATE INDEX events_category ON events (category, position);
  CREATE TABLE streams (
    stream_id TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    position INTEGER NOT NULL DEFAULT 0,
    deleted INTEGER NOT NULL DEFAULT 0,
    metadata TEXT NOT NULL DEFAULT '{}'
  ) WITHOUT ROWID;
  CREATE TABLE idempotency (
    key TEXT PRIMARY KEY,
    result TEXT NOT NULL
  ) WITHOUT ROWID;`,
  // A stream's version now comes from the (stream_id, version) index, so an append writes one table and commits
  // one page fewer; only streams that were deleted or given metadata keep a row.
  `CREATE TABLE streams_v2 (
    stream_id TEXT PRIMARY KEY,
    deleted INTEGER NOT NULL DEFAULT 0,
    metadata TEXT NOT NULL DEFAULT '{}'
  ) WITHOUT ROWID;
  INSERT INTO streams_v2 (stream_id, deleted, metadata)
    SELECT stream_id, deleted, metadata FROM streams WHERE deleted <> 0 OR metadata <> '{}';
  DROP TABLE streams;
  ALTER TABLE streams_v2 RENAME TO streams;`,
  // A digest of the request a key was first used for, so a key reused for another request is refused, not answered
  // with the first one's result. Keys stored before have none and match any request.
  `ALTER TABLE idempotency ADD COLUMN fingerprint TEXT;`,
  // Tagged events (dynamic consistency boundaries). `tags` holds an event's explicit tags as a JSON array (NULL when
  // none) so reads return them; `event_tags` finds events by tag in position order, and holds the stream id as a tag
  // too, since queries and conditions treat a stream as a tag (appends write both kinds of row). Existing events are
  // backfilled with their stream id, in (stream_id, version) index order, which is also each stream's position order,
  // so the b-tree fills left to right; a file written before tags answers queries by stream id as soon as it is
  // opened. `events_type` serves query items with types and no tags: a seek per type instead of a scan of the log. Its
  // key is (type, rowid) and position is the rowid, so it is ordered as (type, position) without storing it twice.
  `ALTER TABLE events ADD COLUMN tags TEXT;
  CREATE TABLE event_tags (
    tag TEXT NOT NULL,
    position INTEGER NOT NULL,
    PRIMARY KEY (tag, position)
  ) WITHOUT ROWID;
  INSERT INTO event_tags (tag, position) SELECT stream_id, position FROM events ORDER BY stream_id, version;
  CREATE INDEX events_type ON events (type);`,
];

/** Schema version this code writes; kept in `PRAGMA user_version`. */
export const EVENT_STORE_SCHEMA_VERSION = MIGRATIONS.length;

/**
 * Brings the file's schema up to EVENT_STORE_SCHEMA_VERSION inside one write transaction,
 * so two processes opening a new file at once cannot both create it.
 * @throws INVALID_ARGUMENT when the file holds a read store; STORE_ERROR when the file was written by a newer schema or the driver fails
 */
export function migrateEventStore(db: Database.Database): void {
  const begin = 'BEGIN IMMEDIATE';
  try {
    db.exec(begin);
  } catch (err) {
    throw storeError(err, begin);
  }
  try {
    const current = db.pragma('user_version', { simple: true }) as number;
    // The mirror of the read store's check: a read store's file given as the event store must not gain a log.
    if (current === 0 && db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'chronicle_projections'").get()) {
      throw new ChronicleError('INVALID_ARGUMENT', `${db.name} holds a read store, not an event store`);
    }
    if (current > EVENT_STORE_SCHEMA_VERSION) {
      throw new ChronicleError(
        'STORE_ERROR',
        `event store schema version ${current} is newer than this code supports (${EVENT_STORE_SCHEMA_VERSION})`,
        { details: { schemaVersion: current } },
      );
    }
    for (let version = current; version < EVENT_STORE_SCHEMA_VERSION; version++) {
      try {
        db.exec(MIGRATIONS[version]);
      } catch (err) {
        throw storeError(err, MIGRATIONS[version]);
      }
    }
    if (current !== EVENT_STORE_SCHEMA_VERSION) db.pragma(`user_version = ${EVENT_STORE_SCHEMA_VERSION}`);
    db.exec('COMMIT');
  } catch (err) {
    if (db.inTransaction) db.exec('ROLLBACK');
    throw storeError(err, 'migrate');
  }
}
