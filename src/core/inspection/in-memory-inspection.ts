// The in-memory store's answers to the inspection queries, read straight off its log and streams.
import type { RecordedEvent } from '../event-store.js';
import { categoryOf } from '../store-kit.js';
import { compareCodePoints, type InspectionSource, probeAnswer, type StreamRange } from './create-store-inspector.js';
import type { CategoryStats, StreamSummary } from './store-inspector.js';

type StreamState = {
  readonly events: readonly RecordedEvent[];
  readonly deleted: boolean;
  /** The first version still stored (the lifecycle's truncation point); 1 when absent. */
  readonly truncatedBefore?: number;
  /** Set when the lifecycle moved every event out of the log. */
  readonly life?: 'archived' | 'tombstoned';
};

/** Inspection queries over the in-memory store's state; `assertOpen` throws CLOSED once it is closed. */
export function inMemoryInspectionSource(
  log: readonly RecordedEvent[],
  streams: ReadonlyMap<string, StreamState>,
  assertOpen: () => void,
  removed: ReadonlySet<number> = new Set(),
): InspectionSource {
  const copy = (e: RecordedEvent): RecordedEvent => structuredClone(e);
  // How many of a stream's events are still in the log: truncated, archived and tombstoned ones are not shown.
  const kept = (s: StreamState) => (s.life !== undefined ? 0 : s.events.length - ((s.truncatedBefore ?? 1) - 1));
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
      for (const s of streams.values()) if (kept(s) > 0) count++;
      return { events: log.length - removed.size, streams: count, headPosition: log.length };
    },
    async categories() {
      assertOpen();
      const byName = new Map<string, CategoryStats>();
      for (const [id, s] of streams) {
        if (kept(s) === 0) continue;
        const category = categoryOf(id);
        const entry = byName.get(category) ?? { category, streams: 0, events: 0 };
        entry.streams++;
        entry.events += kept(s);
        byName.set(category, entry);
      }
      return [...byName.values()].sort((a, b) => compareCodePoints(a.category, b.category));
    },
    async streamsInRange(range, limit) {
      assertOpen();
      const ids = [...streams.keys()].filter((id) => kept(streams.get(id) as StreamState) > 0 && inRange(id, range));
      ids.sort(compareCodePoints);
      return ids.slice(0, limit).map((id) => summary(id, streams.get(id) as StreamState));
    },
    async streamEventsBefore(streamId, before, limit) {
      assertOpen();
      const s = streams.get(streamId);
      const events = s === undefined || s.life !== undefined ? [] : s.events;
      const first = s?.truncatedBefore ?? 1;
      const out: RecordedEvent[] = [];
      for (let v = Math.min(before - 1, events.length); v >= first && out.length < limit; v--) out.push(copy(events[v - 1]));
      return out;
    },
    async eventById(id) {
      assertOpen();
      const found = log.find((e) => e.id === id && !removed.has(e.position));
      return found === undefined ? undefined : copy(found);
    },
    async probe(positions) {
      assertOpen();
      return positions.map((p) => {
        // The first event still in the log at or after p, as the SQL stores answer.
        let i = Math.max(p, 1) - 1;
        while (i < log.length && removed.has(i + 1)) i++;
        const e = log[i];
        return e === undefined ? undefined : probeAnswer(e.position, e.metadata.timestamp);
      });
    },
  };
}
