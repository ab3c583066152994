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

describe('in-memory read store with leases', () => {
  function clocked() {
    let now = Date.parse('2030-01-01T00:00:00Z');
    const store = createInMemoryReadStore({ leases: true, clock: () => now });
    return { store, leases: store.leases!, advance: (ms: number) => (now += ms) };
  }

  it('has no leases unless asked, and then ignores fences', async () => {
    const store = createInMemoryReadStore();
    expect(store.leases).toBeUndefined();
    const g = await store.beginGeneration('p', 1, undefined, { owner: 'nobody', token: 7 });
    await store.swapGeneration('p', g, 0, { owner: 'nobody', token: 7 });
    await store.apply('p', g, undefined, 3, 0, { owner: 'nobody', token: 7 });
    expect((await store.load('p'))!.position).toBe(3);
  });

  it('reports live workers by heartbeat, in the store clock', async () => {
    const { leases, advance } = clocked();
    await leases.heartbeat('a', 1000);
    advance(600);
    const live = await leases.heartbeat('b', 1000);
    expect(live.map((w) => w.id).sort()).toEqual(['a', 'b']);
    expect(live.find((w) => w.id === 'b')).toEqual({
      id: 'b',
      lastSeen: '2030-01-01T00:00:00.600Z',
      expiresAt: '2030-01-01T00:00:01.600Z',
    });
    advance(500);
    expect((await leases.heartbeat('b', 1000)).map((w) => w.id)).toEqual(['b']);
    await expect(leases.heartbeat('b', 0)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it('gives a lease to one worker at a time, raising the token on every change of holder', async () => {
    const { leases, advance } = clocked();
    const a1 = await leases.acquire('p', 'a', 1000);
    expect(a1).toEqual({ projection: 'p', owner: 'a', token: 1, expiresAt: '2030-01-01T00:00:01.000Z' });
    expect(await leases.acquire('p', 'b', 1000)).toBeUndefined();
    advance(800);
    // Renewal keeps the token, even once expired, while nobody else took it.
    expect(await leases.acquire('p', 'a', 1000)).toMatchObject({ owner: 'a', token: 1, expiresAt: '2030-01-01T00:00:01.800Z' });
    advance(1500);
    expect(await leases.acquire('p', 'a', 1000)).toMatchObject({ owner: 'a', token: 1 });
    advance(1001);
    expect(await leases.acquire('p', 'b', 1000)).toMatchObject({ owner: 'b', token: 2 });
    expect(await leases.acquire('p', 'a', 1000)).toBeUndefined();
    // A release by a stale fence does nothing; by the holder it frees the lease at once, and the next token is higher.
    await leases.release('p', { owner: 'a', token: 1 });
    expect(await leases.acquire('p', 'a', 1000)).toBeUndefined();
    await leases.release('p', { owner: 'b', token: 2 });
    expect(await leases.acquire('p', 'b', 1000)).toMatchObject({ owner: 'b', token: 3 });
    expect((await leases.list()).map(({ projection, owner, token }) => ({ projection, owner, token }))).toEqual([
      { projection: 'p', owner: 'b', token: 3 },
    ]);
  });

  it('refuses every write under a lost lease with LEASE_LOST, writing nothing', async () => {
    const { store, leases, advance } = clocked();
    const a = (await leases.acquire('p', 'a', 1000))!;
    const fenceA = { owner: a.owner, token: a.token };
    const g1 = await store.beginGeneration('p', 1, (tx) => void tx.table('rows').set('seed', 1), fenceA);
    await store.swapGeneration('p', g1, 0, fenceA);
    await store.apply('p', g1, (tx) => void tx.table('rows').set('a', 1), 5, 0, fenceA);
    const g2 = await store.beginGeneration('p', 1, undefined, fenceA);
    advance(1001);
    const b = (await leases.acquire('p', 'b', 1000))!;
    const fenceB = { owner: b.owner, token: b.token };

    const failure = { message: 'boom', eventId: 'e', position: 6, type: 'T', at: new Date().toISOString() };
    const refused = [
      store.apply('p', g1, (tx) => void tx.table('rows').set('stale', 1), 9, 5, fenceA),
      store.beginGeneration('p', 1, undefined, fenceA),
      store.swapGeneration('p', g2, g1, fenceA),
      store.setFailure('p', failure, fenceA),
      store.skip('p', g1, failure, fenceA),
    ];
    for (const write of refused) await expect(write).rejects.toMatchObject({ code: 'LEASE_LOST' });
    expect(await store.load('p')).toEqual({
      name: 'p',
      version: 1,
      generation: g1,
      position: 5,
      rebuild: { generation: g2, version: 1, position: 0 },
    });
    expect([...store.reader('p').table('rows').keys()]).toEqual(['seed', 'a']);
    await store.apply('p', g1, (tx) => void tx.table('rows').set('b', 1), 9, 5, fenceB);
    expect([...store.reader('p').table('rows').keys()]).toEqual(['seed', 'a', 'b']);
  });

  it('checks the fence when the batch commits, so a takeover while its work awaited refuses it', async () => {
    const { store, leases, advance } = clocked();
    const a = (await leases.acquire('p', 'a', 1000))!;
    const g = await store.beginGeneration('p', 1);
    await store.swapGeneration('p', g, 0);
    let resume!: () => void;
    const paused = new Promise<void>((r) => {
      resume = r;
    });
    const stale = store.apply(
      'p',
      g,
      async (tx) => {
        await paused;
        tx.table('rows').set('from-a', 1);
      },
      4,
      0,
      { owner: 'a', token: a.token },
    );
    advance(1001);
    const b = (await leases.acquire('p', 'b', 1000))!;
    await store.apply('p', g, (tx) => void tx.table('rows').set('from-b', 1), 4, 0, { owner: 'b', token: b.token });
    resume();
    await expect(stale).rejects.toMatchObject({ code: 'LEASE_LOST' });
    expect([...store.reader('p').table('rows').keys()]).toEqual(['from-b']);
    expect((await store.load('p'))!.position).toBe(4);
  });
});
