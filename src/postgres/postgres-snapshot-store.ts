// Snapshots in the PostgreSQL event store's schema: one row per (stream, name, version), replaced by each save. Its table is a migration component of its own ('snapshots'), applied on first use,
// so the event store's migrations are untouched and a schema that never held a snapshot has no table.
import { assertSnapshotKey, ChronicleError, encodeSnapshot, type Snapshot, type SnapshotStore } from 'chronicle-es';
import type { Connection } from './connection.js';
import { migrate } from './migrate.js';
import { storeError } from './pg-error.js';

const MIGRATIONS = [
  {
    version: 1,
    name: 'snapshots: stream state by (stream, name, version)',
    sql: (s: string) => `CREATE TABLE ${s}.snapshots (
      stream_id text NOT NULL,
      name text NOT NULL,
      version integer NOT NULL,
      stream_version bigint NOT NULL,
      position bigint NOT NULL,
      state text NOT NULL,
      taken_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (stream_id, name, version)
    )`,
  },
];

/** The snapshot store in `connection`'s schema; `isClosed` makes its calls fail with CLOSED once the store is closed. */
export function createPostgresSnapshotStore(connection: Connection, isClosed: () => boolean): SnapshotStore {
  const { pool, schema: s, schemaName } = connection;
  let ready: Promise<void> | undefined;
  const migrated = (): Promise<void> => {
    ready ??= migrate(connection, 'snapshots', MIGRATIONS).catch((err) => {
      ready = undefined;
      throw err;
    });
    return ready;
  };
  async function query(text: string, values: unknown[], what: string, name: string) {
    if (isClosed()) throw new ChronicleError('CLOSED', 'event store is closed');
    await migrated();
    try {
      return (await pool.query({ text, values, rowMode: 'array', name: `${name}_${schemaName}` })).rows;
    } catch (err) {
      throw storeError(err, what);
    }
  }
  const select = `SELECT stream_version::float8, position::float8, state, to_char(taken_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
    FROM ${s}.snapshots WHERE stream_id = $1 AND name = $2 AND version = $3`;
  const upsert = `INSERT INTO ${s}.snapshots (stream_id, name, version, stream_version, position, state)
    VALUES ($1, $2, $3, $4, $5, $6)
    ON CONFLICT (stream_id, name, version) DO UPDATE SET
      stream_version = excluded.stream_version, position = excluded.position, state = excluded.state, taken_at = now()`;
  return {
    async loadSnapshot(streamId, name, version): Promise<Snapshot | undefined> {
      if (isClosed()) throw new ChronicleError('CLOSED', 'event store is closed');
      assertSnapshotKey(streamId, name, version);
      const [row] = await query(select, [streamId, name, version], 'load snapshot', 'chronicle_snapshot_load');
      if (row === undefined) return undefined;
      const [streamVersion, position, state, takenAt] = row as [number, number, string, string];
      return { streamId, name, version, streamVersion, position, state: JSON.parse(state), takenAt };
    },
    async saveSnapshot(given): Promise<void> {
      if (isClosed()) throw new ChronicleError('CLOSED', 'event store is closed');
      const { snapshot, stateJson } = encodeSnapshot(given);
      const { streamId, name, version, streamVersion, position } = snapshot;
      await query(
        upsert,
        [streamId, name, version, streamVersion, position, stateJson],
        'save snapshot',
        'chronicle_snapshot_save',
      );
    },
  };
}
