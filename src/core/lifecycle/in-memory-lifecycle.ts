// The in-memory store's stream lifecycle: removed events keep their place in the log's array (a position is its
// index) and are marked removed, so every read skips them and no position is handed out twice.
import type { ExpectedVersion, RecordedEvent } from '../event-store.js';
import { assertExpectedVersion, assertStreamId, checkExpectedVersion } from '../store-kit.js';
import {
  assertTruncateOptions,
  deletedStreamError,
  noStreamError,
  notArchivedError,
  notClosedError,
  truncateBefore,
} from './lifecycle-checks.js';
import type { StreamLifecycle, StreamLifecycleState } from './stream-lifecycle.js';

/** What the lifecycle keeps of a stream in the in-memory store, beside its events. */
export type InMemoryStreamLife = {
  events: RecordedEvent[];
  deleted: boolean;
  /** The first version reads return; 1 when never truncated. */
  truncatedBefore: number;
  life?: 'archived' | 'tombstoned';
  archived?: RecordedEvent[];
};

/** The state of a stream as the lifecycle names it. */
export const lifeStateOf = (s: InMemoryStreamLife | undefined): StreamLifecycleState =>
  s?.life ?? (s?.deleted ? 'deleted' : 'live');

/** The lifecycle of the in-memory store over its streams; `removed` holds the positions taken out of the log. */
export function createInMemoryLifecycle(deps: {
  assertOpen: () => void;
  streams: Map<string, InMemoryStreamLife>;
  removed: Set<number>;
  removeSnapshots: (streamId: string) => void;
}): StreamLifecycle {
  const { assertOpen, streams, removed } = deps;
  const hasEvents = (s: InMemoryStreamLife | undefined): s is InMemoryStreamLife => s !== undefined && s.events.length > 0;
  const copy = (e: RecordedEvent): RecordedEvent => structuredClone(e);
  return {
    async truncate(streamId, options) {
      assertOpen();
      assertStreamId(streamId);
      assertTruncateOptions(options);
      const s = streams.get(streamId);
      if (s?.deleted) throw deletedStreamError(streamId, lifeStateOf(s));
      if (!hasEvents(s)) throw noStreamError(streamId);
      const before = truncateBefore(options, s.events.length);
      let count = 0;
      for (let v = s.truncatedBefore; v < before; v++) {
        removed.add(s.events[v - 1].position);
        count++;
      }
      s.truncatedBefore = Math.max(s.truncatedBefore, before);
      return { removed: count };
    },
    async tombstone(streamId, options = {}) {
      assertOpen();
      assertStreamId(streamId);
      const expected: ExpectedVersion = options.expectedVersion ?? 'any';
      assertExpectedVersion(expected);
      const s = streams.get(streamId);
      if (s?.life === 'tombstoned') return;
      if (!hasEvents(s)) throw noStreamError(streamId);
      checkExpectedVersion(streamId, expected, s.events.length);
      for (const e of s.events) removed.add(e.position);
      s.deleted = true;
      s.life = 'tombstoned';
      s.archived = undefined;
      deps.removeSnapshots(streamId);
    },
    async archive(streamId) {
      assertOpen();
      assertStreamId(streamId);
      const s = streams.get(streamId);
      if (s?.life === 'tombstoned') throw deletedStreamError(streamId, 'tombstoned');
      if (s?.life === 'archived') return { archived: 0 };
      if (!hasEvents(s)) throw noStreamError(streamId);
      if (!s.deleted) throw notClosedError(streamId);
      const moved = s.events.slice(s.truncatedBefore - 1);
      for (const e of moved) removed.add(e.position);
      s.archived = moved;
      s.life = 'archived';
      return { archived: moved.length };
    },
    async readArchived(streamId) {
      assertOpen();
      assertStreamId(streamId);
      const s = streams.get(streamId);
      if (s?.life === 'tombstoned') throw deletedStreamError(streamId, 'tombstoned');
      if (s?.life !== 'archived') throw notArchivedError(streamId);
      return (s.archived ?? []).map(copy);
    },
    async status(streamId) {
      assertOpen();
      assertStreamId(streamId);
      const s = streams.get(streamId);
      return { streamId, state: lifeStateOf(s), version: s?.events.length ?? 0, truncatedBefore: s?.truncatedBefore ?? 1 };
    },
  };
}
