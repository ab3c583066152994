// The in-memory store's answers to the inspection queries, read straight off its log and streams.
import type { RecordedEvent } from '../event-store.js';
import { categoryOf } from '../store-kit.js';
import { compareCodePoints, type InspectionSource, probeAnswer, type StreamRange } from './create-store-inspector.js';
import type { CategoryStats, StreamSummary } from './store-inspector.js';

type StreamState = { readonly events: readonly RecordedEvent[]; readonly deleted: boolean };

/** Inspection queries over the in-memory store's state; `assertOpen` throws CLOSED once it is closed. */
export function inMemoryInspectionSource(
  log: readonly RecordedEvent[],
  streams: ReadonlyMap<string, StreamState>,
  assertOpen: () => void,
): InspectionSource {
  const copy = (e: RecordedEvent): RecordedEvent => structuredClone(e);
  const summary = (streamId: string, s: StreamState): StreamSummary => {
    const last = s.events[s.events.length - 1];
    return {
      streamId,
      category: categoryOf(streamId),
      version: s.events.length,
      lastPosition: last.position,
      lastTimestamp: last.metadata.timestamp,
      deleted: s.deleted,
    };
  };
  const inRange = (id: string, { after, from, to }: StreamRange) =>
    (after === undefined || compareCodePoints(id, after) > 0) &&
    (from === undefined || compareCodePoints(id, from) >= 0) &&
    (to === undefined || compareCodePoints(id, to) < 0);
  return {
    async stats() {
      assertOpen();
      let count = 0;
      for (const s of streams.values()) if (s.events.length > 0) count++;
      return { events: log.length, streams: count, headPosition: log.length };
    },
    async categories() {
      assertOpen();
      const byName = new Map<string, CategoryStats>();
      for (const [id, s] of streams) {
        if (s.events.length === 0) continue;
        const category = categoryOf(id);
        const entry = byName.get(category) ?? { category, streams: 0, events: 0 };
        entry.streams++;
        entry.events += s.events.length;
        byName.set(category, entry);
      }
      return [...byName.values()].sort((a, b) => compareCodePoints(a.category, b.category));
    },
    async streamsInRange(range, limit) {
      assertOpen();
      const ids = [...streams.keys()].filter((id) => (streams.get(id)?.events.length ?? 0) > 0 && inRange(id, range));
      ids.sort(compareCodePoints);
      return ids.slice(0, limit).map((id) => summary(id, streams.get(id) as StreamState));
    },
    async streamEventsBefore(streamId, before, limit) {
      assertOpen();
      const events = streams.get(streamId)?.events ?? [];
      const out: RecordedEvent[] = [];
      for (let v = Math.min(before - 1, events.length); v >= 1 && out.length < limit; v--) out.push(copy(events[v - 1]));
      return out;
    },
    async eventById(id) {
      assertOpen();
      const found = log.find((e) => e.id === id);
      return found === undefined ? undefined : copy(found);
    },
    async probe(positions) {
      assertOpen();
      return positions.map((p) => {
        const e = log[Math.max(p, 1) - 1];
        return e === undefined ? undefined : probeAnswer(e.position, e.metadata.timestamp);
      });
    },
  };
}
