import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ChronicleError } from '../errors.js';
import { createInMemoryReadStore } from './in-memory-read-store.js';
import { LeaseKeeper } from './lease-keeper.js';
import type { Fence, ProjectionLeases } from './projection-store.js';

const TTL = 300;
const names = ['a', 'b', 'c', 'd', 'e', 'f'];

// Leases whose calls can be made to hang (a paused or partitioned worker) or fail (a store that is down).
function switchable(leases: ProjectionLeases) {
  let mode: 'ok' | 'hang' | 'fail' = 'ok';
  const wrap =
    <A extends unknown[], R>(fn: (...args: A) => Promise<R>) =>
    (...args: A): Promise<R> =>
      mode === 'hang'
        ? new Promise<R>(() => {})
        : mode === 'fail'
          ? Promise.reject(new ChronicleError('STORE_ERROR', 'store down'))
          : fn(...args);
  return {
    leases: {
      heartbeat: wrap(leases.heartbeat),
      acquire: wrap(leases.acquire),
      release: wrap(leases.release),
      list: wrap(leases.list),
    } satisfies ProjectionLeases,
    set: (m: typeof mode) => {
      mode = m;
    },
  };
}

function keeper(leases: ProjectionLeases, worker: string, projections = names) {
  const running = new Map<string, Fence>();
  const events: string[] = [];
  const k = new LeaseKeeper({
    leases,
    worker,
    projections,
    ttlMs: TTL,
    async acquired(name, fence) {
      running.set(name, fence);
      events.push(`acquired ${name} ${fence.token}`);
    },
    async lost(name) {
      running.delete(name);
      events.push(`lost ${name}`);
    },
  });
  return { k, running, events };
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('lease keeper', () => {
  it('takes every lease while alone and renews them every third of the ttl, keeping the token', async () => {
    const store = createInMemoryReadStore({ leases: true });
    const one = keeper(store.leases!, 'w1');
    await one.k.start();
    expect([...one.running.keys()].sort()).toEqual(names);
    expect([...one.running.values()].every((f) => f.owner === 'w1' && f.token === 1)).toBe(true);
    for (let i = 0; i < 10; i++) await vi.advanceTimersByTimeAsync(TTL / 3);
    const leases = await store.leases!.list();
    expect(leases.every((l) => l.owner === 'w1' && l.token === 1 && Date.parse(l.expiresAt) > Date.now())).toBe(true);
    expect(one.events.filter((e) => e.startsWith('lost'))).toEqual([]);
    await one.k.stop();
  });

  it('hands its surplus to a worker that joins, and takes it back when that one stops', async () => {
    const store = createInMemoryReadStore({ leases: true });
    const one = keeper(store.leases!, 'w1');
    const two = keeper(store.leases!, 'w2');
    await one.k.start();
    await two.k.start();
    expect(two.running.size).toBe(0);
    await vi.advanceTimersByTimeAsync(TTL);
    expect([one.running.size, two.running.size]).toEqual([3, 3]);
    expect([...one.running.keys()].some((p) => two.running.has(p))).toBe(false);
    for (const name of two.running.keys()) expect(one.events).toContain(`lost ${name}`);
    // The lease passed to another worker: its token rose.
    expect([...two.running.values()].every((f) => f.token === 2)).toBe(true);

    await two.k.stop();
    expect(two.running.size).toBe(0);
    await vi.advanceTimersByTimeAsync(TTL / 3);
    expect(one.running.size).toBe(6);
    await one.k.stop();
    expect((await store.leases!.list()).every((l) => Date.parse(l.expiresAt) <= Date.now())).toBe(true);
  });

  it('gives a lease up at once when its renewal fails, and when the store hangs past the ttl', async () => {
    const store = createInMemoryReadStore({ leases: true });
    const failing = switchable(store.leases!);
    const one = keeper(failing.leases, 'w1', ['a']);
    await one.k.start();
    expect(one.running.has('a')).toBe(true);
    failing.set('fail');
    await vi.advanceTimersByTimeAsync(TTL / 3);
    expect(one.running.has('a')).toBe(false);
    failing.set('ok');
    await vi.advanceTimersByTimeAsync(TTL / 3);
    // Nobody took it meanwhile: it is taken again, under the same token.
    expect(one.running.get('a')).toEqual({ owner: 'w1', token: 1 });

    failing.set('hang');
    await vi.advanceTimersByTimeAsync(TTL - 1);
    expect(one.running.has('a')).toBe(true);
    await vi.advanceTimersByTimeAsync(TTL / 3);
    expect(one.running.has('a')).toBe(false);
    expect(one.events.filter((e) => e === 'lost a')).toHaveLength(2);
  });

  it('takes a dead worker’s leases as soon as they expire, and the dead one cannot renew them', async () => {
    const store = createInMemoryReadStore({ leases: true });
    const dying = switchable(store.leases!);
    const one = keeper(dying.leases, 'w1', ['a', 'b']);
    await one.k.start();
    const two = keeper(store.leases!, 'w2', ['a', 'b']);
    await two.k.start();
    await vi.advanceTimersByTimeAsync(TTL);
    expect([one.running.size, two.running.size]).toEqual([1, 1]);
    const [mine] = one.running.keys();

    dying.set('hang');
    const died = Date.now();
    const expiry = Date.parse((await store.leases!.list()).find((l) => l.projection === mine)!.expiresAt);
    await vi.waitFor(
      async () => {
        await vi.advanceTimersByTimeAsync(10);
        expect(two.running.has(mine)).toBe(true);
      },
      { timeout: 10_000, interval: 0 },
    );
    // Right after the lease expired (and the worker's heartbeat with it), not a whole round later.
    expect(Date.now() - expiry).toBeLessThan(TTL / 3);
    expect(Date.now() - died).toBeLessThanOrEqual(TTL + TTL / 3);
    expect(two.running.get(mine)!.token).toBe(2);
    // The paused worker's own deadline stopped it too.
    expect(one.running.size).toBe(0);
    await two.k.stop();
  });
});
