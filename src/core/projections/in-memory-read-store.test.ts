import { describe, expect, it } from 'vitest';
import { createInMemoryReadStore, type InMemoryReadTx } from './in-memory-read-store.js';

describe('in-memory read store', () => {
  it('rolls a failed apply back entirely, including in-place edits of rows read', async () => {
    const store = createInMemoryReadStore();
    const generation = await store.beginGeneration('p', 1);
    await store.swapGeneration('p', generation);
    await store.apply('p', generation, (tx) => void tx.table('rows').set('a', { n: 1 }), 1, 0);
    await expect(
      store.apply(
        'p',
        generation,
        (tx) => {
          tx.table<{ n: number }>('rows').get('a')!.n = 99;
          tx.table('rows').set('b', { n: 2 });
          throw new Error('boom');
        },
        2,
        1,
      ),
    ).rejects.toThrow('boom');
    expect([...store.reader('p').table('rows')]).toEqual([['a', { n: 1 }]]);
    expect((await store.load('p'))!.position).toBe(1);
  });

  it('keeps generations apart and drops the old one on swap', async () => {
    const store = createInMemoryReadStore();
    const g1 = await store.beginGeneration('p', 1, (tx) => void tx.table('rows').set('seed', 1));
    await store.swapGeneration('p', g1);
    const g2 = await store.beginGeneration('p', 2);
    await store.apply('p', g2, (tx) => void tx.table('rows').set('new', 2), 7, 0);
    expect([...store.reader('p').table('rows').keys()]).toEqual(['seed']);
    expect((await store.load('p'))!.rebuild).toEqual({ generation: g2, version: 2, position: 7 });
    await store.swapGeneration('p', g2);
    expect([...store.reader('p').table('rows').keys()]).toEqual(['new']);
    expect(await store.load('p')).toEqual({ name: 'p', version: 2, generation: 2, position: 7 });
    await expect(store.apply('p', g1, undefined, 8, undefined)).rejects.toMatchObject({ code: 'CONCURRENCY_CONFLICT' });
    await expect(store.swapGeneration('p', g1)).rejects.toMatchObject({ code: 'CONCURRENCY_CONFLICT' });
  });

  it('has no tables to read before the first generation, and checks table names', async () => {
    const store = createInMemoryReadStore();
    expect(() => store.reader('p').table('rows')).toThrow(expect.objectContaining({ code: 'NOT_FOUND' }));
    const g = await store.beginGeneration('p', 1);
    await store.swapGeneration('p', g);
    expect(() => store.reader('p').table('bad__name')).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });

  it('sets the checkpoint only if it still stands where the batch starts, for both generations', async () => {
    const store = createInMemoryReadStore();
    const g1 = await store.beginGeneration('p', 1);
    await store.swapGeneration('p', g1, 0);
    const add = (key: string) => (tx: InMemoryReadTx) => void tx.table('rows').set(key, 1);
    await store.apply('p', g1, add('a'), 5, 0);
    await expect(store.apply('p', g1, add('b'), 9, 0)).rejects.toMatchObject({
      code: 'CONCURRENCY_CONFLICT',
      details: { expected: 0, actual: 5 },
    });
    await expect(store.apply('p', g1, undefined, 4, 5)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect([...store.reader('p').table('rows').keys()]).toEqual(['a']);

    // Two batches from the same checkpoint, their work interleaved: only the first to commit counts.
    const slow = (key: string) => async (tx: InMemoryReadTx) => {
      await new Promise((r) => setTimeout(r, 5));
      tx.table('rows').set(key, 1);
    };
    const results = await Promise.allSettled([store.apply('p', g1, slow('c'), 9, 5), store.apply('p', g1, slow('d'), 9, 5)]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected']);
    expect([...store.reader('p').table('rows').keys()]).toEqual(['a', 'c']);

    const g2 = await store.beginGeneration('p', 1);
    await store.apply('p', g2, undefined, 3, 0);
    await expect(store.apply('p', g2, undefined, 4, 0)).rejects.toMatchObject({ code: 'CONCURRENCY_CONFLICT' });
    await expect(store.swapGeneration('p', g2, 0)).rejects.toMatchObject({ code: 'CONCURRENCY_CONFLICT' });
    // The active generation is at 9: swapping the rebuild in at 3 would move served data back.
    await expect(store.swapGeneration('p', g2, g1)).rejects.toMatchObject({
      code: 'CONCURRENCY_CONFLICT',
      details: { active: 9, rebuild: 3 },
    });
    await store.apply('p', g2, undefined, 9, 3);
    await store.swapGeneration('p', g2, g1);
    expect(await store.load('p')).toEqual({ name: 'p', version: 1, generation: g2, position: 9 });
  });

  it('skips only an event just after the checkpoint', async () => {
    const store = createInMemoryReadStore();
    const g = await store.beginGeneration('p', 1);
    await store.swapGeneration('p', g);
    await store.apply('p', g, undefined, 4, 0);
    const failure = { message: 'boom', eventId: 'e', type: 'T', at: new Date().toISOString() };
    await expect(store.skip('p', g, { ...failure, position: 3 })).rejects.toMatchObject({ code: 'CONCURRENCY_CONFLICT' });
    await expect(store.skip('p', g, { ...failure, position: 7 })).rejects.toMatchObject({ code: 'CONCURRENCY_CONFLICT' });
    await store.skip('p', g, { ...failure, position: 5 });
    expect((await store.load('p'))!.position).toBe(5);
  });
});
