// The in-memory twin of the event store: same contract, no I/O; for tests and prototypes.

import { appendForms, type PreparedAppend } from './append-forms.js';
import { AppendSignal } from './append-signal.js';
import { ChronicleError } from './errors.js';
import { matchesQuery, normalizeQuery, type Query } from './event-query.js';
import type { AppendResult, EventStore, RecordedEvent, StreamInfo } from './event-store.js';
import { createStoreInspector } from './inspection/create-store-inspector.js';
import { inMemoryInspectionSource } from './inspection/in-memory-inspection.js';
import type { InspectableStore } from './inspection/store-inspector.js';
import { createInMemoryLifecycle, type InMemoryStreamLife, lifeStateOf } from './lifecycle/in-memory-lifecycle.js';
import { deletedStreamError } from './lifecycle/lifecycle-checks.js';
import type { StreamLifecycle } from './lifecycle/stream-lifecycle.js';
import { retainedRead, retentionOf } from './lifecycle/stream-retention.js';
import { createPollingSubscription } from './poll-subscription.js';
import { createInMemorySnapshotStore } from './snapshots/in-memory-snapshot-store.js';
import {
  assertExpectedVersion,
  assertIdempotencyKey,
  assertStreamId,
  checkExpectedVersion,
  checkIdempotencyFingerprint,
  conditionConflict,
  indexTags,
  matchesFilter,
  normalizeRead,
  normalizeReadAll,
  normalizeReadStream,
  streamMetadataJson,
} from './store-kit.js';

type StreamState = InMemoryStreamLife & { metadata: Record<string, unknown> };

/** Creates an event store that keeps everything in memory, with its inspector. */
export function createInMemoryEventStore(): EventStore & InspectableStore & { readonly lifecycle: StreamLifecycle } {
  const log: RecordedEvent[] = [];
  const streams = new Map<string, StreamState>();
  const idempotency = new Map<string, { results: AppendResult[]; fingerprint?: string }>();
  const eventIds = new Set<string>();
  // Positions of the events carrying each tag (the stream id counts as one), ascending: a query with tags scans only
  // the events of its rarest tag, and a condition only those after its position.
  const byTag = new Map<string, number[]>();
  // Positions truncated, tombstoned or archived out of the log: skipped by every read, never handed out again.
  const removed = new Set<number>();
  const snapshots = createInMemorySnapshotStore(() => closed);
  const signal = new AppendSignal();
  let closed = false;

  const assertOpen = () => {
    if (closed) throw new ChronicleError('CLOSED', 'event store is closed');
  };
  const stream = (id: string) => {
    let s = streams.get(id);
    if (!s) {
      s = { events: [], deleted: false, metadata: {}, truncatedBefore: 1 };
      streams.set(id, s);
    }
    return s;
  };
  const versionOf = (id: string) => streams.get(id)?.events.length ?? 0;

  // The first event after `after` that matches the query, in position order (0 when none).
  function firstMatch(query: Query, after: number): number {
    for (const p of candidates(query, after + 1)) if (!removed.has(p) && matchesQuery(log[p - 1], query)) return p;
    return 0;
  }

  // Positions from `start` on that may match, ascending: every position when an item has no tags, else the positions
  // of each item's rarest tag, merged.
  function candidates(query: Query, start: number): Iterable<number> {
    if (query.some((item) => item.tags === undefined)) {
      return (function* () {
        for (let p = start; p <= log.length; p++) yield p;
      })();
    }
    const merged = new Set<number>();
    for (const item of query) {
      const rarest = (item.tags as string[]).map((t) => byTag.get(t) ?? []).reduce((a, b) => (b.length < a.length ? b : a));
      for (let i = upperBound(rarest, start - 1); i < rarest.length; i++) merged.add(rarest[i]);
    }
    return query.length === 1 ? merged : [...merged].sort((a, b) => a - b);
  }

  // Everything runs synchronously between awaits, so a whole appendMany is atomic by construction. appendForms has
  // checked the store is open just before, with nothing awaited in between.
  function write({ writes: prepared, key, fingerprint, condition }: PreparedAppend): AppendResult[] {
    if (key !== undefined) {
      const earlier = idempotency.get(key);
      if (earlier) {
        checkIdempotencyFingerprint(key, earlier.fingerprint, fingerprint);
        return earlier.results.map((r) => ({ ...r, duplicate: true }));
      }
    }
    for (const w of prepared) {
      const current = streams.get(w.streamId);
      if (current?.deleted) throw deletedStreamError(w.streamId, lifeStateOf(current));
      checkExpectedVersion(w.streamId, w.expectedVersion, versionOf(w.streamId));
    }
    if (condition) {
      const conflict = firstMatch(condition.query, condition.after);
      if (conflict !== 0) throw conditionConflict(conflict, condition.after);
    }
    // Event ids are unique across the store, as a SQL adapter's unique index makes them.
    const batchIds = new Set<string>();
    for (const e of prepared.flatMap((w) => w.events)) {
      if (eventIds.has(e.id) || batchIds.has(e.id)) {
        throw new ChronicleError('INVALID_ARGUMENT', `event id ${JSON.stringify(e.id)} is already stored`, {
          details: { eventId: e.id },
        });
      }
      batchIds.add(e.id);
    }
    const results = prepared.map((w) => {
      const s = stream(w.streamId);
      for (const e of w.events) {
        const recorded: RecordedEvent = {
          id: e.id,
          type: e.type,
          data: JSON.parse(e.data),
          metadata: JSON.parse(e.metadata),
          streamId: w.streamId,
          version: s.events.length + 1,
          position: log.length + 1,
          tags: e.tags,
        };
        s.events.push(recorded);
        log.push(recorded);
        eventIds.add(e.id);
        for (const tag of indexTags(w.streamId, e.tags)) {
          let positions = byTag.get(tag);
          if (!positions) {
            positions = [];
            byTag.set(tag, positions);
          }
          positions.push(recorded.position);
        }
      }
      const last = s.events[s.events.length - 1];
      return { streamId: w.streamId, version: s.events.length, position: last?.position ?? 0, duplicate: false };
    });
    if (key !== undefined) idempotency.set(key, { results, fingerprint });
    signal.notify();
    return results;
  }

  const copy = (e: RecordedEvent): RecordedEvent => structuredClone(e);

  const store: EventStore & InspectableStore & { readonly lifecycle: StreamLifecycle } = {
    snapshots,
    lifecycle: createInMemoryLifecycle({ assertOpen, streams, removed, removeSnapshots: snapshots.removeStream }),
    ...appendForms(assertOpen, async (call) => write(call), 'memory'),
    async read(query, options) {
      assertOpen();
      const items = normalizeQuery(query);
      const { from, limit } = normalizeRead(options);
      const events: RecordedEvent[] = [];
      for (const p of candidates(items, Math.max(from, 1))) {
        if (removed.has(p) || !matchesQuery(log[p - 1], items)) continue;
        events.push(copy(log[p - 1]));
        if (events.length === limit) return { events, head: p };
      }
      return { events, head: log.length };
    },
    async readStream(streamId, options) {
      assertOpen();
      assertStreamId(streamId);
      const { direction, from, limit } = normalizeReadStream(options);
      const s = streams.get(streamId);
      if (s?.deleted) throw deletedStreamError(streamId, lifeStateOf(s));
      if (!s) return [];
      const first = s.truncatedBefore;
      const retention = retentionOf(s.metadata);
      if (retention) return retainedRead(s.events.slice(first - 1), retention, { direction, from, limit }).map(copy);
      const out: RecordedEvent[] = [];
      if (direction === 'forward') {
        for (let v = Math.max(from, first); v <= s.events.length && out.length < limit; v++) out.push(copy(s.events[v - 1]));
      } else {
        for (let v = Math.min(from, s.events.length); v >= first && out.length < limit; v--) out.push(copy(s.events[v - 1]));
      }
      return out;
    },
    async readAll(options) {
      assertOpen();
      const { from, limit, filter } = normalizeReadAll(options);
      const out: RecordedEvent[] = [];
      for (let i = Math.max(from, 1) - 1; i < log.length && out.length < limit; i++) {
        if (!removed.has(i + 1) && matchesFilter(log[i], filter)) out.push(copy(log[i]));
      }
      return out;
    },
    subscribe(options, handler) {
      assertOpen();
      return createPollingSubscription(store.readAll, signal, options, handler);
    },
    async streamInfo(streamId): Promise<StreamInfo> {
      assertOpen();
      assertStreamId(streamId);
      const s = streams.get(streamId);
      return {
        streamId,
        version: s?.events.length ?? 0,
        deleted: s?.deleted ?? false,
        metadata: structuredClone(s?.metadata ?? {}),
      };
    },
    async setStreamMetadata(streamId, metadata) {
      assertOpen();
      assertStreamId(streamId);
      stream(streamId).metadata = JSON.parse(streamMetadataJson(metadata));
    },
    async deleteStream(streamId, options = {}) {
      assertOpen();
      assertStreamId(streamId);
      const expected = options.expectedVersion ?? 'any';
      assertExpectedVersion(expected);
      checkExpectedVersion(streamId, expected, versionOf(streamId));
      stream(streamId).deleted = true;
    },
    async findIdempotentResult(key, fingerprint) {
      assertOpen();
      assertIdempotencyKey({ idempotencyKey: key, idempotencyFingerprint: fingerprint });
      const found = idempotency.get(key);
      if (!found) return undefined;
      checkIdempotencyFingerprint(key, found.fingerprint, fingerprint);
      return found.results.map((r) => ({ ...r, duplicate: true }));
    },
    async headPosition() {
      assertOpen();
      return log.length;
    },
    async close() {
      closed = true;
      signal.notify();
    },
    inspector: () => createStoreInspector(store, inMemoryInspectionSource(log, streams, assertOpen, removed)),
  };
  return store;
}

// Index of the first element greater than `value` in an ascending array.
function upperBound(sorted: readonly number[], value: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid] <= value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
