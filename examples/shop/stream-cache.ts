// Keeps the events of recently used streams in memory, so a command reads only what is new since it last looked.
// A stand-in for snapshots, which Chronicle's command handlers do not offer yet: product streams grow with every
// order that reserves stock, and without this every order would re-read and re-parse each product's whole history.
import type { EventStore, ReadStreamOptions, RecordedEvent } from 'chronicle';

export type StreamCacheOptions = {
  /** Most events kept across all cached streams; the least recently used streams are dropped first. Default 200,000. */
  maxEvents?: number;
};

/**
 * Wraps `store` so forward reads of a whole stream (or its tail) are served from memory plus a read of the events
 * appended since. The store stays the source of truth: every read asks it for newer events, so a cache never hides a
 * write from another process, and deleted streams still raise STREAM_DELETED.
 */
export function withStreamCache(store: EventStore, options: StreamCacheOptions = {}): EventStore {
  const maxEvents = options.maxEvents ?? 200_000;
  // Map order is recency order: a read moves its stream to the end.
  const cache = new Map<string, RecordedEvent[]>();
  let cached = 0;

  async function readStream(streamId: string, readOptions?: ReadStreamOptions): Promise<RecordedEvent[]> {
    if (readOptions?.direction === 'backward' || readOptions?.limit !== undefined) return store.readStream(streamId, readOptions);
    const from = readOptions?.from ?? 1;
    let events = cache.get(streamId);
    let tail: RecordedEvent[];
    try {
      tail = await store.readStream(streamId, { from: (events?.length ?? 0) + 1 });
    } catch (err) {
      forget(streamId);
      throw err;
    }
    events = cache.get(streamId) ?? [];
    // Versions run 1, 2, 3… with no gaps; a concurrent read may already have added some of the tail.
    for (const event of tail) {
      if (event.version === events.length + 1) {
        events.push(event);
        cached++;
      }
    }
    cache.delete(streamId);
    if (events.length > 0) cache.set(streamId, events);
    for (const [id, evicted] of cache) {
      if (cached <= maxEvents || id === streamId) break;
      cache.delete(id);
      cached -= evicted.length;
    }
    return events.slice(Math.max(0, from - 1));
  }

  function forget(streamId: string): void {
    cached -= cache.get(streamId)?.length ?? 0;
    cache.delete(streamId);
  }

  return {
    append: (...args) => store.append(...args),
    appendMany: (...args) => store.appendMany(...args),
    readStream,
    readAll: (...args) => store.readAll(...args),
    subscribe: (...args) => store.subscribe(...args),
    streamInfo: (...args) => store.streamInfo(...args),
    setStreamMetadata: (...args) => store.setStreamMetadata(...args),
    deleteStream: async (streamId, deleteOptions) => {
      forget(streamId);
      return store.deleteStream(streamId, deleteOptions);
    },
    findIdempotentResult: (...args) => store.findIdempotentResult(...args),
    headPosition: () => store.headPosition(),
    close: () => store.close(),
  };
}
