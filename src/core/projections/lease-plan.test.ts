import { describe, expect, it } from 'vitest';
import { planLeases } from './lease-plan.js';
import type { Lease, WorkerInfo } from './projection-store.js';

const NOW = Date.parse('2030-01-01T00:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString();
const names = ['a', 'b', 'c', 'd', 'e', 'f'];
const live = (...ids: string[]): WorkerInfo[] => ids.map((id) => ({ id, lastSeen: iso(NOW), expiresAt: iso(NOW + 3000) }));
const lease = (projection: string, owner: string, expiresIn = 2000): Lease => ({
  projection,
  owner,
  token: 1,
  expiresAt: iso(NOW + expiresIn),
});

describe('lease plan', () => {
  it('takes every projection while alone', () => {
    const plan = planLeases({ worker: 'w1', projections: names, held: new Set(), leases: [], live: live('w1'), now: NOW });
    expect(plan.share).toBe(6);
    expect([...plan.acquire].sort()).toEqual(names);
    expect(plan.release).toEqual([]);
  });

  it('releases the surplus when another worker is alive, and the other waits for what is still held', () => {
    const held = new Set(names);
    const a = planLeases({
      worker: 'w1',
      projections: names,
      held,
      leases: names.map((p) => lease(p, 'w1')),
      live: live('w1', 'w2'),
      now: NOW,
    });
    expect(a.share).toBe(3);
    expect(a.release).toHaveLength(3);
    expect(a.acquire).toEqual([]);

    const b = planLeases({
      worker: 'w2',
      projections: names,
      held: new Set(),
      leases: [lease('a', 'w1', 1500), ...names.slice(1).map((p) => lease(p, 'w1'))],
      live: live('w1', 'w2'),
      now: NOW,
    });
    expect(b.acquire).toEqual([]);
    // It tries again when the first of them expires.
    expect(b.nextExpiryMs).toBe(1500);
  });

  it('counts expired, released and its own leases as free, and plans no wake-up without room', () => {
    const plan = planLeases({
      worker: 'w2',
      projections: ['a', 'b', 'c', 'd'],
      held: new Set(),
      leases: [lease('a', 'w1', 0), lease('b', 'w2', 5000), lease('c', 'w1', 4000), lease('d', 'w1', -10)],
      live: live('w1', 'w2'),
      now: NOW,
    });
    expect(plan.share).toBe(2);
    expect(plan.acquire).toHaveLength(2);
    expect(plan.acquire.every((p) => ['a', 'b', 'd'].includes(p))).toBe(true);
    const full = planLeases({
      worker: 'w2',
      projections: ['a', 'b'],
      held: new Set(['a']),
      leases: [lease('a', 'w2'), lease('b', 'w1')],
      live: live('w1', 'w2'),
      now: NOW,
    });
    expect(full).toMatchObject({ share: 1, acquire: [], release: [], nextExpiryMs: undefined });
  });

  it('wakes when a silent worker’s heartbeat expires if free projections wait beyond its share', () => {
    // w1 died between its heartbeat and its renewals: its leases expired first, its heartbeat still counts.
    const workers: WorkerInfo[] = [...live('w2'), { id: 'w1', lastSeen: iso(NOW - 2000), expiresAt: iso(NOW + 400) }];
    const plan = planLeases({
      worker: 'w2',
      projections: ['a', 'b', 'c'],
      held: new Set(['c']),
      leases: [lease('a', 'w1', -5), lease('b', 'w1', -5), lease('c', 'w2')],
      live: workers,
      now: NOW,
    });
    expect(plan).toMatchObject({ share: 2, nextExpiryMs: 400 });
    expect(plan.acquire).toHaveLength(1);
  });

  it('spreads projections over workers joining and leaving, never two holders at once', () => {
    // A lease table and rounds of workers planning and acting on it, as the keeper does.
    const table = new Map<string, string>();
    const heldBy = (w: string) => new Set([...table].filter(([, owner]) => owner === w).map(([p]) => p));
    const round = (workers: string[]) => {
      for (const w of workers) {
        const plan = planLeases({
          worker: w,
          projections: names,
          held: heldBy(w),
          leases: [...table].map(([p, owner]) => lease(p, owner)),
          live: live(...workers),
          now: NOW,
        });
        for (const p of plan.release) table.delete(p);
        for (const p of plan.acquire) if (!table.has(p)) table.set(p, w);
      }
    };
    const counts = (workers: string[]) => workers.map((w) => heldBy(w).size);

    round(['w1']);
    expect(counts(['w1'])).toEqual([6]);
    for (let i = 0; i < 3; i++) round(['w1', 'w2']);
    expect(counts(['w1', 'w2'])).toEqual([3, 3]);
    for (let i = 0; i < 3; i++) round(['w1', 'w2', 'w3']);
    expect(counts(['w1', 'w2', 'w3'])).toEqual([2, 2, 2]);
    // w2 leaves: its leases go free (released or expired) and the others share them.
    for (const p of heldBy('w2')) table.delete(p);
    for (let i = 0; i < 3; i++) round(['w1', 'w3']);
    expect(counts(['w1', 'w3'])).toEqual([3, 3]);
    expect(table.size).toBe(6);
  });

  it('ranks the same way in every process, so workers starting together reach for different projections', () => {
    const plan = (w: string) =>
      planLeases({ worker: w, projections: names, held: new Set(), leases: [], live: live('w1', 'w2'), now: NOW }).acquire;
    expect(plan('w1')).toEqual(plan('w1'));
    // Each projection is assigned to one of the two: between them their first choices cover more than one share.
    expect(new Set([...plan('w1'), ...plan('w2')]).size).toBeGreaterThan(3);
  });
});
