import { describe, expect, it } from 'vitest';
import { rateBoundaries, writeRateOf } from './write-rate.js';

// A log as (position, time ms) pairs in position order, possibly with gaps, and a probe over it counting its calls.
function logOf(entries: Array<[number, number]>) {
  let calls = 0;
  const probe = async (positions: readonly number[]) => {
    calls++;
    return positions.map((p) => {
      const found = entries.find(([position]) => position >= p);
      return found && { position: found[0], time: found[1] };
    });
  };
  return { probe, calls: () => calls, head: entries.length ? entries[entries.length - 1][0] : 0 };
}

describe('write rate', () => {
  it('aligns buckets to their size and ends with the bucket holding now', () => {
    const { boundaries } = rateBoundaries({ windowMs: 30_000, bucketMs: 10_000, now: new Date(1_000_025_000) });
    expect(boundaries).toEqual([1_000_000_000, 1_000_010_000, 1_000_020_000, 1_000_030_000]);
  });

  it('counts each bucket exactly on a log without gaps, in a few probe rounds', async () => {
    const t0 = 1_000_000_000;
    const entries: Array<[number, number]> = [];
    // 20,000 old events, then 5 in the first bucket, none in the second, 7 in the third.
    for (let p = 1; p <= 20_000; p++) entries.push([p, t0 - 3_600_000 + p]);
    for (let i = 0; i < 5; i++) entries.push([entries.length + 1, t0 + 1000 + i]);
    for (let i = 0; i < 7; i++) entries.push([entries.length + 1, t0 + 25_000 + i]);
    const log = logOf(entries);
    const rate = await writeRateOf({ windowMs: 30_000, bucketMs: 10_000, now: new Date(t0 + 29_000) }, log.head, log.probe);
    expect(rate.buckets.map((b) => b.events)).toEqual([5, 0, 7]);
    expect(log.calls()).toBeLessThanOrEqual(8);
  });

  it('counts positions between boundaries where the log has gaps (failed appends)', async () => {
    const log = logOf([
      [1, 100],
      [2, 200],
      [5, 1_000],
      [9, 1_500],
      [10, 2_100],
    ]);
    const rate = await writeRateOf({ windowMs: 2_000, bucketMs: 1_000, now: new Date(1_999) }, log.head, log.probe);
    // Bucket [0, 1000): positions 1..4 (1, 2 and the gap 3-4); [1000, 2000): 5..9 (5, 9 and the gap 6-8).
    expect(rate.buckets.map((b) => [b.start, b.events])).toEqual([
      [new Date(0).toISOString(), 4],
      [new Date(1000).toISOString(), 5],
    ]);
  });

  it('is all zeros on an empty log', async () => {
    const log = logOf([]);
    const rate = await writeRateOf({ windowMs: 3_000, bucketMs: 1_000, now: new Date(5_000) }, 0, log.probe);
    expect(rate.buckets.map((b) => b.events)).toEqual([0, 0, 0]);
  });
});
