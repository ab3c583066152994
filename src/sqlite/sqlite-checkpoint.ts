// A relay's checkpoint in a SQLite file, typically the event store's own: one row in a table of its own, written by
// one synchronous statement, so it never holds the file's write lock across an await (the reason a read store may not
// share the event store's file) and the checkpoint sits beside the log it counts in.
import type Database from 'better-sqlite3';
import { ChronicleError, type RelayCheckpoint } from 'chronicle-es';
import { openDatabase } from './open-database.js';
import { storeError } from './sqlite-error.js';

export type SqliteCheckpointOptions = {
  /** The file, e.g. the event store's `events.db`; created if missing. */
  path: string;
  /** Which checkpoint in the file: any non-empty name up to 200 characters, one per relay. */
  name: string;
  /** Default 5000: how long a save waits for the event store's commit holding the file's write lock. */
  busyTimeoutMs?: number;
};

export type SqliteCheckpoint = RelayCheckpoint & {
  /** Closes its connection to the file (the event store's own connections are not touched). */
  close(): Promise<void>;
};

const TABLE = 'chronicle_checkpoints';
const LOAD = `SELECT position FROM ${TABLE} WHERE name = ?`;
// Never moves back: a lower position than stored (another relay sharing the name got further) changes nothing.
const SAVE = `INSERT INTO ${TABLE} (name, position) VALUES (?, ?)
  ON CONFLICT (name) DO UPDATE SET position = excluded.position WHERE excluded.position > ${TABLE}.position`;

/**
 * A RelayCheckpoint kept in the SQLite file at `path` under `name`.
 * @throws INVALID_ARGUMENT bad options; STORE_ERROR when the file cannot be opened
 */
export function createSqliteCheckpoint(options: SqliteCheckpointOptions): SqliteCheckpoint {
  const { path, name, busyTimeoutMs = 5000 } = options ?? ({} as SqliteCheckpointOptions);
  if (typeof name !== 'string' || name.length === 0 || name.length > 200) {
    throw new ChronicleError('INVALID_ARGUMENT', 'name must be a string of 1 to 200 characters');
  }
  const db: Database.Database = openDatabase({
    path,
    synchronous: 'full',
    allowed: ['full'],
    busyTimeoutMs,
    migrate: (d) => d.exec(`CREATE TABLE IF NOT EXISTS ${TABLE} (name TEXT PRIMARY KEY, position INTEGER NOT NULL) STRICT`),
  });
  const load = db.prepare<[string], { position: number }>(LOAD);
  const save = db.prepare<[string, number]>(SAVE);
  let closed = false;
  const open = () => {
    if (closed) throw new ChronicleError('CLOSED', `checkpoint ${name}: closed`);
  };
  return {
    async load() {
      open();
      try {
        return load.get(name)?.position ?? 0;
      } catch (err) {
        throw storeError(err, LOAD);
      }
    },
    async save(position) {
      open();
      if (!Number.isSafeInteger(position) || position < 0) {
        throw new ChronicleError(
          'INVALID_ARGUMENT',
          `checkpoint ${name}: position must be a non-negative integer; got ${position}`,
        );
      }
      try {
        save.run(name, position);
      } catch (err) {
        throw storeError(err, SAVE);
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      db.close();
    },
  };
}
