// A StoreInspector built from the few queries an adapter answers natively; option checks, paging and the parts every
// store can answer through its EventStore methods live here once.
import { ChronicleError } from '../errors.js';
import type { EventStore, RecordedEvent } from '../event-store.js';
import { assertStreamId, categoryOf } from '../store-kit.js';
import { relatedEvents } from './related-events.js';
import type {
  CategoryStats,
  ListStreamsOptions,
  StoreInspector,
  StoreStats,
  StreamEventsOptions,
  StreamPage,
  StreamSummary,
} from './store-inspector.js';
import { type PositionProbe, writeRateOf } from './write-rate.js';

/**
 * Streams with ids in a range, in code-point order: after `after` (exclusive) or from `from` (inclusive) — never both,
 * so an index seek has one lower bound — and below `to`.
 */
export type StreamRange = { after?: string; from?: string; to?: string };

/** What an adapter answers itself; everything else comes from createStoreInspector. */
export type InspectionSource = {
  stats(): Promise<StoreStats>;
  categories(): Promise<CategoryStats[]>;
  /** Up to `limit` streams with at least one event in `range`, in stream-id order. */
  streamsInRange(range: StreamRange, limit: number): Promise<StreamSummary[]>;
  /** Up to `limit` events of the stream below version `before`, newest first, deleted or not. */
  streamEventsBefore(streamId: string, before: number, limit: number): Promise<RecordedEvent[]>;
  eventById(id: string): Promise<RecordedEvent | undefined>;
  /** See PositionProbe. */
  probe: PositionProbe;
};

const MAX_LIMIT = 500;

/** A listing row as adapters read it: id, version, last position, last timestamp, deleted. */
export type StreamSummaryRow = [streamId: string, version: number, position: number, timestamp: string, deleted: boolean];

/** A StreamSummary from a listing row. */
export function toStreamSummary([streamId, version, position, timestamp, deleted]: StreamSummaryRow): StreamSummary {
  return { streamId, category: categoryOf(streamId), version, lastPosition: position, lastTimestamp: timestamp, deleted };
}

/** A probe answer from a row (position null: past the log). @throws STORE_ERROR when the timestamp is not a date */
export function probeAnswer(position: number | null, timestamp: string | null): { position: number; time: number } | undefined {
  if (position === null) return undefined;
  const time = timestamp === null ? Number.NaN : Date.parse(timestamp);
  if (Number.isNaN(time)) throw new ChronicleError('STORE_ERROR', `event at position ${position} has no valid timestamp`);
  return { position, time };
}

/** Compares strings by code point, as SQLite's BINARY and PostgreSQL's "C" collations order UTF-8 text. */
export function compareCodePoints(a: string, b: string): number {
  const x = [...a];
  const y = [...b];
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = (x[i].codePointAt(0) as number) - (y[i].codePointAt(0) as number);
    if (d !== 0) return d;
  }
  return x.length - y.length;
}

function assertLimit(limit: unknown): asserts limit is number {
  if (!(typeof limit === 'number' && Number.isSafeInteger(limit) && limit >= 1 && limit <= MAX_LIMIT)) {
    throw new ChronicleError('INVALID_ARGUMENT', `limit must be an integer from 1 to ${MAX_LIMIT}, got ${JSON.stringify(limit)}`);
  }
}

function optionalName(value: unknown, what: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.length === 0 || value.length > 512) {
    throw new ChronicleError('INVALID_ARGUMENT', `${what} must be a non-empty string of at most 512 characters`);
  }
  return value;
}

const max = (a: string | undefined, b: string | undefined) =>
  a === undefined ? b : b === undefined || compareCodePoints(a, b) >= 0 ? a : b;
const min = (a: string | undefined, b: string | undefined) =>
  a === undefined ? b : b === undefined || compareCodePoints(a, b) <= 0 ? a : b;
// The least string above every string starting with `prefix` (none ends the range): its last code point raised.
function above(prefix: string): string | undefined {
  const chars = [...prefix];
  while (chars.length > 0) {
    const last = chars.pop() as string;
    const cp = last.codePointAt(0) as number;
    // Skip the surrogate block: those code points are not characters.
    const next = cp === 0xd7ff ? 0xe000 : cp + 1;
    if (next <= 0x10ffff) return chars.join('') + String.fromCodePoint(next);
  }
  return undefined;
}

/** The inspector of `store` from its adapter's native queries. */
export function createStoreInspector(
  store: Pick<EventStore, 'readAll' | 'headPosition'>,
  source: InspectionSource,
): StoreInspector {
  async function listStreams(options: ListStreamsOptions): Promise<StreamPage> {
    if (typeof options !== 'object' || options === null)
      throw new ChronicleError('INVALID_ARGUMENT', 'options must be an object');
    assertLimit(options.limit);
    const category = optionalName(options.category, 'category');
    const prefix = optionalName(options.prefix, 'prefix');
    const after = optionalName(options.after, 'after');
    // A category c holds the stream `c` and the ids starting `c-`: all in [c, c.) ('.' follows '-'); ids in that range
    // with another category (`c!x`) are dropped below.
    const from = max(category, prefix);
    const to = min(category === undefined ? undefined : `${category}.`, prefix === undefined ? undefined : above(prefix));
    const keep = (s: StreamSummary) =>
      (category === undefined || s.category === category) && (prefix === undefined || s.streamId.startsWith(prefix));
    const streams: StreamSummary[] = [];
    let cursor = after;
    let more = false;
    // Usually one round: only ids that sort inside a category's range without belonging to it make another.
    for (;;) {
      const want = options.limit + 1 - streams.length;
      const lower =
        cursor !== undefined && (from === undefined || compareCodePoints(cursor, from) >= 0) ? { after: cursor } : { from };
      const batch = await source.streamsInRange({ ...lower, to }, want);
      for (const s of batch) if (keep(s)) streams.push(s);
      if (streams.length > options.limit) {
        more = true;
        streams.length = options.limit;
        break;
      }
      if (batch.length < want) break;
      cursor = batch[batch.length - 1].streamId;
    }
    return more ? { streams, next: streams[streams.length - 1].streamId } : { streams };
  }

  async function readStreamBackward(streamId: string, options: StreamEventsOptions) {
    assertStreamId(streamId);
    if (typeof options !== 'object' || options === null)
      throw new ChronicleError('INVALID_ARGUMENT', 'options must be an object');
    assertLimit(options.limit);
    const before = options.before ?? Number.MAX_SAFE_INTEGER;
    if (!(Number.isSafeInteger(before) && before >= 1)) {
      throw new ChronicleError('INVALID_ARGUMENT', `before must be a positive integer, got ${JSON.stringify(options.before)}`);
    }
    const events = await source.streamEventsBefore(streamId, before, options.limit + 1);
    if (events.length <= options.limit) return { events };
    events.length = options.limit;
    return { events, next: events[events.length - 1].version };
  }

  async function eventById(id: string) {
    const checked = optionalName(id, 'event id');
    if (checked === undefined) throw new ChronicleError('INVALID_ARGUMENT', 'event id is required');
    return source.eventById(checked);
  }

  return {
    stats: () => source.stats(),
    categories: () => source.categories(),
    listStreams,
    readStreamBackward,
    eventById,
    async related(eventId) {
      const event = await eventById(eventId);
      return event === undefined ? undefined : relatedEvents(event, store, source.eventById);
    },
    async writeRate(options) {
      return writeRateOf(options, await store.headPosition(), source.probe);
    },
  };
}
