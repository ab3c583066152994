// Snapshots in the SQLite event store's own file: one row per (stream, name, version), replaced by each save. The
// table is created on first use, outside the event store's numbered migrations:
// a file that never held a snapshot is unchanged, and one opened by older code still opens.
import type Database from 'better-sqlite3';
import { assertSnapshotKey, encodeSnapshot, type Snapshot, type SnapshotStore } from 'chronicle-es';
import { prepareStatement } from './prepared-statement.js';
import { storeError } from './sqlite-error.js';

const CREATE = `CREATE TABLE IF NOT EXISTS snapshots (
  stream_id TEXT NOT NULL,
  name TEXT NOT NULL,
  version INTEGER NOT NULL,
  stream_version INTEGER NOT NULL,
  position INTEGER NOT NULL,
  state TEXT NOT NULL,
  taken_at TEXT NOT NULL,
  PRIMARY KEY (stream_id, name, version)
) WITHOUT ROWID`;

type Row = [streamVersion: number, position: number, state: string, takenAt: string];

/** The snapshot store of `db`; `assertOpen` throws CLOSED once the event store is closed. */
export function createSqliteSnapshotStore(db: Database.Database, assertOpen: () => void): SnapshotStore {
  let statements:
    | { select: ReturnType<typeof prepareStatement<Row>>; upsert: ReturnType<typeof prepareStatement<never>> }
    | undefined;
  const prepared = () => {
    if (statements) return statements;
    try {
      db.exec(CREATE);
    } catch (err) {
      throw storeError(err, CREATE);
    }
    statements = {
      select: prepareStatement<Row>(
        db,
        'SELECT stream_version, position, state, taken_at FROM snapshots WHERE stream_id = ? AND name = ? AND version = ?',
        'raw',
      ),
      upsert: prepareStatement<never>(
        db,
        `INSERT INTO snapshots (stream_id, name, version, stream_version, position, state, taken_at) VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (stream_id, name, version) DO UPDATE SET
           stream_version = excluded.stream_version, position = excluded.position, state = excluded.state,
           taken_at = excluded.taken_at`,
        'rows',
      ),
    };
    return statements;
  };
  return {
    async loadSnapshot(streamId, name, version): Promise<Snapshot | undefined> {
      assertOpen();
      assertSnapshotKey(streamId, name, version);
      const row = prepared().select.get(streamId, name, version);
      if (row === undefined) return undefined;
      return { streamId, name, version, streamVersion: row[0], position: row[1], state: JSON.parse(row[2]), takenAt: row[3] };
    },
    async saveSnapshot(given): Promise<void> {
      assertOpen();
      const { snapshot, stateJson } = encodeSnapshot(given);
      const { streamId, name, version, streamVersion, position } = snapshot;
      prepared().upsert.run(streamId, name, version, streamVersion, position, stateJson, new Date().toISOString());
    },
  };
}
