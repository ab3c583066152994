// The event store port: the write side's source of truth. Every adapter implements this
// and passes the conformance suite in chronicle/testing.
import type { StreamLifecycle } from './lifecycle/stream-lifecycle.js';
import type { SnapshotStore } from './snapshots/snapshot-store.js';

/** `number`: the stream must be at exactly that version (0 = empty). */
export type ExpectedVersion = number | 'no_stream' | 'exists' | 'any';

export type EventMetadata = {
  correlationId?: string;
  causationId?: string;
  actor?: string;
  /** W3C trace context of the span that wrote the event (present when the writer was traced or given one). */
  traceparent?: string;
  /** The tenant whose command wrote the event, on a multi-tenant app. */
  tenantId?: string;
  /** Version of the event's data schema; defaults to 1. */
  schemaVersion: number;
  /** ISO-8601 time the event was recorded. */
  timestamp: string;
  [key: string]: unknown;
};

/** An event to append. The store assigns id (unless given), version and position. */
export type NewEvent<Type extends string = string, Data = unknown> = {
  type: Type;
  data: Data;
  id?: string;
  metadata?: Partial<EventMetadata>;
  /**
   * What else the event concerns besides its stream, e.g. `['product-p1', 'order-o1']`: reads and append conditions
   * select events by tag (see Query). Each tag is a non-empty string up to 512 characters (as a stream id) without
   * control characters; at most 64 per event; repeats are stored once.
   */
  tags?: readonly string[];
};

/** An event for a tagged append: every event still belongs to one stream, which numbers its versions. */
export type TaggedEvent<Type extends string = string, Data = unknown> = NewEvent<Type, Data> & { streamId: string };

/** An event as stored. */
export type RecordedEvent<Type extends string = string, Data = unknown> = {
  id: string;
  type: Type;
  data: Data;
  metadata: EventMetadata;
  streamId: string;
  /** Per stream, from 1. */
  version: number;
  /** Global, strictly increasing across the whole store. */
  position: number;
  /**
   * The tags the event was appended with, in the order first given, repeats once (`[]` when none). Its stream id also
   * counts as a tag in queries.
   */
  tags: readonly string[];
};

/**
 * One item of a query. An event matches it when its type is one of `types` (if given) AND every one of `tags` (if
 * given) is among its tags or is its stream id. `{}` matches every event.
 */
export type QueryItem = {
  types?: readonly string[];
  tags?: readonly string[];
};

/**
 * Which events a decision depends on: the events matching any of its items (OR). Build one with `Query.all()`,
 * `Query.tags(...)` or a literal array of items; an empty array is refused. At most 1,000 items.
 */
export type Query = readonly QueryItem[];

/**
 * The condition of an append: it fails (CONCURRENCY_CONFLICT, naming the first conflicting position) when any event
 * matching `failIfEventsMatch` is stored after position `after`, or at all when `after` is absent.
 */
export type AppendCondition = {
  failIfEventsMatch: Query;
  /**
   * The `head` a `read` of the same query returned (or `headPosition()`). Not an append's result position: on a store
   * where positions commit out of order (PostgreSQL) a lower position may still commit after it, unseen.
   */
  after?: number;
};

export type ConditionOptions = {
  /** Checked atomically with the write: under any concurrency, the append commits only if the condition holds. */
  condition?: AppendCondition;
};

export type ReadOptions = {
  /** Position to start at, inclusive. Default 0 (the beginning). */
  from?: number;
  limit?: number;
};

export type ReadResult = {
  /** The matching events, in position order. */
  events: RecordedEvent[];
  /**
   * The position the read covers: every matching event at or below it is in `events` (the last event's position when
   * `limit` cut the read short, else the store's head when it ran). Pass it as the condition's `after`.
   */
  head: number;
};

export type IdempotencyOptions = {
  /** Same key again: nothing is written and the first result is returned (`duplicate: true`). */
  idempotencyKey?: string;
  /**
   * A digest of the request the key stands for (e.g. a hash of the command). Stored with the key: the same key with
   * another fingerprint raises IDEMPOTENCY_MISMATCH and writes nothing. Up to 256 characters.
   */
  idempotencyFingerprint?: string;
};

export type AppendOptions = IdempotencyOptions &
  ConditionOptions & {
    /** Default `'any'`. */
    expectedVersion?: ExpectedVersion;
  };

/** Options of a tagged append and of appendMany. */
export type AppendManyOptions = IdempotencyOptions & ConditionOptions;

export type AppendResult = {
  streamId: string;
  /** The stream's version after the append. */
  version: number;
  /** Position of the last event written (or, for an empty append, the stream's last event; 0 if none). */
  position: number;
  /** True when an idempotency key matched an earlier append and nothing was written. */
  duplicate: boolean;
};

export type StreamWrite = {
  streamId: string;
  events: readonly NewEvent[];
  expectedVersion?: ExpectedVersion;
};

export type EventFilter = {
  /** Only these event types. */
  types?: readonly string[];
  /** Only streams whose category (the id before the first `-`) is one of these. */
  categories?: readonly string[];
};

export type ReadStreamOptions = {
  /** Version to start at, inclusive. Default: 1 forward, the last version backward. */
  from?: number;
  direction?: 'forward' | 'backward';
  limit?: number;
};

export type ReadAllOptions = {
  /** Position to start at, inclusive. Default 0 (the beginning). */
  from?: number;
  limit?: number;
  filter?: EventFilter;
};

export type StreamInfo = {
  streamId: string;
  /** Current version; 0 when the stream has no events. */
  version: number;
  deleted: boolean;
  metadata: Record<string, unknown>;
};

/** Called with each delivered batch. `checkpoint` is the position up to which every matching event
 * has been delivered; with a filter it can move past events the filter dropped, so `events` may be empty. */
export type SubscriptionHandler = (events: readonly RecordedEvent[], checkpoint: number) => void | Promise<void>;

export type SubscribeOptions = {
  /** Position to start at, inclusive. Default 0. */
  from?: number;
  filter?: EventFilter;
  /** Most events per delivered batch. Default 500. */
  batchSize?: number;
  /** How often to look for events appended by other processes, in ms. Default 200. */
  pollIntervalMs?: number;
};

export interface Subscription {
  /** Stops after the batch in flight; resolves when stopped. */
  stop(): Promise<void>;
  /** Settles when the subscription ends: resolves on stop(); rejects with the handler's error, or with the
   * store's (CLOSED, STORE_ERROR) when reading the log fails. */
  readonly done: Promise<void>;
}

/**
 * A writer whose transaction, still open, holds the readers of the global log back: on a store where positions become
 * visible only at commit (PostgreSQL), nothing past the oldest open append can be delivered until it ends.
 */
export type StalledRead = {
  /** Which backend holds it (PostgreSQL's process id), for pg_stat_activity / pg_terminate_backend. */
  backend: string;
  /** ISO-8601 time its transaction began. */
  since: string;
  /** How long it has been open, in ms. */
  openMs: number;
};

/**
 * What a projector reads: the global log in position order, followed live, and its head. Every EventStore is one; so
 * is a reader of the same log in a service that has no access to the event store (chronicle-es/nats's JetStream source).
 */
export interface EventSource {
  /** Events of all streams in position order, from `from` (inclusive). @throws INVALID_ARGUMENT */
  readAll(options?: ReadAllOptions): Promise<RecordedEvent[]>;
  /** Catch up from a position, then follow live until stopped. Never skips or repeats an event. */
  subscribe(options: SubscribeOptions, handler: SubscriptionHandler): Subscription;
  /** Position of the last event the source can deliver (0 when empty). */
  headPosition(): Promise<number>;
  /** As on EventStore: the oldest append holding readers back, where that can happen. */
  stalledBy?(thresholdMs: number): Promise<StalledRead | undefined>;
  /**
   * Told by a projector that every projection it runs on this source has committed everything up to `position` in
   * the generation serving queries, each batch with its checkpoint (never lower than the last call). A source that
   * holds what it delivered for acknowledgement (a broker's consumer) acknowledges up to there; an event store has no
   * such method. Rebuilds are not counted: they read from further back, which the source must still be able to serve.
   */
  settled?(position: number): void;
}

/**
 * The event store. Stream ids are data: any non-empty string up to 512 characters
 * without control characters.
 */
export interface EventStore {
  /**
   * Appends events to one stream, all or nothing; resolves once durable.
   * @throws CONCURRENCY_CONFLICT when expectedVersion or the condition does not hold (for a condition, `details.position`
   *   names the first conflicting event)
   * @throws IDEMPOTENCY_MISMATCH the key was stored with another fingerprint
   * @throws INVALID_ARGUMENT malformed stream id, events, expected version, key or fingerprint; an event id already
   *   stored or given twice
   * @throws STREAM_DELETED the stream was soft-deleted
   * @throws CLOSED the store was closed
   */
  append(streamId: string, events: readonly NewEvent[], options?: AppendOptions): Promise<AppendResult>;

  /**
   * Appends tagged events, each to its own stream (at any version), all or nothing, if the condition holds; resolves
   * once durable. Events are written grouped by stream, streams in the order they first appear; results are one per
   * stream in that order (`[]` for no events, which only checks the condition and records the key).
   * @throws CONCURRENCY_CONFLICT when the condition does not hold (`details.position`: the first conflicting event)
   * @throws same codes as the stream append otherwise
   */
  append(events: readonly TaggedEvent[], options?: AppendManyOptions): Promise<AppendResult[]>;

  /**
   * Appends to several streams atomically: every expected version (and the condition, if any) holds and all are
   * written, or nothing is. Results are in the order of `writes`. @throws same codes as append
   */
  appendMany(writes: readonly StreamWrite[], options?: AppendManyOptions): Promise<AppendResult[]>;

  /**
   * The events matching a query, in position order, and the head position the read covers.
   * @throws INVALID_ARGUMENT malformed query, from or limit
   */
  read(query: Query, options?: ReadOptions): Promise<ReadResult>;

  /**
   * Events of one stream in version order: from its truncation point on, and within the `maxCount` / `maxAge` its
   * metadata sets, if any. @throws INVALID_ARGUMENT, STREAM_DELETED (`details.tombstoned` / `details.archived` when so)
   */
  readStream(streamId: string, options?: ReadStreamOptions): Promise<RecordedEvent[]>;

  /** Events of all streams in position order. @throws INVALID_ARGUMENT */
  readAll(options?: ReadAllOptions): Promise<RecordedEvent[]>;

  /** Catch up from a position, then follow live until stopped. Never skips or repeats an event. */
  subscribe(options: SubscribeOptions, handler: SubscriptionHandler): Subscription;

  /** Version, deleted flag and custom metadata of a stream (version 0 if it never existed). @throws INVALID_ARGUMENT */
  streamInfo(streamId: string): Promise<StreamInfo>;

  /**
   * Replaces a stream's custom metadata. `maxAge` (seconds) and `maxCount` limit what readStream returns (not readAll).
   * @throws INVALID_ARGUMENT not an object, or a malformed maxAge / maxCount
   */
  setStreamMetadata(streamId: string, metadata: Record<string, unknown>): Promise<void>;

  /**
   * Soft-deletes a stream: reads and appends then raise STREAM_DELETED; its events stay in the global log.
   * @throws CONCURRENCY_CONFLICT, INVALID_ARGUMENT
   */
  deleteStream(streamId: string, options?: { expectedVersion?: ExpectedVersion }): Promise<void>;

  /**
   * The result stored under an idempotency key, if an append used it.
   * @throws IDEMPOTENCY_MISMATCH when `fingerprint` is given and the key was stored with another one
   * @throws INVALID_ARGUMENT malformed key or fingerprint
   */
  findIdempotentResult(key: string, fingerprint?: string): Promise<AppendResult[] | undefined>;

  /** Position of the last event in the store (0 when empty). */
  headPosition(): Promise<number>;

  /**
   * Stores whose readers can be held back by an open append report the oldest such writer when it has been open
   * longer than `thresholdMs`. Absent on stores where that cannot happen (SQLite, in memory).
   */
  stalledBy?(thresholdMs: number): Promise<StalledRead | undefined>;

  /**
   * Where command handlers keep snapshots of stream state (`snapshot` option), in the store's own database. Absent on
   * a store without one: give such a handler a snapshot store of its own.
   */
  readonly snapshots?: SnapshotStore;

  /** Truncate, tombstone and archive streams (see StreamLifecycle). Absent on a store that cannot. */
  readonly lifecycle?: StreamLifecycle;

  /** Closes the store; pending appends settle first. */
  close(): Promise<void>;
}
