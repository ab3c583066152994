import { createInMemoryEventStore, type EventStore } from 'chronicle';
import { describe, expect, it } from 'vitest';
import { withStreamCache } from './stream-cache.js';

const added = (n: number) => ({ type: 'Added', data: { n } });

function counting(store: EventStore) {
  const reads: Array<{ streamId: string; from?: number }> = [];
  const spy: EventStore = {
    ...store,
    readStream: (streamId, options) => {
      reads.push({ streamId, from: options?.from });
      return store.readStream(streamId, options);
    },
  };
  return { spy, reads };
}

describe('withStreamCache', () => {
  it('asks the store only for events newer than the ones it holds', async () => {
    const store = createInMemoryEventStore();
    const { spy, reads } = counting(store);
    const cached = withStreamCache(spy);
    await store.append('s-1', [added(1), added(2)]);
    expect((await cached.readStream('s-1')).map((e) => e.version)).toEqual([1, 2]);
    await store.append('s-1', [added(3)]);
    expect((await cached.readStream('s-1')).map((e) => e.version)).toEqual([1, 2, 3]);
    expect((await cached.readStream('s-1', { from: 3 })).map((e) => e.data)).toEqual([{ n: 3 }]);
    expect(reads.map((r) => r.from)).toEqual([1, 3, 4]);
  });

  it('sees writes made directly to the store, and concurrent reads add each event once', async () => {
    const store = createInMemoryEventStore();
    const cached = withStreamCache(store);
    await cached.readStream('s-2');
    await store.append('s-2', [added(1), added(2)]);
    const [a, b] = await Promise.all([cached.readStream('s-2'), cached.readStream('s-2')]);
    expect(a.map((e) => e.version)).toEqual([1, 2]);
    expect(b.map((e) => e.version)).toEqual([1, 2]);
  });

  it('passes backward and limited reads straight through', async () => {
    const store = createInMemoryEventStore();
    const cached = withStreamCache(store);
    await store.append('s-3', [added(1), added(2), added(3)]);
    expect((await cached.readStream('s-3', { direction: 'backward', limit: 1 })).map((e) => e.version)).toEqual([3]);
    expect((await cached.readStream('s-3', { limit: 2 })).map((e) => e.version)).toEqual([1, 2]);
  });

  it('drops the least recently used streams beyond maxEvents, and forgets deleted streams', async () => {
    const store = createInMemoryEventStore();
    const { spy, reads } = counting(store);
    const cached = withStreamCache(spy, { maxEvents: 3 });
    await store.append('old', [added(1), added(2)]);
    await store.append('new', [added(1), added(2)]);
    await cached.readStream('old');
    await cached.readStream('new');
    reads.length = 0;
    await cached.readStream('old');
    expect(reads).toEqual([{ streamId: 'old', from: 1 }]);
    await cached.deleteStream('old');
    await expect(cached.readStream('old')).rejects.toMatchObject({ code: 'STREAM_DELETED' });
  });
});
