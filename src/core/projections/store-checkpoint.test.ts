import { describe, expect, it } from 'vitest';
import { isChronicleError } from '../errors.js';
import { createInMemoryReadStore } from './in-memory-read-store.js';
import { storeCheckpoint } from './store-checkpoint.js';

describe('storeCheckpoint', () => {
  it('loads 0 before the first save and writes nothing until then', async () => {
    const store = createInMemoryReadStore();
    const checkpoint = storeCheckpoint({ store, name: 'relay_orders' });
    expect(await checkpoint.load()).toBe(0);
    expect(await store.load('relay_orders')).toBeUndefined();
  });

  it('saves as a table-less projection record and loads it back, in a new object too', async () => {
    const store = createInMemoryReadStore();
    const checkpoint = storeCheckpoint({ store, name: 'relay_orders' });
    await checkpoint.save(5);
    await checkpoint.save(12);
    expect(await checkpoint.load()).toBe(12);
    expect(await storeCheckpoint({ store, name: 'relay_orders' }).load()).toBe(12);
    expect(await store.load('relay_orders')).toMatchObject({ name: 'relay_orders', generation: 1, position: 12 });
  });

  it('never moves back: a lower save is a no-op, also from a second object that saw an older value', async () => {
    const store = createInMemoryReadStore();
    const a = storeCheckpoint({ store, name: 'relay_shared' });
    const b = storeCheckpoint({ store, name: 'relay_shared' });
    await a.save(10);
    expect(await b.load()).toBe(10);
    await a.save(20);
    // b still believes 10: its compare-and-set fails, it reads 20 and leaves it.
    await b.save(15);
    expect(await a.load()).toBe(20);
    await b.save(25);
    expect(await a.load()).toBe(25);
    await a.save(3);
    expect(await b.load()).toBe(25);
  });

  it('settles concurrent first saves of two relays on the highest position', async () => {
    const store = createInMemoryReadStore();
    const a = storeCheckpoint({ store, name: 'relay_race' });
    const b = storeCheckpoint({ store, name: 'relay_race' });
    await Promise.all([a.save(7), b.save(9), a.save(8)]);
    expect(await storeCheckpoint({ store, name: 'relay_race' }).load()).toBe(9);
  });

  it('refuses a bad name, a missing store and a bad position', async () => {
    const store = createInMemoryReadStore();
    const codeOf = (fn: () => unknown) => {
      try {
        fn();
      } catch (err) {
        return isChronicleError(err) ? err.code : 'not a ChronicleError';
      }
      return 'no error';
    };
    expect(codeOf(() => storeCheckpoint({ store, name: 'relay-orders' }))).toBe('INVALID_ARGUMENT');
    expect(codeOf(() => storeCheckpoint({ store, name: '' }))).toBe('INVALID_ARGUMENT');
    expect(codeOf(() => storeCheckpoint({ store: undefined as never, name: 'x' }))).toBe('INVALID_ARGUMENT');
    const checkpoint = storeCheckpoint({ store, name: 'relay_bad' });
    for (const bad of [-1, 1.5, Number.NaN, '3' as unknown as number]) {
      await expect(checkpoint.save(bad)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    }
    expect(await store.load('relay_bad')).toBeUndefined();
  });
});
