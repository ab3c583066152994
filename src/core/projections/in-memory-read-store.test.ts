import { describe, expect, it } from 'vitest';
import { createInMemoryReadStore } from './in-memory-read-store.js';

describe('in-memory read store', () => {
  it('rolls a failed apply back entirely, including in-place edits of rows read', async () => {
    const store = createInMemoryReadStore();
    const generation = await store.beginGeneration('p', 1);
    await store.swapGeneration('p', generation);
    await store.apply('p', generation, (tx) => void tx.table('rows').set('a', { n: 1 }), 1);
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
    await store.apply('p', g2, (tx) => void tx.table('rows').set('new', 2), 7);
    expect([...store.reader('p').table('rows').keys()]).toEqual(['seed']);
    expect((await store.load('p'))!.rebuild).toEqual({ generation: g2, version: 2, position: 7 });
    await store.swapGeneration('p', g2);
    expect([...store.reader('p').table('rows').keys()]).toEqual(['new']);
    expect(await store.load('p')).toEqual({ name: 'p', version: 2, generation: 2, position: 7 });
    await expect(store.apply('p', g1, undefined, 8)).rejects.toMatchObject({ code: 'CONCURRENCY_CONFLICT' });
    await expect(store.swapGeneration('p', g1)).rejects.toMatchObject({ code: 'CONCURRENCY_CONFLICT' });
  });

  it('has no tables to read before the first generation, and checks table names', async () => {
    const store = createInMemoryReadStore();
    expect(() => store.reader('p').table('rows')).toThrow(expect.objectContaining({ code: 'NOT_FOUND' }));
    const g = await store.beginGeneration('p', 1);
    await store.swapGeneration('p', g);
    expect(() => store.reader('p').table('bad__name')).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });
});
