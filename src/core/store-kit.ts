// Rules every event-store adapter shares, so each one checks input and versions identically.
import { randomFillSync } from 'node:crypto';
import { ChronicleError } from './errors.js';
import { normalizeQuery, normalizeTags, type Query } from './event-query.js';
import type {
  AppendCondition,
  EventFilter,
  ExpectedVersion,
  IdempotencyOptions,
  NewEvent,
  ReadAllOptions,
  ReadOptions,
  ReadStreamOptions,
  RecordedEvent,
  StreamWrite,
  TaggedEvent,
} from './event-store.js';
import { assertRetention } from './lifecycle/stream-retention.js';
import { nameProblem } from './name-rules.js';

/** @throws INVALID_ARGUMENT unless `streamId` is a non-empty string of at most 512 characters without control characters. */
export function assertStreamId(streamId: unknown): asserts streamId is string {
  const problem = nameProblem(streamId, 'stream id');
  if (problem !== undefined) throw new ChronicleError('INVALID_ARGUMENT', problem);
}

/** The category of a stream: the id before its first `-` (the whole id when it has none). */
export function categoryOf(streamId: string): string {
  const dash = streamId.indexOf('-');
  return dash === -1 ? streamId : streamId.slice(0, dash);
}

/** @throws INVALID_ARGUMENT unless `expected` is a non-negative integer or one of the named kinds. */
export function assertExpectedVersion(expected: unknown): asserts expected is ExpectedVersion {
  if (expected === 'no_stream' || expected === 'exists' || expected === 'any') return;
  if (typeof expected === 'number' && Number.isSafeInteger(expected) && expected >= 0) return;
  throw new ChronicleError(
    'INVALID_ARGUMENT',
    `expectedVersion must be a non-negative integer, 'no_stream', 'exists' or 'any'; got ${JSON.stringify(expected)}`,
  );
}

/** @throws CONCURRENCY_CONFLICT when a stream at `current` does not satisfy `expected`. */
export function checkExpectedVersion(streamId: string, expected: ExpectedVersion, current: number): void {
  const ok =
    expected === 'any' ||
    (expected === 'no_stream' && current === 0) ||
    (expected === 'exists' && current > 0) ||
    expected === current;
  if (!ok) {
    throw new ChronicleError(
      'CONCURRENCY_CONFLICT',
      `stream ${JSON.stringify(streamId)} is at version ${current}, expected ${expected}`,
      { details: { streamId, expectedVersion: expected, actualVersion: current } },
    );
  }
}

/** An event ready to write: id and metadata filled in, data already JSON-encoded. */
export type PreparedEvent = {
  id: string;
  type: string;
  data: string;
  metadata: string;
  /** Checked, repeats dropped; the stream id is not added (see `indexTags`). */
  tags: string[];
};

/** The tags an event is found by: its own and its stream id, each once. */
export function indexTags(streamId: string, tags: readonly string[]): string[] {
  return tags.includes(streamId) ? [...tags] : [streamId, ...tags];
}

const EVENT_TYPE = /^[A-Za-z][A-Za-z0-9_.:-]{0,199}$/;

/** Checks and fills in one event (id, timestamp, schema version) and encodes it. @throws INVALID_ARGUMENT */
export function prepareEvent(event: NewEvent, now: string): PreparedEvent {
  return prepareEvents([event], now)[0];
}

// Shared by untagged events, which are most of them; nothing writes to it.
const NO_TAGS: string[] = [];

function prepareEvents(events: readonly NewEvent[], now: string): PreparedEvent[] {
  const idPrefix = uuidV7Prefix(now);
  const prepared: PreparedEvent[] = new Array(events.length);
  // Events of one batch usually share one metadata object (or have none): its JSON is built once, not per event.
  let sharedGiven: NewEvent['metadata'];
  let sharedJson = '';
  for (let i = 0; i < events.length; i++) {
    const event = events[i];
    if (typeof event !== 'object' || event === null) {
      throw new ChronicleError('INVALID_ARGUMENT', 'an event must be an object with type and data');
    }
    if (typeof event.type !== 'string' || !EVENT_TYPE.test(event.type)) {
      throw new ChronicleError('INVALID_ARGUMENT', `event type must be an identifier, got ${JSON.stringify(event.type)}`);
    }
    if (event.id !== undefined && (typeof event.id !== 'string' || event.id.length === 0)) {
      throw new ChronicleError('INVALID_ARGUMENT', 'event id must be a non-empty string when given');
    }
    const data = event.data === undefined ? 'null' : toJson(event.data, `event ${event.type} data`);
    if (data === undefined) throw new ChronicleError('INVALID_ARGUMENT', `event ${event.type} data is not JSON`);
    if (i === 0 || event.metadata !== sharedGiven) {
      sharedJson = metadataJson(event, now);
      sharedGiven = event.metadata;
    }
    const tags = event.tags === undefined ? NO_TAGS : normalizeTags(event.tags, `event ${event.type}`);
    prepared[i] = { id: event.id ?? uuidV7(idPrefix), type: event.type, data, metadata: sharedJson, tags };
  }
  return prepared;
}

function metadataJson(event: NewEvent, now: string): string {
  if (
    event.metadata !== undefined &&
    (typeof event.metadata !== 'object' || event.metadata === null || Array.isArray(event.metadata))
  ) {
    throw new ChronicleError('INVALID_ARGUMENT', `event ${event.type} metadata must be an object when given`);
  }
  const given = event.metadata ?? {};
  // Defaults apply to an explicit `undefined` too: JSON would drop the key and leave the event with no timestamp.
  const schemaVersion = given.schemaVersion ?? 1;
  if (!(typeof schemaVersion === 'number' && Number.isSafeInteger(schemaVersion) && schemaVersion >= 1)) {
    throw new ChronicleError('INVALID_ARGUMENT', `event ${event.type} schemaVersion must be a positive integer`);
  }
  let timestamp = now;
  if (given.timestamp !== undefined) {
    // Only a caller's timestamp needs checking and normalizing; `now` already is an ISO string.
    if (typeof given.timestamp !== 'string' || Number.isNaN(Date.parse(given.timestamp))) {
      throw new ChronicleError('INVALID_ARGUMENT', `event ${event.type} timestamp must be an ISO-8601 date string`);
    }
    timestamp = new Date(given.timestamp).toISOString();
  }
  return toJson({ ...given, schemaVersion, timestamp }, `event ${event.type} metadata`) as string;
}

// Generated ids are UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, then random bits. Ids that grow with time append
// to the rightmost pages of a store's unique id index, where random v4 ids dirty a random page per event (3x slower
// SQLite appends). The random bits come from a pool refilled once per 256 ids: one randomFillSync per id costs ~2 µs.
const POOL_IDS = 256;
const POOL_BYTES_PER_ID = 10; // 9 bytes as hex for rand_a / rand_b, one byte for the variant bits
const VARIANT = '89ab';
let pool = Buffer.alloc(0);
let poolHex = '';
let poolNext = POOL_IDS;

function uuidV7Prefix(now: string): string {
  const ms = Date.parse(now);
  const hex = (Number.isNaN(ms) ? Date.now() : ms).toString(16).padStart(12, '0');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-7`;
}

function uuidV7(prefix: string): string {
  if (poolNext === POOL_IDS) {
    pool = randomFillSync(Buffer.allocUnsafe(POOL_IDS * POOL_BYTES_PER_ID));
    poolHex = pool.toString('hex');
    poolNext = 0;
  }
  const at = poolNext++ * POOL_BYTES_PER_ID;
  const h = at * 2;
  return `${prefix}${poolHex.slice(h, h + 3)}-${VARIANT[pool[at + 9] & 3]}${poolHex.slice(h + 3, h + 6)}-${poolHex.slice(h + 6, h + 18)}`;
}

// JSON.stringify throws a bare TypeError on BigInt and cycles; callers must get a typed error instead.
function toJson(value: unknown, what: string): string | undefined {
  try {
    return JSON.stringify(value);
  } catch (err) {
    throw new ChronicleError('INVALID_ARGUMENT', `${what} is not JSON-serializable: ${(err as Error).message}`, { cause: err });
  }
}

/** A write checked, its events prepared. */
export type PreparedWrite = { streamId: string; expectedVersion: ExpectedVersion; events: PreparedEvent[] };

/** Validates one stream write of an append call and prepares its events. @throws INVALID_ARGUMENT */
export function prepareWrite(write: StreamWrite, now: string): PreparedWrite {
  if (typeof write !== 'object' || write === null) throw new ChronicleError('INVALID_ARGUMENT', 'a write must be an object');
  assertStreamId(write.streamId);
  const expectedVersion = write.expectedVersion ?? 'any';
  assertExpectedVersion(expectedVersion);
  if (!Array.isArray(write.events)) throw new ChronicleError('INVALID_ARGUMENT', 'events must be an array');
  return { streamId: write.streamId, expectedVersion, events: prepareEvents(write.events, now) };
}

/** Validates the writes of appendMany (at least one, no stream twice). @throws INVALID_ARGUMENT */
export function prepareWrites(writes: readonly StreamWrite[], now: string) {
  if (!Array.isArray(writes) || writes.length === 0) {
    throw new ChronicleError('INVALID_ARGUMENT', 'appendMany needs at least one write');
  }
  const prepared = writes.map((w) => prepareWrite(w, now));
  const seen = new Set<string>();
  for (const w of prepared) {
    if (seen.has(w.streamId))
      throw new ChronicleError('INVALID_ARGUMENT', `stream ${JSON.stringify(w.streamId)} appears twice in one appendMany`);
    seen.add(w.streamId);
  }
  return prepared;
}

/**
 * Validates a tagged append and turns it into writes: one per stream in the order streams first appear, each at any
 * version, its events in the order given. `[]` for no events. @throws INVALID_ARGUMENT
 */
export function prepareTaggedEvents(events: readonly TaggedEvent[], now: string) {
  if (!Array.isArray(events)) throw new ChronicleError('INVALID_ARGUMENT', 'events must be an array');
  const byStream = new Map<string, TaggedEvent[]>();
  for (const event of events) {
    if (typeof event !== 'object' || event === null) {
      throw new ChronicleError('INVALID_ARGUMENT', 'an event must be an object with streamId, type and data');
    }
    assertStreamId(event.streamId);
    let list = byStream.get(event.streamId);
    if (!list) {
      list = [];
      byStream.set(event.streamId, list);
    }
    list.push(event);
  }
  // A tagged event is a NewEvent with a streamId, which preparing an event does not read: no copy without it.
  return [...byStream].map(([streamId, list]) => prepareWrite({ streamId, expectedVersion: 'any', events: list }, now));
}

/** A checked append condition; `after` 0 when absent (positions start at 1). @throws INVALID_ARGUMENT */
export function normalizeCondition(condition: AppendCondition | undefined): { query: Query; after: number } | undefined {
  if (condition === undefined) return undefined;
  if (typeof condition !== 'object' || condition === null) {
    throw new ChronicleError('INVALID_ARGUMENT', 'condition must be an object { failIfEventsMatch, after? }');
  }
  const after = condition.after === undefined ? 0 : condition.after;
  if (!(Number.isSafeInteger(after) && after >= 0)) {
    throw new ChronicleError('INVALID_ARGUMENT', `condition.after must be a non-negative integer, got ${JSON.stringify(after)}`);
  }
  return { query: normalizeQuery(condition.failIfEventsMatch), after };
}

/** The error of a condition that does not hold: an event matching it is stored at `position`, after `after`. */
export function conditionConflict(position: number, after: number): ChronicleError {
  return new ChronicleError(
    'CONCURRENCY_CONFLICT',
    `an event matching the append condition is stored at position ${position}, after position ${after}`,
    { details: { position, after } },
  );
}

/** Normalized read options. @throws INVALID_ARGUMENT */
export function normalizeRead(options: ReadOptions | undefined) {
  if (options === undefined) return { from: 0, limit: Number.MAX_SAFE_INTEGER };
  if (typeof options !== 'object' || options === null) {
    throw new ChronicleError('INVALID_ARGUMENT', 'read options must be an object { from?, limit? }');
  }
  if (options.from !== undefined && !(Number.isSafeInteger(options.from) && options.from >= 0)) {
    throw new ChronicleError('INVALID_ARGUMENT', `from must be a non-negative integer, got ${JSON.stringify(options.from)}`);
  }
  assertLimit(options.limit);
  return { from: options.from ?? 0, limit: options.limit ?? Number.MAX_SAFE_INTEGER };
}

/** Stream metadata checked (a plain object) and encoded. @throws INVALID_ARGUMENT */
export function streamMetadataJson(metadata: unknown): string {
  if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) {
    throw new ChronicleError('INVALID_ARGUMENT', 'stream metadata must be an object');
  }
  assertRetention(metadata as Record<string, unknown>);
  return toJson(metadata, 'stream metadata') as string;
}

/** @throws INVALID_ARGUMENT for a malformed idempotency key. */
export function assertIdempotencyKey(options: IdempotencyOptions | undefined): void {
  const key = options?.idempotencyKey;
  const fingerprint = options?.idempotencyFingerprint;
  if (fingerprint !== undefined && (typeof fingerprint !== 'string' || fingerprint.length === 0 || fingerprint.length > 256)) {
    throw new ChronicleError('INVALID_ARGUMENT', 'idempotency fingerprint must be a string of 1 to 256 characters');
  }
  if (key === undefined) return;
  if (typeof key !== 'string' || key.length === 0 || key.length > 512) {
    throw new ChronicleError('INVALID_ARGUMENT', 'idempotency key must be a string of 1 to 512 characters');
  }
}

/**
 * Refuses a key reused for another request: both fingerprints known and different. A key stored without one (or
 * asked about without one) matches, as before fingerprints existed.
 * @throws IDEMPOTENCY_MISMATCH
 */
export function checkIdempotencyFingerprint(key: string, stored: string | null | undefined, given: string | undefined): void {
  if (stored == null || given === undefined || stored === given) return;
  throw new ChronicleError('IDEMPOTENCY_MISMATCH', 'this idempotency key was already used for a different request', {
    details: { idempotencyKey: key },
  });
}

function assertLimit(limit: unknown): void {
  if (limit !== undefined && !(typeof limit === 'number' && Number.isSafeInteger(limit) && limit > 0)) {
    throw new ChronicleError('INVALID_ARGUMENT', `limit must be a positive integer, got ${JSON.stringify(limit)}`);
  }
}

/** Normalized readStream options. @throws INVALID_ARGUMENT */
export function normalizeReadStream(options: ReadStreamOptions = {}) {
  const direction = options.direction ?? 'forward';
  if (direction !== 'forward' && direction !== 'backward') {
    throw new ChronicleError('INVALID_ARGUMENT', `direction must be 'forward' or 'backward', got ${JSON.stringify(direction)}`);
  }
  if (options.from !== undefined && !(Number.isSafeInteger(options.from) && options.from >= 0)) {
    throw new ChronicleError('INVALID_ARGUMENT', `from must be a non-negative integer, got ${JSON.stringify(options.from)}`);
  }
  assertLimit(options.limit);
  return {
    direction,
    from: options.from ?? (direction === 'forward' ? 1 : Number.MAX_SAFE_INTEGER),
    limit: options.limit ?? Number.MAX_SAFE_INTEGER,
  };
}

/** Normalized readAll options. @throws INVALID_ARGUMENT */
export function normalizeReadAll(options: ReadAllOptions = {}) {
  if (options.from !== undefined && !(Number.isSafeInteger(options.from) && options.from >= 0)) {
    throw new ChronicleError('INVALID_ARGUMENT', `from must be a non-negative integer, got ${JSON.stringify(options.from)}`);
  }
  assertLimit(options.limit);
  const filter = options.filter;
  for (const key of ['types', 'categories'] as const) {
    const list = filter?.[key];
    if (list !== undefined && !(Array.isArray(list) && list.every((s) => typeof s === 'string'))) {
      throw new ChronicleError('INVALID_ARGUMENT', `filter.${key} must be an array of strings`);
    }
  }
  return { from: options.from ?? 0, limit: options.limit ?? Number.MAX_SAFE_INTEGER, filter };
}

/** True when the event passes the filter (no filter passes everything). */
export function matchesFilter(event: Pick<RecordedEvent, 'type' | 'streamId'>, filter: EventFilter | undefined): boolean {
  if (!filter) return true;
  if (filter.types && !filter.types.includes(event.type)) return false;
  if (filter.categories && !filter.categories.includes(categoryOf(event.streamId))) return false;
  return true;
}
