// The SQLite store's stream lifecycle: truncate, tombstone and archive as members of the store's group commit (so
// each runs inside the BEGIN IMMEDIATE transaction that also holds every other process's appends off), the archive
// table beside the log, and the floor that keeps the global head from going back when the last events leave the log.
import type Database from 'better-sqlite3';
import {
  assertExpectedVersion,
  assertStreamId,
  assertTruncateOptions,
  checkExpectedVersion,
  deletedStreamError,
  type ExpectedVersion,
  noStreamError,
  notArchivedError,
  notClosedError,
  type RecordedEvent,
  type StreamLifecycle,
  type StreamLifecycleState,
  truncateBefore,
} from 'chronicle-es';
import { EVENT_COLUMNS, type EventRow, toEvent } from './event-row.js';
import { prepareStatement } from './prepared-statement.js';
import { storeError } from './sqlite-error.js';

/**
 * The lifecycle tables, created when a store opens the file (outside the numbered migrations, like the snapshots
 * table: older code still opens the file). `stream_lifecycle` holds a stream's truncation point, its archived or
 * tombstoned state and the version it had; `archived_events` the moved rows, as they were; `log_floor` the highest
 * position ever handed out, which max(position) of events no longer shows once the last events left the log.
 */
const TABLES = `CREATE TABLE IF NOT EXISTS stream_lifecycle (
    stream_id TEXT PRIMARY KEY,
    state TEXT,
    version INTEGER NOT NULL,
    truncated_before INTEGER NOT NULL DEFAULT 1
  ) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS archived_events (
    position INTEGER PRIMARY KEY,
    id TEXT NOT NULL,
    stream_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    type TEXT NOT NULL,
    data TEXT NOT NULL,
    metadata TEXT NOT NULL,
    tags TEXT
  );
  CREATE INDEX IF NOT EXISTS archived_events_stream ON archived_events (stream_id, version);
  CREATE TABLE IF NOT EXISTS log_floor (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    position INTEGER NOT NULL
  );`;

/** Creates the lifecycle tables if missing (each statement is atomic). @throws STORE_ERROR */
export function createLifecycleTables(db: Database.Database): void {
  try {
    db.exec(TABLES);
  } catch (err) {
    throw storeError(err, TABLES);
  }
}

/** The global head: the last position in the log, or the floor when higher (the last events were removed). */
export const HEAD_SQL =
  'SELECT max(coalesce((SELECT max(position) FROM events), 0), coalesce((SELECT position FROM log_floor WHERE id = 1), 0))';

type LifeRow = [deleted: number | null, state: string | null, version: number | null, truncatedBefore: number | null];

/** What the store hands its lifecycle: the connection, the group commit, and its open check. */
export type SqliteLifecycleDeps = {
  db: Database.Database;
  /** Runs `work` as one member of the next group commit (its own savepoint). */
  enqueue: <T>(work: () => T) => Promise<T>;
  assertOpen: () => void;
};

/** The lifecycle of a SQLite store, and the lookups the store's reads and appends use on their error paths. */
export function createSqliteLifecycle({ db, enqueue, assertOpen }: SqliteLifecycleDeps): {
  lifecycle: StreamLifecycle;
  /** The STREAM_DELETED of a deleted stream, telling a tombstone or an archive from a soft delete. */
  deletedError(streamId: string): Error;
} {
  const raw = <Row>(sql: string) => prepareStatement<Row>(db, sql, 'raw');
  const run = (sql: string) => prepareStatement<never>(db, sql, 'rows');
  // A write that reports how many rows it changed, its failures as STORE_ERROR with the SQL.
  const counted = (sql: string) => {
    const prepared = db.prepare(sql);
    return (...params: unknown[]): number => {
      try {
        return prepared.run(...params).changes;
      } catch (err) {
        throw storeError(err, sql);
      }
    };
  };
  const lifeRow = raw<LifeRow>(
    `SELECT s.deleted, l.state, l.version, l.truncated_before FROM (SELECT 1)
     LEFT JOIN streams s ON s.stream_id = ? LEFT JOIN stream_lifecycle l ON l.stream_id = ?`,
  );
  const lastVersion = prepareStatement<number>(
    db,
    'SELECT version FROM events WHERE stream_id = ? ORDER BY version DESC LIMIT 1',
    'pluck',
  ).get;
  const head = prepareStatement<number>(db, HEAD_SQL, 'pluck').get;
  // The tag rows of a stream's events below a version: the stream id's own row and one per explicit tag.
  const deleteTags = run(
    `DELETE FROM event_tags WHERE (tag, position) IN (
       SELECT stream_id, position FROM events WHERE stream_id = ? AND version < ?
       UNION ALL SELECT j.value, e.position FROM events e, json_each(e.tags) j
         WHERE e.stream_id = ? AND e.version < ? AND e.tags IS NOT NULL)`,
  );
  const deleteEvents = counted('DELETE FROM events WHERE stream_id = ? AND version < ?');
  const archiveEvents = counted(
    `INSERT INTO archived_events (${EVENT_COLUMNS}) SELECT ${EVENT_COLUMNS} FROM events WHERE stream_id = ? ORDER BY version`,
  );
  const deleteArchived = run('DELETE FROM archived_events WHERE stream_id = ?');
  const readArchivedRows = raw<EventRow>(`SELECT ${EVENT_COLUMNS} FROM archived_events WHERE stream_id = ? ORDER BY version`);
  const raiseFloor = run(
    `INSERT INTO log_floor (id, position) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET position = max(position, excluded.position)`,
  );
  const markDeleted = run(
    'INSERT INTO streams (stream_id, deleted) VALUES (?, 1) ON CONFLICT (stream_id) DO UPDATE SET deleted = 1',
  );
  const upsertLife = run(
    `INSERT INTO stream_lifecycle (stream_id, state, version, truncated_before) VALUES (?, ?, ?, ?)
     ON CONFLICT (stream_id) DO UPDATE SET state = excluded.state, version = excluded.version,
       truncated_before = max(truncated_before, excluded.truncated_before)`,
  );
  const hasSnapshots = prepareStatement<number>(db, "SELECT count(*) FROM sqlite_master WHERE name = 'snapshots'", 'pluck').get;
  let deleteSnapshots: ((streamId: string) => void) | undefined;

  const stateOf = (row: LifeRow): StreamLifecycleState =>
    row[1] === 'tombstoned' || row[1] === 'archived' ? row[1] : row[0] === 1 ? 'deleted' : 'live';
  const read = (streamId: string) => {
    const row = lifeRow.get(streamId, streamId) as LifeRow;
    const state = stateOf(row);
    // An archived or tombstoned stream has no events left: its version is the one recorded when they left.
    const version = lastVersion(streamId) ?? row[2] ?? 0;
    return { state, version, truncatedBefore: row[3] ?? 1 };
  };
  // Every event of the stream leaves the log: the tag rows, the rows, and the head stays where it was.
  const removeAll = (streamId: string) => {
    raiseFloor.run(head());
    deleteTags.run(streamId, Number.MAX_SAFE_INTEGER, streamId, Number.MAX_SAFE_INTEGER);
    deleteEvents(streamId, Number.MAX_SAFE_INTEGER);
  };

  const lifecycle: StreamLifecycle = {
    async truncate(streamId, options) {
      assertOpen();
      assertStreamId(streamId);
      assertTruncateOptions(options);
      return enqueue(() => {
        const { state, version, truncatedBefore } = read(streamId);
        if (state !== 'live') throw deletedStreamError(streamId, state);
        if (version === 0) throw noStreamError(streamId);
        const before = truncateBefore(options, version);
        deleteTags.run(streamId, before, streamId, before);
        const removed = deleteEvents(streamId, before);
        if (before > truncatedBefore) upsertLife.run(streamId, null, version, before);
        return { removed };
      });
    },

    async tombstone(streamId, options = {}) {
      assertOpen();
      assertStreamId(streamId);
      const expected: ExpectedVersion = options?.expectedVersion ?? 'any';
      assertExpectedVersion(expected);
      return enqueue(() => {
        const { state, version, truncatedBefore } = read(streamId);
        if (state === 'tombstoned') return;
        if (version === 0) throw noStreamError(streamId);
        checkExpectedVersion(streamId, expected, version);
        removeAll(streamId);
        deleteArchived.run(streamId);
        markDeleted.run(streamId);
        upsertLife.run(streamId, 'tombstoned', version, truncatedBefore);
        if (deleteSnapshots === undefined && hasSnapshots() === 1) {
          deleteSnapshots = run('DELETE FROM snapshots WHERE stream_id = ?').run as (streamId: string) => void;
        }
        deleteSnapshots?.(streamId);
      });
    },

    async archive(streamId) {
      assertOpen();
      assertStreamId(streamId);
      return enqueue(() => {
        const { state, version, truncatedBefore } = read(streamId);
        if (state === 'tombstoned') throw deletedStreamError(streamId, state);
        if (state === 'archived') return { archived: 0 };
        if (version === 0) throw noStreamError(streamId);
        if (state !== 'deleted') throw notClosedError(streamId);
        const archived = archiveEvents(streamId);
        removeAll(streamId);
        upsertLife.run(streamId, 'archived', version, truncatedBefore);
        return { archived };
      });
    },

    async readArchived(streamId): Promise<RecordedEvent[]> {
      assertOpen();
      assertStreamId(streamId);
      const state = stateOf(lifeRow.get(streamId, streamId) as LifeRow);
      if (state === 'tombstoned') throw deletedStreamError(streamId, state);
      if (state !== 'archived') throw notArchivedError(streamId);
      return readArchivedRows.all(streamId).map(toEvent);
    },

    async status(streamId) {
      assertOpen();
      assertStreamId(streamId);
      return { streamId, ...read(streamId) };
    },
  };
  return {
    lifecycle,
    deletedError: (streamId) => deletedStreamError(streamId, stateOf(lifeRow.get(streamId, streamId) as LifeRow)),
  };
}
