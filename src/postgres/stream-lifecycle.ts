// The PostgreSQL store's stream lifecycle: truncate, tombstone and archive, each one transaction that first locks the
// stream's row in `streams` (the row every append to the stream locks), so it is serialized with that stream's
// appends: an append committed before it is covered by it, one waiting behind it sees what it left (a tombstone's
// deleted flag). It takes no position from the sequence, so the safe head, and the readers of the global log, never
// wait on it or pass a position because of it: removed rows are committed positions that become gaps.
import {
  assertExpectedVersion,
  assertStreamId,
  assertTruncateOptions,
  checkExpectedVersion,
  deletedStreamError,
  type ExpectedVersion,
  isChronicleError,
  noStreamError,
  notArchivedError,
  notClosedError,
  type RecordedEvent,
  type StreamLifecycle,
  type StreamLifecycleState,
  truncateBefore,
} from 'chronicle-es';
import type pg from 'pg';
import { type Connection, types } from './connection.js';
import { EVENT_COLUMNS, type EventRow, toEvent } from './event-row.js';
import type { Migration } from './migrate.js';
import { storeError } from './pg-error.js';

/**
 * The lifecycle's tables, a migration component of their own ('lifecycle'): `stream_lifecycle` holds a stream's
 * truncation point, its archived or tombstoned state and the version it had; `archived_events` the moved rows as
 * they were; `log_floor` the last position removed from the log, so headPosition never goes back (positions come from
 * the sequence and are never reused either way).
 */
export const LIFECYCLE_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'stream lifecycle: stream_lifecycle, archived_events',
    sql: (s) => `CREATE TABLE ${s}.stream_lifecycle (
        stream_id text COLLATE "C" PRIMARY KEY,
        state text,
        version bigint NOT NULL,
        truncated_before bigint NOT NULL DEFAULT 1
      );
      CREATE TABLE ${s}.archived_events (
        position bigint PRIMARY KEY,
        id text COLLATE "C" NOT NULL,
        stream_id text COLLATE "C" NOT NULL,
        version bigint NOT NULL,
        type text COLLATE "C" NOT NULL,
        data json NOT NULL,
        metadata json NOT NULL,
        tags text[]
      );
      CREATE INDEX archived_events_stream ON ${s}.archived_events (stream_id, version);
      CREATE TABLE ${s}.log_floor (
        id int PRIMARY KEY CHECK (id = 1),
        position bigint NOT NULL
      );`,
  },
];

type Query = <Row>(text: string, values: unknown[], what: string) => Promise<Row[]>;
type LifeRow = [deleted: boolean | null, state: string | null, version: number | null, truncatedBefore: number | null];

/** What the store hands its lifecycle. */
export type PostgresLifecycleDeps = {
  connection: Connection;
  /** The store's query (checks it is open, migrates on first use, translates errors). */
  query: Query;
  /** Migrates on first use; throws CLOSED when the store is closed. */
  ready: () => Promise<void>;
  assertOpen: () => void;
};

const stateOf = (row: LifeRow | undefined): StreamLifecycleState =>
  row?.[1] === 'tombstoned' || row?.[1] === 'archived' ? row[1] : row?.[0] === true ? 'deleted' : 'live';

/** The lifecycle of a PostgreSQL store, and the lookup its reads and appends use on their STREAM_DELETED paths. */
export function createPostgresLifecycle({ connection, query, ready, assertOpen }: PostgresLifecycleDeps): {
  lifecycle: StreamLifecycle;
  /** `error` itself, or, when it is a STREAM_DELETED, one telling a tombstone or an archive from a soft delete. */
  explain(error: unknown): Promise<unknown>;
  /** The STREAM_DELETED of a deleted stream, with its lifecycle state. */
  deletedError(streamId: string): Promise<Error>;
} {
  const { pool, schema: s, schemaName } = connection;
  const columns = EVENT_COLUMNS.join(', ');
  const lifeSql = `SELECT st.deleted, l.state, l.version, l.truncated_before FROM (SELECT 1) one
    LEFT JOIN ${s}.streams st ON st.stream_id = $1 LEFT JOIN ${s}.stream_lifecycle l ON l.stream_id = $1`;
  const lastVersionSql = `SELECT version FROM ${s}.events WHERE stream_id = $1 ORDER BY version DESC LIMIT 1`;
  // The tag rows of a stream's events below a version: the stream id's own row and one per explicit tag.
  const deleteTagsSql = `DELETE FROM ${s}.event_tags et USING (
      SELECT position, unnest(array_append(coalesce(tags, '{}'::text[]), stream_id)) AS tag
      FROM ${s}.events WHERE stream_id = $1 AND version < $2) x
    WHERE et.tag = x.tag AND et.position = x.position`;
  const deleteEventsSql = `DELETE FROM ${s}.events WHERE stream_id = $1 AND version < $2`;
  const upsertLifeSql = `INSERT INTO ${s}.stream_lifecycle (stream_id, state, version, truncated_before)
    VALUES ($1, $2, $3, $4) ON CONFLICT (stream_id) DO UPDATE SET state = excluded.state, version = excluded.version,
    truncated_before = greatest(${s}.stream_lifecycle.truncated_before, excluded.truncated_before)`;

  // One transaction on a client of its own, beginning with the lock on the stream's row: undefined when the stream
  // never had a row (it was never appended to).
  async function locked<T>(
    streamId: string,
    what: string,
    work: (q: (text: string, values: unknown[]) => Promise<pg.QueryResult>, life: Life) => Promise<T>,
  ): Promise<T> {
    assertOpen();
    await ready();
    let client: pg.PoolClient | undefined;
    try {
      client = await pool.connect();
      // A checked-out client has no listener of the pool's: a server going away mid-call would crash the process.
      client.on('error', () => {});
      const c = client;
      const q = (text: string, values: unknown[]) => c.query({ text, values, types, rowMode: 'array' });
      await q('BEGIN', []);
      const row = (await q(`SELECT deleted FROM ${s}.streams WHERE stream_id = $1 FOR NO KEY UPDATE`, [streamId])).rows[0];
      const life = row === undefined ? undefined : await lifeOf(streamId, q);
      const result = await work(q, life ?? { state: 'live', version: 0, truncatedBefore: 1 });
      await q('COMMIT', []);
      return result;
    } catch (err) {
      await client?.query('ROLLBACK').catch(() => {});
      if (isChronicleError(err)) throw err;
      throw storeError(err, `${what} (schema ${schemaName})`);
    } finally {
      client?.release();
    }
  }

  type Life = { state: StreamLifecycleState; version: number; truncatedBefore: number };
  async function lifeOf(streamId: string, q: (text: string, values: unknown[]) => Promise<pg.QueryResult>): Promise<Life> {
    const row = (await q(lifeSql, [streamId])).rows[0] as LifeRow;
    const last = (await q(lastVersionSql, [streamId])).rows[0] as [number] | undefined;
    // An archived or tombstoned stream has no events left: its version is the one recorded when they left.
    return { state: stateOf(row), version: last?.[0] ?? row[2] ?? 0, truncatedBefore: row[3] ?? 1 };
  }

  // Every event of the stream leaves the log: its tag rows and its rows.
  async function removeAll(streamId: string, q: (text: string, values: unknown[]) => Promise<pg.QueryResult>) {
    await q(
      `INSERT INTO ${s}.log_floor (id, position) SELECT 1, max(position) FROM ${s}.events WHERE stream_id = $1
       HAVING max(position) IS NOT NULL
       ON CONFLICT (id) DO UPDATE SET position = greatest(${s}.log_floor.position, excluded.position)`,
      [streamId],
    );
    await q(deleteTagsSql, [streamId, Number.MAX_SAFE_INTEGER]);
    await q(deleteEventsSql, [streamId, Number.MAX_SAFE_INTEGER]);
  }

  async function deletedError(streamId: string): Promise<Error> {
    const rows = await query<LifeRow>(lifeSql, [streamId], 'reading the lifecycle of a deleted stream');
    return deletedStreamError(streamId, stateOf(rows[0]));
  }

  const lifecycle: StreamLifecycle = {
    async truncate(streamId, options) {
      assertOpen();
      assertStreamId(streamId);
      assertTruncateOptions(options);
      return locked(streamId, 'truncate', async (q, { state, version, truncatedBefore }) => {
        if (state !== 'live') throw deletedStreamError(streamId, state);
        if (version === 0) throw noStreamError(streamId);
        const before = truncateBefore(options, version);
        await q(deleteTagsSql, [streamId, before]);
        const removed = (await q(deleteEventsSql, [streamId, before])).rowCount ?? 0;
        if (before > truncatedBefore) await q(upsertLifeSql, [streamId, null, version, before]);
        return { removed };
      });
    },

    async tombstone(streamId, options = {}) {
      assertOpen();
      assertStreamId(streamId);
      const expected: ExpectedVersion = options?.expectedVersion ?? 'any';
      assertExpectedVersion(expected);
      return locked(streamId, 'tombstone', async (q, { state, version, truncatedBefore }) => {
        if (state === 'tombstoned') return;
        if (version === 0) throw noStreamError(streamId);
        checkExpectedVersion(streamId, expected, version);
        await removeAll(streamId, q);
        await q(`DELETE FROM ${s}.archived_events WHERE stream_id = $1`, [streamId]);
        await q(`UPDATE ${s}.streams SET deleted = true WHERE stream_id = $1`, [streamId]);
        await q(upsertLifeSql, [streamId, 'tombstoned', version, truncatedBefore]);
        // The snapshots table is the snapshot store's component, created on its first use.
        const snapshots = (await q('SELECT to_regclass($1)', [`${s}.snapshots`])).rows[0][0];
        if (snapshots !== null) await q(`DELETE FROM ${s}.snapshots WHERE stream_id = $1`, [streamId]);
      });
    },

    async archive(streamId) {
      assertOpen();
      assertStreamId(streamId);
      return locked(streamId, 'archive', async (q, { state, version, truncatedBefore }) => {
        if (state === 'tombstoned') throw deletedStreamError(streamId, state);
        if (state === 'archived') return { archived: 0 };
        if (version === 0) throw noStreamError(streamId);
        if (state !== 'deleted') throw notClosedError(streamId);
        const moved = await q(
          `INSERT INTO ${s}.archived_events (${columns}) SELECT ${columns} FROM ${s}.events WHERE stream_id = $1`,
          [streamId],
        );
        await removeAll(streamId, q);
        await q(upsertLifeSql, [streamId, 'archived', version, truncatedBefore]);
        return { archived: moved.rowCount ?? 0 };
      });
    },

    async readArchived(streamId): Promise<RecordedEvent[]> {
      assertOpen();
      assertStreamId(streamId);
      const state = stateOf((await query<LifeRow>(lifeSql, [streamId], 'readArchived'))[0]);
      if (state === 'tombstoned') throw deletedStreamError(streamId, state);
      if (state !== 'archived') throw notArchivedError(streamId);
      const rows = await query<EventRow>(
        `SELECT ${columns} FROM ${s}.archived_events WHERE stream_id = $1 ORDER BY version`,
        [streamId],
        'readArchived',
      );
      return rows.map(toEvent);
    },

    async status(streamId) {
      assertOpen();
      assertStreamId(streamId);
      const [row] = await query<[...LifeRow, number | null]>(
        `SELECT l.*, (${lastVersionSql}) FROM (${lifeSql}) l`,
        [streamId],
        'lifecycle status',
      );
      return {
        streamId,
        state: stateOf(row.slice(0, 4) as LifeRow),
        version: row[4] ?? row[2] ?? 0,
        truncatedBefore: row[3] ?? 1,
      };
    },
  };

  return {
    lifecycle,
    deletedError,
    async explain(error) {
      if (!isChronicleError(error, 'STREAM_DELETED')) return error;
      const streamId = (error as { details?: { streamId?: unknown } }).details?.streamId;
      if (typeof streamId !== 'string') return error;
      return deletedError(streamId).catch(() => error);
    },
  };
}
