// The store-inspection port: read-only questions an operator asks of an event store (console, CLI), kept apart from
// the EventStore interface so stores written outside this package need not implement it.
import type { RecordedEvent } from '../event-store.js';

/** Totals of a store. */
export type StoreStats = {
  /** Events in the global log. */
  events: number;
  /** Streams with at least one event (soft-deleted ones included: their events stay in the log). */
  streams: number;
  /** Position of the last event (0 when empty). */
  headPosition: number;
};

/** One category (the stream id before its first `-`) and how much it holds. */
export type CategoryStats = { category: string; streams: number; events: number };

/** One stream as a listing shows it. */
export type StreamSummary = {
  streamId: string;
  category: string;
  /** Current version: the number of events in the stream. */
  version: number;
  /** Position of its last event. */
  lastPosition: number;
  /** ISO-8601 time of its last event. */
  lastTimestamp: string;
  deleted: boolean;
};

/** Options of listStreams. Streams come in stream-id order (by code point), a page at a time. */
export type ListStreamsOptions = {
  /** Only streams of this category. */
  category?: string;
  /** Only streams whose id starts with this. */
  prefix?: string;
  /** Keyset cursor: the `next` of the previous page (streams after this id). */
  after?: string;
  /** Page size, 1 to 500. */
  limit: number;
};

/** A page of streams; `next` is the cursor of the following page, absent on the last. */
export type StreamPage = { streams: StreamSummary[]; next?: string };

/** Options of readStreamBackward. */
export type StreamEventsOptions = {
  /** Keyset cursor: only events below this version (the `next` of the previous page). Default: from the last. */
  before?: number;
  /** Page size, 1 to 500. */
  limit: number;
};

/** A page of one stream's events, newest first; `next` is the cursor of the following (older) page. */
export type StreamEventsPage = { events: RecordedEvent[]; next?: number };

/** An event with the events around it by correlation and causation. */
export type RelatedEvents = {
  event: RecordedEvent;
  /** What caused it, then what caused that, … (causation ids that name stored events), nearest first, at most 20. */
  causes: RecordedEvent[];
  /** Events whose causation id is this event's id, in position order, found in `scanned`. */
  effects: RecordedEvent[];
  /** Other events with the same correlation id, in position order, found in `scanned`, at most 100. */
  correlated: RecordedEvent[];
  /** The positions searched for effects and correlated events (a window around the event, so the answer stays fast). */
  scanned: { from: number; to: number };
};

/** Options of writeRate: the last `windowMs` up to `now`, cut into buckets of `bucketMs` (at most 120 buckets). */
export type WriteRateOptions = { windowMs: number; bucketMs: number; now?: Date };

/** Events written per bucket, oldest bucket first. */
export type WriteRate = {
  bucketMs: number;
  buckets: Array<{ start: string; events: number }>;
};

/**
 * Read-only inspection of an event store. Timestamps are the events' `metadata.timestamp`; writeRate assumes they
 * grow with position (true of events the store stamps), and counts positions, exact where positions have no gaps.
 */
export interface StoreInspector {
  /** Totals. @throws STORE_ERROR, CLOSED */
  stats(): Promise<StoreStats>;
  /** Every category, by name. @throws STORE_ERROR, CLOSED */
  categories(): Promise<CategoryStats[]>;
  /** A page of streams. @throws INVALID_ARGUMENT bad limit, cursor, category or prefix; STORE_ERROR, CLOSED */
  listStreams(options: ListStreamsOptions): Promise<StreamPage>;
  /**
   * A page of a stream's events, newest first (a soft-deleted stream's too; an unknown stream has none).
   * @throws INVALID_ARGUMENT bad stream id, cursor or limit; STORE_ERROR, CLOSED
   */
  readStreamBackward(streamId: string, options: StreamEventsOptions): Promise<StreamEventsPage>;
  /** One event by its id, undefined when none. @throws INVALID_ARGUMENT, STORE_ERROR, CLOSED */
  eventById(id: string): Promise<RecordedEvent | undefined>;
  /** The event's causation chain and correlated events; undefined when no such event. @throws as eventById */
  related(eventId: string): Promise<RelatedEvents | undefined>;
  /** Events written per bucket over the last window. @throws INVALID_ARGUMENT bad window or bucket; STORE_ERROR, CLOSED */
  writeRate(options: WriteRateOptions): Promise<WriteRate>;
}

/** A store that can be inspected: the shipped stores are. */
export type InspectableStore = { inspector(): StoreInspector };

/** The store's inspector, or undefined when the store offers none (one written outside this package, say). */
export function inspectorOf(store: object): StoreInspector | undefined {
  const candidate = (store as Partial<InspectableStore>).inspector;
  return typeof candidate === 'function' ? candidate.call(store) : undefined;
}
