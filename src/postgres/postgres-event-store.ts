// The PostgreSQL event store: appends grouped into one function call per round trip, global reads bounded by the
// safe head (no reader passes a position that may still commit), subscribers woken by LISTEN/NOTIFY, append
// conditions made exact by advisory locks (event-store-schema-v2.ts).
import {
  type AppendOptions,
  type AppendResult,
  AppendSignal,
  appendForms,
  assertExpectedVersion,
  assertIdempotencyKey,
  assertStreamId,
  ChronicleError,
  checkExpectedVersion,
  checkIdempotencyFingerprint,
  createPollingSubscription,
  createStoreInspector,
  type EventStore,
  normalizeQuery,
  normalizeRead,
  normalizeReadAll,
  normalizeReadStream,
  type Query,
  type ReadAllOptions,
  type ReadOptions,
  type ReadResult,
  type ReadStreamOptions,
  type RecordedEvent,
  retainedRead,
  retentionOf,
  type StalledRead,
  type StateStoredStore,
  type StoreInspector,
  type StreamInfo,
  type StreamLifecycle,
  streamMetadataJson,
} from 'chronicle-es';
import { openConnection, type PostgresConnectionOptions, types } from './connection.js';
import { EVENT_COLUMNS, type EventRow, toEvent } from './event-row.js';
import { type AppendWriterStats, appendEventsSql, createAppendWriter } from './event-store-append.js';
import { sqlCondition } from './event-store-conditions.js';
import { createListener } from './event-store-listener.js';
import { eventStoreMigrations } from './event-store-migrations.js';
import { readQuerySql } from './event-store-read-query.js';
import { createSafeHead } from './event-store-safe-head.js';
import { expectedCode, notifyChannel } from './event-store-schema.js';
import { migrate } from './migrate.js';
import { storeError } from './pg-error.js';
import { postgresInspectionSource } from './postgres-inspection.js';
import { createPostgresSnapshotStore } from './postgres-snapshot-store.js';
import { type PostgresWriteTx, postgresTransact } from './state-stored-transaction.js';
import { createPostgresLifecycle, LIFECYCLE_MIGRATIONS } from './stream-lifecycle.js';

/** Options of createPostgresEventStore. */
export type PostgresEventStoreOptions = PostgresConnectionOptions;

/**
 * The PostgreSQL event store: the EventStore port, with `stalledBy`, plus what is specific to this adapter.
 *
 * Global reads (`readAll`, `subscribe`, `headPosition`) stop at the safe head: the highest position below which every
 * position is committed or will never exist (event-store-snapshot.ts), so a position-only cursor never skips an event
 * that commits late. `headPosition` is the last event at or below it. An append held open (a transaction begun by
 * hand around append_events) holds them there until it ends; `stalledBy` names it. The store's own appends are
 * single statements and never stay open. A store opened while an append is in flight learns its first safe head
 * when that append ends (the positions it holds are invisible, so nothing below them can be vouched for): under a
 * long-held one it reads nothing at all until then — late, never wrong.
 * Connections: appends use one pooled connection at a time (one group in flight), reads the others, and subscribing
 * opens one more, outside the pool, for LISTEN.
 * Append conditions hold under any concurrency at READ COMMITTED: every append takes advisory locks, shared on the
 * tags (stream ids included) and types it writes, exclusive on what its condition queries, in key order before its
 * first position (event-store-schema-v2.ts has the argument); `read` returns a safe head, so a condition `after` it
 * cannot miss an event that commits late. Take `after` from `read` (or `headPosition`), not from an append's result:
 * a lower position may still commit. An append waiting on another's lock (one held open by hand, say) holds up its
 * store's group, and the appends queued behind it, until that lock is released.
 */
export type PostgresEventStore = EventStore &
  StateStoredStore<PostgresWriteTx> & {
    /**
     * The oldest append of this store's schema holding the global log's readers back, when open longer than
     * `thresholdMs` (from pg_stat_activity; a role without pg_read_all_stats sees only its own sessions' transactions).
     * @throws INVALID_ARGUMENT bad threshold; STORE_ERROR; CLOSED
     */
    stalledBy(thresholdMs: number): Promise<StalledRead | undefined>;
    /** The schema holding the store's tables. */
    readonly schema: string;
    /** Truncate, tombstone and archive streams (src/postgres/stream-lifecycle.ts). */
    readonly lifecycle: StreamLifecycle;
    /** Group-commit counters since the store was opened. */
    stats(): AppendWriterStats;
    /** Read-only inspection of the store (console, CLI). */
    inspector(): StoreInspector;
  };

// A stream read knows its stream id: not reading it back saves a string per row.
type StreamEventRow = [
  position: number,
  id: string,
  version: number,
  type: string,
  data: unknown,
  metadata: unknown,
  tags: string[] | null,
];

// How long a read keeps waiting, after its first rounds, for appends in flight below the position it must reach;
// past it an append is taken to be held open and the read returns the safe head it has.
const SLOW_APPEND_WAIT_MS = 250;

/**
 * Opens a PostgreSQL event store; its tables are created (or brought up to date) in `schema` on first use.
 * @throws INVALID_ARGUMENT for bad options (at once); STORE_ERROR from the first call when the server cannot be reached
 *   or migrated
 */
export function createPostgresEventStore(options: PostgresEventStoreOptions): PostgresEventStore {
  const connection = openConnection(options, 'createPostgresEventStore');
  const { pool, schema: s, schemaName } = connection;
  let closed = false;
  let ready: Promise<void> | undefined;
  // On first use; a failed migration is tried again by the next call instead of failing the store for good.
  const migrated = (): Promise<void> => {
    ready ??= migrate(connection, 'events', eventStoreMigrations(schemaName))
      .then(() => migrate(connection, 'lifecycle', LIFECYCLE_MIGRATIONS))
      .catch((err) => {
        ready = undefined;
        throw err;
      });
    return ready;
  };

  async function query<Row>(text: string, values: unknown[], what: string, name?: string): Promise<Row[]> {
    if (closed) throw new ChronicleError('CLOSED', 'event store is closed');
    await migrated();
    try {
      const result = await pool.query({ text, values, types, rowMode: 'array', name });
      return result.rows as Row[];
    } catch (err) {
      throw storeError(err, what);
    }
  }

  const signal = new AppendSignal();
  // A rise of the safe head is news for subscribers even when no append of this store caused it.
  const safeHead = createSafeHead(pool, s, schemaName, () => signal.notify());
  // The highest position this store's own appends committed: a read after one must see it, so it refreshes the safe
  // head when that is behind.
  let ownHead = 0;
  const appendSql = appendEventsSql(s);
  const appendName = `chronicle_append_${schemaName}`;
  const writer = createAppendWriter(
    async (args) => {
      await migrated();
      const result = await pool.query({ text: appendSql, values: args, types, rowMode: 'array', name: appendName });
      return result.rows[0][0] as string;
    },
    (position) => {
      if (position > ownHead) ownHead = position;
      signal.notify();
    },
  );
  // State-stored commands: their rows and events in one transaction, the events through append_events.
  const stateStored = postgresTransact({
    pool,
    schema: s,
    schemaName,
    assertOpen: () => assertOpen(),
    migrated,
    committed: (position) => {
      if (position > ownHead) ownHead = position;
      signal.notify();
    },
  });
  const listener = createListener(connection.clientConfig, notifyChannel(schemaName), () => signal.notify());

  // A fresh safe head that reaches `target` (read after the first round), unless an append is really held open. One
  // round usually settles it. When it falls short, or a store new to the log has no safe head yet, an open transaction
  // counted: the next round reads the lock table and drops the ones that are not appends of this schema (any other
  // write transaction in the cluster), and one more lets the appends that were in flight finish.
  // After the third round, appends still in flight are usually only slow (a loaded server), not held open: keep
  // looking for a short while, so a read right after another process's commit sees it rather than a stale head (a
  // decision on a stale read refuses what it should accept, e.g. paying an order created a moment before elsewhere).
  async function boundReaching(target: () => number): Promise<number> {
    let bound = await safeHead.refresh();
    const deadline = Date.now() + SLOW_APPEND_WAIT_MS;
    for (let round = 1; (bound < target() || bound === 0) && safeHead.waiting(); round++) {
      if (round >= 3) {
        if (Date.now() >= deadline) break;
        await new Promise((resolve) => setTimeout(resolve, Math.min(2 * round, 20)));
      }
      bound = await safeHead.refresh(round === 1);
    }
    return bound;
  }

  // Reaching this store's own last commit: a caller reads its own writes.
  const freshBound = () => boundReaching(() => ownHead);

  // Reaching every append committed before the call, by any store: the first round starts after the call, so the
  // sequence value it reads is at or past every position handed out before, and the rounds after it wait for the
  // transactions in flight then. A read whose head a decision passes as its condition's `after` then sees what another
  // process committed just before — stale, it would only conflict.
  const coveringBound = () => {
    let target: number | undefined;
    return boundReaching(() => {
      target ??= Math.max(ownHead, safeHead.seen());
      return target;
    });
  };

  const assertOpen = () => {
    if (closed) throw new ChronicleError('CLOSED', 'event store is closed');
  };

  const life = createPostgresLifecycle({ connection, query, ready: migrated, assertOpen });

  const columns = EVENT_COLUMNS.join(', ');
  const readAllSql = {
    all: `SELECT ${columns} FROM ${s}.events WHERE position >= $1 AND position <= $2 ORDER BY position LIMIT $3`,
    types: `SELECT ${columns} FROM ${s}.events WHERE position >= $1 AND position <= $2 AND type = ANY ($4::text[])
      ORDER BY position LIMIT $3`,
    categories: `SELECT ${columns} FROM ${s}.events WHERE position >= $1 AND position <= $2 AND category = ANY ($4::text[])
      ORDER BY position LIMIT $3`,
    both: `SELECT ${columns} FROM ${s}.events WHERE position >= $1 AND position <= $2 AND category = ANY ($4::text[])
      AND type = ANY ($5::text[]) ORDER BY position LIMIT $3`,
  };

  async function readAll(readOptions?: ReadAllOptions): Promise<RecordedEvent[]> {
    assertOpen();
    const { from, limit, filter } = normalizeReadAll(readOptions);
    await migrated();
    // The known bound serves a page that fits below it (catching up); a page that could reach past it (the tail,
    // where the positions up to the bound may also be gaps) asks for a fresh one first.
    let bound = safeHead.known();
    const known = !(bound < from + limit - 1 || bound < ownHead);
    if (!known) bound = await freshBound();
    if (bound < from) return [];
    const types = filter?.types;
    const categories = filter?.categories;
    if (types?.length === 0 || categories?.length === 0) return [];
    let rows = await readBelow(from, bound, limit, filter);
    // Positions up to the known bound can all be gaps (a tombstoned or archived stream, rolled-back appends): an
    // empty unfiltered page there is no sign of the tail, and a subscriber (whose pages are unfiltered) taking it for
    // one would idle until something else refreshed the safe head. Read on to one covering every append committed
    // before this call.
    if (known && rows.length === 0 && types === undefined && categories === undefined) {
      const fresh = await coveringBound();
      if (fresh > bound) rows = await readBelow(bound + 1, fresh, limit, filter);
    }
    return rows.map(toEvent);
  }

  function readBelow(from: number, bound: number, limit: number, filter: ReadAllOptions['filter']): Promise<EventRow[]> {
    const types = filter?.types;
    const categories = filter?.categories;
    const sqlLimit = limit === Number.MAX_SAFE_INTEGER ? null : limit;
    if (categories !== undefined && types !== undefined) {
      return query(readAllSql.both, [from, bound, sqlLimit, categories, types], 'readAll');
    }
    if (categories !== undefined) return query(readAllSql.categories, [from, bound, sqlLimit, categories], 'readAll');
    if (types !== undefined) return query(readAllSql.types, [from, bound, sqlLimit, types], 'readAll');
    return query(readAllSql.all, [from, bound, sqlLimit], 'readAll', `chronicle_read_all_${schemaName}`);
  }

  // The deleted check rides along as a one-time filter, so a live stream is read in one query; an empty answer then
  // asks whether the stream is deleted or just empty. A stream with max-age / max-count metadata also answers empty
  // here and is then read in full and filtered (few streams have them).
  const notDeleted = `NOT coalesce((SELECT deleted OR metadata::jsonb ?| array['maxAge', 'maxCount']
    FROM ${s}.streams WHERE stream_id = $1), false)`;
  const readWhole = `SELECT position, id, version, type, data, metadata, tags FROM ${s}.events
    WHERE stream_id = $1 ORDER BY version`;
  const readForward = `SELECT position, id, version, type, data, metadata, tags FROM ${s}.events
    WHERE stream_id = $1 AND version >= $2 AND ${notDeleted} ORDER BY version LIMIT $3`;
  const readBackward = `SELECT position, id, version, type, data, metadata, tags FROM ${s}.events
    WHERE stream_id = $1 AND version <= $2 AND ${notDeleted} ORDER BY version DESC LIMIT $3`;

  async function streamRow(streamId: string): Promise<[deleted: boolean, metadata: Record<string, unknown>] | undefined> {
    const rows = await query<[boolean, Record<string, unknown>]>(
      `SELECT deleted, metadata FROM ${s}.streams WHERE stream_id = $1`,
      [streamId],
      'readStream',
    );
    return rows[0];
  }

  async function storedResult(key: string, fingerprint: string | undefined): Promise<AppendResult[] | undefined> {
    const rows = await query<[string, string | null]>(
      `SELECT result, fingerprint FROM ${s}.idempotency WHERE key = $1`,
      [key],
      'findIdempotentResult',
    );
    if (rows.length === 0) return undefined;
    checkIdempotencyFingerprint(key, rows[0][1], fingerprint);
    return (JSON.parse(rows[0][0]) as AppendResult[]).map((r) => ({ ...r, duplicate: true }));
  }

  // Bounded by a fresh safe head, so the head it returns is one a condition can rely on: every position at or below
  // it is committed or never will be, so a matching event the read missed can only come after it — where the
  // condition's check looks.
  async function read(given: Query, readOptions?: ReadOptions): Promise<ReadResult> {
    assertOpen();
    const items = normalizeQuery(given);
    const { from, limit } = normalizeRead(readOptions);
    await migrated();
    const bound = await coveringBound();
    const matchable = sqlCondition({ query: items, after: 0 })?.items;
    const sqlLimit = limit === Number.MAX_SAFE_INTEGER ? null : limit;
    if (matchable === undefined) {
      const rows = await query<[number | null]>(
        `SELECT max(position) FROM ${s}.events WHERE position <= $1`,
        [bound],
        'read',
        `chronicle_read_head_${schemaName}`,
      );
      return { events: [], head: rows[0][0] ?? 0 };
    }
    const statement = readQuerySql(s, schemaName, EVENT_COLUMNS, matchable, from, bound, sqlLimit);
    const rows = await query<[number | null, ...EventRow]>(statement.text, statement.values, 'read', statement.name);
    const events: RecordedEvent[] = [];
    for (const row of rows) if (row[1] !== null) events.push(toEvent(row.slice(1) as unknown as EventRow));
    const cut = events.length === limit;
    return { events, head: cut ? events[events.length - 1].position : (rows[0]?.[0] ?? 0) };
  }

  const store: PostgresEventStore = {
    schema: schemaName,
    snapshots: createPostgresSnapshotStore(connection, () => closed),
    lifecycle: life.lifecycle,

    // Everything is checked before the call is queued: a malformed condition fails at once and writes nothing.
    ...appendForms(
      assertOpen,
      // A refusal of a deleted stream says whether it was tombstoned or archived (one more query, on that path only).
      ({ writes, key, fingerprint, condition }) =>
        writer.enqueue({ writes, key, fingerprint, condition: sqlCondition(condition) }).catch(async (err) => {
          throw await life.explain(err);
        }),
      'postgres',
    ),

    read,

    // State-stored commands: their rows and events in one transaction, the events through append_events.
    transact: stateStored.transact,

    async readStream(streamId: string, readOptions?: ReadStreamOptions): Promise<RecordedEvent[]> {
      assertOpen();
      assertStreamId(streamId);
      const { direction, from, limit } = normalizeReadStream(readOptions);
      const sqlLimit = limit === Number.MAX_SAFE_INTEGER ? null : limit;
      const rows = await query<StreamEventRow>(
        direction === 'forward' ? readForward : readBackward,
        [streamId, from, sqlLimit],
        'readStream',
        `chronicle_read_stream_${direction}_${schemaName}`,
      );
      const toStreamEvents = (found: StreamEventRow[]) => {
        const events: RecordedEvent[] = new Array(found.length);
        for (let i = 0; i < found.length; i++) {
          const row = found[i];
          events[i] = {
            id: row[1],
            type: row[3],
            data: row[4],
            metadata: row[5] as RecordedEvent['metadata'],
            streamId,
            version: row[2],
            position: row[0],
            tags: row[6] ?? [],
          };
        }
        return events;
      };
      if (rows.length === 0) {
        const stream = await streamRow(streamId);
        if (stream?.[0]) throw await life.deletedError(streamId);
        const retention = retentionOf(stream?.[1]);
        if (retention) {
          const whole = await query<StreamEventRow>(readWhole, [streamId], 'readStream');
          return retainedRead(toStreamEvents(whole), retention, { direction, from, limit });
        }
      }
      return toStreamEvents(rows);
    },

    readAll,

    subscribe(subscribeOptions, handler) {
      assertOpen();
      listener.start();
      return createPollingSubscription(readAll, signal, subscribeOptions, handler);
    },

    async streamInfo(streamId: string): Promise<StreamInfo> {
      assertOpen();
      assertStreamId(streamId);
      const rows = await query<[number | null, boolean | null, Record<string, unknown> | null]>(
        `SELECT coalesce((SELECT version FROM ${s}.events WHERE stream_id = $1 ORDER BY version DESC LIMIT 1),
            (SELECT version FROM ${s}.stream_lifecycle WHERE stream_id = $1)),
          (SELECT deleted FROM ${s}.streams WHERE stream_id = $1), (SELECT metadata FROM ${s}.streams WHERE stream_id = $1)`,
        [streamId],
        'streamInfo',
      );
      const [version, deleted, metadata] = rows[0];
      return { streamId, version: version ?? 0, deleted: deleted === true, metadata: metadata ?? {} };
    },

    async setStreamMetadata(streamId: string, metadata: Record<string, unknown>): Promise<void> {
      assertOpen();
      assertStreamId(streamId);
      const json = streamMetadataJson(metadata);
      await query(
        `INSERT INTO ${s}.streams (stream_id, metadata) VALUES ($1, $2::json)
         ON CONFLICT (stream_id) DO UPDATE SET metadata = excluded.metadata`,
        [streamId, json],
        'setStreamMetadata',
      );
    },

    async deleteStream(streamId: string, deleteOptions?: { expectedVersion?: AppendOptions['expectedVersion'] }): Promise<void> {
      assertOpen();
      assertStreamId(streamId);
      const expected = deleteOptions?.expectedVersion ?? 'any';
      assertExpectedVersion(expected);
      const rows = await query<[number]>(`SELECT ${s}.delete_stream($1, $2)`, [streamId, expectedCode(expected)], 'deleteStream');
      const actual = rows[0][0];
      if (actual !== -1) checkExpectedVersion(streamId, expected, actual);
    },

    async findIdempotentResult(key: string, fingerprint?: string): Promise<AppendResult[] | undefined> {
      assertOpen();
      if (typeof key !== 'string') throw new ChronicleError('INVALID_ARGUMENT', 'idempotency key must be a string');
      assertIdempotencyKey({ idempotencyKey: key, idempotencyFingerprint: fingerprint });
      return storedResult(key, fingerprint);
    },

    // The last event at or below the safe head: a position every reader can already be given, and one a failed
    // append (whose sequence values are gaps) never moves.
    async headPosition(): Promise<number> {
      assertOpen();
      await migrated();
      const bound = await freshBound();
      // Not below the last position removed from the log (a tombstone or archive of the newest events).
      const rows = await query<[number | null]>(
        `SELECT greatest((SELECT max(position) FROM ${s}.events WHERE position <= $1),
          (SELECT position FROM ${s}.log_floor WHERE id = 1 AND position <= $1))`,
        [bound],
        'headPosition',
      );
      return rows[0][0] ?? 0;
    },

    async stalledBy(thresholdMs: number): Promise<StalledRead | undefined> {
      assertOpen();
      if (!(typeof thresholdMs === 'number' && thresholdMs >= 0)) {
        throw new ChronicleError('INVALID_ARGUMENT', 'thresholdMs must be a non-negative number');
      }
      await migrated();
      return safeHead.stalledBy(thresholdMs);
    },

    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      // Appends accepted before close still commit; only calls after it see CLOSED.
      await writer.drain();
      await stateStored.drain();
      safeHead.close();
      await listener.close();
      signal.notify();
      await connection.end().catch(() => {});
    },

    stats: () => writer.stats(),

    inspector() {
      inspector ??= createStoreInspector(store, postgresInspectionSource(query, s));
      return inspector;
    },
  };
  let inspector: StoreInspector | undefined;
  return store;
}
