// The SQLite event store: one better-sqlite3 connection in WAL mode, writes batched by group commit.
import {
  type AppendOptions,
  type AppendResult,
  AppendSignal,
  appendForms,
  assertExpectedVersion,
  assertIdempotencyKey,
  assertStreamId,
  ChronicleError,
  categoryOf,
  checkExpectedVersion,
  checkIdempotencyFingerprint,
  conditionConflict,
  createPollingSubscription,
  createStoreInspector,
  type EventStore,
  indexTags,
  type normalizeCondition,
  normalizeQuery,
  normalizeRead,
  normalizeReadAll,
  normalizeReadStream,
  type PreparedWrite,
  type Query,
  type ReadAllOptions,
  type ReadOptions,
  type ReadResult,
  type ReadStreamOptions,
  type RecordedEvent,
  retainedRead,
  retentionOf,
  type StateStoredStore,
  type StoreInspector,
  type StreamInfo,
  type StreamLifecycle,
  streamMetadataJson,
} from 'chronicle-es';
import { EVENT_COLUMN_LIST, EVENT_COLUMNS, type EventRow, tagsOf, toEvent } from './event-row.js';
import { migrateEventStore } from './event-store-schema.js';
import { createGroupCommitter, type GroupCommitStats } from './group-commit.js';
import { openDatabase } from './open-database.js';
import { prepareStatement } from './prepared-statement.js';
import { createQueryMatcher } from './query-matcher.js';
import { isUniqueViolation, storeError } from './sqlite-error.js';
import { sqliteInspectionSource } from './sqlite-inspection.js';
import { createSqliteSnapshotStore } from './sqlite-snapshot-store.js';
import { type SqliteWriteTx, sqliteTransact } from './state-stored-transaction.js';
import { createLifecycleTables, createSqliteLifecycle, HEAD_SQL } from './stream-lifecycle.js';

/** Options of createSqliteEventStore. */
export type SqliteEventStoreOptions = {
  /** Database file (created if missing); `':memory:'` for a private in-memory database. */
  path: string;
  /**
   * `'full'` (default): an append is durable once it resolves, even across power loss.
   * `'normal'`: faster; survives a process crash (kill -9) but the last commits may be lost on power loss or an OS crash.
   */
  synchronous?: 'full' | 'normal';
  /** How long a write waits for another process holding the file's write lock. Default 5000 ms. */
  busyTimeoutMs?: number;
  /**
   * Run the writer with SQLite's `secure_delete`, so a deleted or overwritten value is zeroed in the file rather than
   * left in a free page: for write tables holding personal data that is anonymised (see withCryptoShredding). Costs
   * extra writes. Default false.
   */
  secureDelete?: boolean;
};

/**
 * The SQLite event store: the EventStore port plus what is specific to this adapter. Its `transact` runs state-stored
 * commands on write tables in the same file (see StateStoredStore).
 */
export type SqliteEventStore = EventStore &
  StateStoredStore<SqliteWriteTx> & {
    /** The database file this store writes. */
    readonly path: string;
    /** Truncate, tombstone and archive streams (src/sqlite/stream-lifecycle.ts). */
    readonly lifecycle: StreamLifecycle;
    /** Group-commit counters since the store was opened. */
    stats(): GroupCommitStats;
    /** Read-only inspection of the store (console, CLI). */
    inspector(): StoreInspector;
  };

type Condition = ReturnType<typeof normalizeCondition>;
// One row always; nulls when the stream has no events / no streams row.
type StreamRow = [version: number | null, position: number | null, deleted: number | null];

// A stream read knows its stream id: not reading it back saves a string per row (~8% of a stream read).
type StreamEventRow = [
  position: number,
  id: string,
  version: number,
  type: string,
  data: string,
  metadata: string,
  tags: string | null,
];
const STREAM_EVENT_COLUMNS = 'position, id, version, type, data, metadata, tags';
const INSERT_CHUNK = 10;
const EVENT_PARAMS = 9;
const TAG_CHUNK = 16;

/**
 * Opens (creating and migrating if needed) a SQLite event store at `options.path`.
 * @throws INVALID_ARGUMENT for bad options; STORE_ERROR when the file cannot be opened or migrated
 */
export function createSqliteEventStore(options: SqliteEventStoreOptions): SqliteEventStore {
  const { path, synchronous = 'full', busyTimeoutMs = 5000, secureDelete = false } = options ?? ({} as SqliteEventStoreOptions);
  if (typeof secureDelete !== 'boolean') throw new ChronicleError('INVALID_ARGUMENT', 'secureDelete must be a boolean');
  const db = openDatabase({
    path,
    synchronous,
    allowed: ['full', 'normal'],
    busyTimeoutMs,
    migrate: (opened) => {
      // Per connection, so set on the writer itself before any write.
      if (secureDelete) opened.pragma('secure_delete = ON');
      migrateEventStore(opened);
      createLifecycleTables(opened);
    },
  });

  // Every statement is prepared once; a failure reports the statement's SQL.
  const statement = <Row>(sql: string, raw: boolean) => prepareStatement<Row>(db, sql, raw ? 'raw' : 'rows');
  const value = <T>(sql: string) => prepareStatement<T>(db, sql, 'pluck').get;

  const lastEvent = 'FROM events WHERE stream_id = ? ORDER BY version DESC LIMIT 1';
  const selectStream = statement<StreamRow>(
    `SELECT (SELECT version ${lastEvent}), (SELECT position ${lastEvent}), (SELECT deleted FROM streams WHERE stream_id = ?)`,
    true,
  );
  const selectStreamInfo = statement<[version: number | null, deleted: number | null, metadata: string | null]>(
    // An archived or tombstoned stream keeps the version it had when its events left the log.
    `SELECT coalesce((SELECT version ${lastEvent}), (SELECT version FROM stream_lifecycle WHERE stream_id = ?)), deleted, metadata
     FROM (SELECT 1) LEFT JOIN streams ON stream_id = ?`,
    true,
  );
  const selectHead = value<number>(HEAD_SQL);
  const insertInto = 'INSERT INTO events (position, id, stream_id, version, category, type, data, metadata, tags) VALUES ';
  const eventValues = '(?, ?, ?, ?, ?, ?, ?, ?, ?)';
  const insertEventSql = insertInto + eventValues;
  const insertEvent = db.prepare(insertEventSql);
  // Longer appends insert ten rows per statement: each run costs ~1 µs of binding and stepping on top of the b-tree
  // work, so 100-event appends insert ~25% faster than row by row. One parameter array, reused: binding copies the values.
  const insertChunkSql = insertInto + Array(INSERT_CHUNK).fill(eventValues).join(', ');
  const insertChunk = db.prepare(insertChunkSql);
  const chunkParams: unknown[] = new Array(INSERT_CHUNK * EVENT_PARAMS);
  // Tag rows go in TAG_CHUNK to a statement, the rest in one statement of their own size (prepared on first use):
  // per row that is ~1 µs, about half of what an AFTER INSERT trigger on events costs for the same row.
  const tagStatements: Array<ReturnType<typeof statement<never>>> = [];
  const insertTags = (params: unknown[]) => {
    const rows = params.length / 2;
    tagStatements[rows] ??= statement<never>(
      `INSERT INTO event_tags (tag, position) VALUES ${Array(rows).fill('(?, ?)').join(', ')}`,
      false,
    );
    tagStatements[rows].run(params);
  };
  const tagParams: unknown[] = new Array(TAG_CHUNK * 2);
  const upsertStreamMetadata = statement<never>(
    `INSERT INTO streams (stream_id, metadata) VALUES (?, ?)
     ON CONFLICT (stream_id) DO UPDATE SET metadata = excluded.metadata`,
    false,
  );
  const upsertStreamDeleted = statement<never>(
    `INSERT INTO streams (stream_id, deleted) VALUES (?, 1)
     ON CONFLICT (stream_id) DO UPDATE SET deleted = 1`,
    false,
  );
  const selectStreamRow = statement<[deleted: number, metadata: string]>(
    'SELECT deleted, metadata FROM streams WHERE stream_id = ?',
    true,
  );
  const selectIdempotent = statement<[result: string, fingerprint: string | null]>(
    'SELECT result, fingerprint FROM idempotency WHERE key = ?',
    true,
  );
  const insertIdempotent = statement<never>('INSERT INTO idempotency (key, result, fingerprint) VALUES (?, ?, ?)', false);
  // The stored result of a key, refused when it was stored for another request.
  const storedResult = (key: string, fingerprint: string | undefined): AppendResult[] | undefined => {
    const row = selectIdempotent.get(key);
    if (row === undefined) return undefined;
    checkIdempotencyFingerprint(key, row[1], fingerprint);
    return (JSON.parse(row[0]) as AppendResult[]).map((r) => ({ ...r, duplicate: true }));
  };
  const readForward = statement<StreamEventRow>(
    `SELECT ${STREAM_EVENT_COLUMNS} FROM events WHERE stream_id = ? AND version >= ? ORDER BY version LIMIT ?`,
    true,
  );
  const readBackward = statement<StreamEventRow>(
    `SELECT ${STREAM_EVENT_COLUMNS} FROM events WHERE stream_id = ? AND version <= ? ORDER BY version DESC LIMIT ?`,
    true,
  );
  // Type lists are bound as one JSON array so the statements are prepared once. A category is read through
  // (category, position) one at a time: that index yields position order, so LIMIT stops early with no sort.
  const readAllFrom = statement<EventRow>(
    `SELECT ${EVENT_COLUMNS} FROM events WHERE position >= ? ORDER BY position LIMIT ?`,
    true,
  );
  // `+type` keeps this a walk of the log in position order, as before events_type existed: through that index the
  // planner would collect every later event of the types and sort them, per page, however small the page.
  const readAllTypes = statement<EventRow>(
    `SELECT ${EVENT_COLUMNS} FROM events WHERE position >= ? AND +type IN (SELECT value FROM json_each(?))
     ORDER BY position LIMIT ?`,
    true,
  );
  const readCategory = statement<EventRow>(
    `SELECT ${EVENT_COLUMNS} FROM events WHERE category = ? AND position >= ? ORDER BY position LIMIT ?`,
    true,
  );
  const readCategoryTypes = statement<EventRow>(
    `SELECT ${EVENT_COLUMNS} FROM events WHERE category = ? AND position >= ? AND type IN (SELECT value FROM json_each(?))
     ORDER BY position LIMIT ?`,
    true,
  );

  const readSnapshot = <T>(read: () => T): T => {
    try {
      return db.transaction(read).deferred();
    } catch (err) {
      throw storeError(err, 'BEGIN DEFERRED');
    }
  };

  const matcher = createQueryMatcher<EventRow>(db, EVENT_COLUMN_LIST);

  const signal = new AppendSignal();
  // The last position written, read once per group transaction instead of once per write: while the group holds
  // the write lock no other connection can move it. -1 = not read yet in this group.
  let groupHead = -1;
  const writer = createGroupCommitter(
    db,
    () => signal.notify(),
    () => {
      groupHead = -1;
    },
  );
  let closed = false;
  const { lifecycle, deletedError } = createSqliteLifecycle({
    db,
    enqueue: (work) => writer.enqueue(work),
    assertOpen: () => assertOpen(),
  });

  const assertOpen = () => {
    if (closed) throw new ChronicleError('CLOSED', 'event store is closed');
  };
  // SQLite treats a negative LIMIT as none; binding MAX_SAFE_INTEGER would also work but reads oddly in plans.
  const sqlLimit = (limit: number) => (limit === Number.MAX_SAFE_INTEGER ? -1 : limit);

  function streamState(streamId: string): [version: number, position: number, deleted: boolean] {
    const row = selectStream.get(streamId, streamId, streamId) as StreamRow;
    return [row[0] ?? 0, row[1] ?? 0, row[2] === 1];
  }

  function insertEvents(w: PreparedWrite, fromVersion: number, head: number): void {
    const category = categoryOf(w.streamId);
    const events = w.events;
    let i = 0;
    for (; i + INSERT_CHUNK <= events.length; i += INSERT_CHUNK) {
      for (let k = 0; k < INSERT_CHUNK; k++) {
        const e = events[i + k];
        const p = k * EVENT_PARAMS;
        chunkParams[p] = head + i + k + 1;
        chunkParams[p + 1] = e.id;
        chunkParams[p + 2] = w.streamId;
        chunkParams[p + 3] = fromVersion + i + k + 1;
        chunkParams[p + 4] = category;
        chunkParams[p + 5] = e.type;
        chunkParams[p + 6] = e.data;
        chunkParams[p + 7] = e.metadata;
        chunkParams[p + 8] = e.tags.length === 0 ? null : JSON.stringify(e.tags);
      }
      try {
        insertChunk.run(chunkParams);
      } catch (err) {
        if (!isUniqueViolation(err)) throw storeError(err, insertChunkSql);
        // The failed statement wrote nothing: insert its rows one by one to name the event whose id is taken.
        for (let k = 0; k < INSERT_CHUNK; k++) insertOne(w, i + k, fromVersion, head, category);
        throw storeError(err, insertChunkSql);
      }
    }
    for (; i < events.length; i++) insertOne(w, i, fromVersion, head, category);
    indexEvents(w, head);
  }

  // The event_tags rows of a write: each event under indexTags(stream id, tags), the one row of an untagged event
  // without building an array for it.
  function indexEvents(w: PreparedWrite, head: number): void {
    let n = 0;
    const add = (tag: string, position: number) => {
      tagParams[n++] = tag;
      tagParams[n++] = position;
      if (n === tagParams.length) {
        insertTags(tagParams);
        n = 0;
      }
    };
    const events = w.events;
    for (let i = 0; i < events.length; i++) {
      const tags = events[i].tags;
      if (tags.length === 0) add(w.streamId, head + i + 1);
      else for (const tag of indexTags(w.streamId, tags)) add(tag, head + i + 1);
    }
    if (n > 0) insertTags(tagParams.slice(0, n));
  }

  function insertOne(w: PreparedWrite, i: number, fromVersion: number, head: number, category: string): void {
    const e = w.events[i];
    try {
      const tags = e.tags.length === 0 ? null : JSON.stringify(e.tags);
      insertEvent.run(head + i + 1, e.id, w.streamId, fromVersion + i + 1, category, e.type, e.data, e.metadata, tags);
    } catch (err) {
      if (isUniqueViolation(err) && String((err as Error).message).includes('events.id')) {
        throw new ChronicleError('INVALID_ARGUMENT', `event id ${JSON.stringify(e.id)} is already stored`, {
          cause: err,
          details: { eventId: e.id, streamId: w.streamId },
        });
      }
      throw storeError(err, insertEventSql);
    }
  }

  // Runs inside the group transaction, in its own savepoint: any throw undoes exactly this call.
  function writeAll(
    writes: PreparedWrite[],
    key: string | undefined,
    fingerprint: string | undefined,
    condition: Condition,
  ): AppendResult[] {
    if (key !== undefined) {
      const stored = storedResult(key, fingerprint);
      if (stored !== undefined) return stored;
    }
    // Every stream is checked before anything is written, so the condition below never sees this append's own events.
    const states = writes.map((w) => {
      const state = streamState(w.streamId);
      if (state[2]) throw deletedError(w.streamId);
      checkExpectedVersion(w.streamId, w.expectedVersion, state[0]);
      return state;
    });
    if (condition !== undefined) {
      // Exact under any concurrency: this runs inside the group's BEGIN IMMEDIATE transaction, which holds the file's
      // write lock from its start, so no other connection or process can commit between this check and the writes
      // below; and appends earlier in the same group, already written in this transaction, are visible to it. So the
      // check sees every event that can precede this append's in the log.
      const first = matcher.firstAfter(condition.query, condition.after);
      if (first !== undefined) throw conditionConflict(first, condition.after);
    }
    const results: AppendResult[] = new Array(writes.length);
    let head = groupHead;
    for (let i = 0; i < writes.length; i++) {
      const w = writes[i];
      const [version, position] = states[i];
      const count = w.events.length;
      if (count === 0) {
        results[i] = { streamId: w.streamId, version, position, duplicate: false };
        continue;
      }
      if (head < 0) head = selectHead() ?? 0;
      insertEvents(w, version, head);
      head += count;
      results[i] = { streamId: w.streamId, version: version + count, position: head, duplicate: false };
    }
    if (key !== undefined) insertIdempotent.run(key, JSON.stringify(results), fingerprint ?? null);
    // Only now: a write that throws is rolled back, and the group's head stays where it was.
    groupHead = head;
    return results;
  }

  function readCategories(categories: readonly string[], types: readonly string[] | undefined, from: number, limit: number) {
    const typesJson = types === undefined ? undefined : JSON.stringify(types);
    const read = (category: string) =>
      typesJson === undefined
        ? readCategory.all(category, from, sqlLimit(limit))
        : readCategoryTypes.all(category, from, typesJson, sqlLimit(limit));
    const distinct = [...new Set(categories)];
    if (distinct.length === 1) return read(distinct[0]);
    // One snapshot for all categories: otherwise another process could commit between two reads, and a page could
    // hold a later event of one category while missing an earlier one of another — a reader paging on would skip it.
    const rows = readSnapshot(() => distinct.flatMap(read));
    // Each category's rows are in position order and no event has two categories, so a sort of the union is exact.
    rows.sort((x, y) => x[0] - y[0]);
    return rows.length > limit ? rows.slice(0, limit) : rows;
  }

  async function readAll(options?: ReadAllOptions): Promise<RecordedEvent[]> {
    assertOpen();
    const { from, limit, filter } = normalizeReadAll(options);
    const types = filter?.types;
    const categories = filter?.categories;
    let rows: EventRow[];
    if (categories !== undefined) rows = categories.length === 0 ? [] : readCategories(categories, types, from, limit);
    else if (types !== undefined) rows = readAllTypes.all(from, JSON.stringify(types), sqlLimit(limit));
    else rows = readAllFrom.all(from, sqlLimit(limit));
    return rows.map(toEvent);
  }

  const store: SqliteEventStore = {
    snapshots: createSqliteSnapshotStore(db, assertOpen),
    lifecycle,
    path,

    // Through the writer: each append is one member of the next group commit.
    ...appendForms(
      assertOpen,
      ({ writes, key, fingerprint, condition }) => writer.enqueue(() => writeAll(writes, key, fingerprint, condition)),
      'sqlite',
    ),

    async read(query: Query, readOptions?: ReadOptions): Promise<ReadResult> {
      assertOpen();
      const items = normalizeQuery(query);
      const { from, limit } = normalizeRead(readOptions);
      // The head and the events come from one snapshot, even with other processes writing (see the matcher).
      const { rows, head } = matcher.read(items, from, limit);
      return { events: rows.map(toEvent), head };
    },

    async readStream(streamId: string, readOptions?: ReadStreamOptions): Promise<RecordedEvent[]> {
      assertOpen();
      assertStreamId(streamId);
      // Same property order as toEvent, so events from both reads share one object shape.
      const streamEvent = (row: StreamEventRow): RecordedEvent => ({
        id: row[1],
        type: row[3],
        data: JSON.parse(row[4]),
        metadata: JSON.parse(row[5]),
        streamId,
        version: row[2],
        position: row[0],
        tags: tagsOf(row[6]),
      });
      const { direction, from, limit } = normalizeReadStream(readOptions);
      // One probe of the streams table; the version and position streamState() also looks up are not needed here.
      const row = selectStreamRow.get(streamId);
      if (row?.[0] === 1) throw deletedError(streamId);
      // Max-age / max-count: the stream's events filtered in full (few streams have them; scavengeStream truncates
      // what they hide, so the stored part stays short).
      const retention = row === undefined || row[1] === '{}' ? undefined : retentionOf(JSON.parse(row[1]));
      if (retention)
        return retainedRead(readForward.all(streamId, 1, -1).map(streamEvent), retention, { direction, from, limit });
      const rows =
        direction === 'forward'
          ? readForward.all(streamId, from, sqlLimit(limit))
          : readBackward.all(streamId, from, sqlLimit(limit));
      return rows.map(streamEvent);
    },

    readAll,

    // A state-stored command is one more member of the group commit, in its own savepoint like any append.
    transact: sqliteTransact({ db, assertOpen, enqueue: (work) => writer.enqueue(work), storedResult, writeAll }),

    subscribe(subscribeOptions, handler) {
      assertOpen();
      return createPollingSubscription(readAll, signal, subscribeOptions, handler);
    },

    async streamInfo(streamId: string): Promise<StreamInfo> {
      assertOpen();
      assertStreamId(streamId);
      const [version, deleted, metadata] = selectStreamInfo.get(streamId, streamId, streamId) as NonNullable<
        ReturnType<typeof selectStreamInfo.get>
      >;
      return { streamId, version: version ?? 0, deleted: deleted === 1, metadata: metadata === null ? {} : JSON.parse(metadata) };
    },

    async setStreamMetadata(streamId: string, metadata: Record<string, unknown>): Promise<void> {
      assertOpen();
      assertStreamId(streamId);
      const json = streamMetadataJson(metadata);
      // Through the writer so it lands in call order with appends queued before it.
      return writer.enqueue(() => upsertStreamMetadata.run(streamId, json));
    },

    async deleteStream(streamId: string, deleteOptions?: { expectedVersion?: AppendOptions['expectedVersion'] }): Promise<void> {
      assertOpen();
      assertStreamId(streamId);
      const expected = deleteOptions?.expectedVersion ?? 'any';
      assertExpectedVersion(expected);
      return writer.enqueue(() => {
        checkExpectedVersion(streamId, expected, streamState(streamId)[0]);
        upsertStreamDeleted.run(streamId);
      });
    },

    async findIdempotentResult(key: string, fingerprint?: string): Promise<AppendResult[] | undefined> {
      assertOpen();
      if (typeof key !== 'string') throw new ChronicleError('INVALID_ARGUMENT', 'idempotency key must be a string');
      assertIdempotencyKey({ idempotencyKey: key, idempotencyFingerprint: fingerprint });
      return storedResult(key, fingerprint);
    },

    async headPosition(): Promise<number> {
      assertOpen();
      return selectHead() ?? 0;
    },

    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      // Appends accepted before close still commit; only calls after it see CLOSED.
      writer.flush();
      db.close();
      signal.notify();
    },

    stats: () => writer.stats(),

    inspector() {
      // Prepared on first use: a store nobody inspects prepares nothing more.
      inspector ??= createStoreInspector(store, sqliteInspectionSource(db, assertOpen));
      return inspector;
    },
  };
  let inspector: StoreInspector | undefined;
  return store;
}
