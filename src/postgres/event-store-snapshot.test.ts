import { describe, expect, it } from 'vitest';
import { finishedIn, parseSnapshot, type Round, SafeHeadTracker } from './event-store-snapshot.js';

const round = (last: number, xid: number, snapshot: string, appenders?: number[]): Round => ({
  last,
  xid: BigInt(xid),
  snapshot: parseSnapshot(snapshot),
  appenders: appenders && new Set(appenders.map(BigInt)),
});

describe('parseSnapshot / finishedIn', () => {
  it('parses xmin:xmax:xip and tells finished transactions from open ones', () => {
    const s = parseSnapshot('100:110:102,105');
    expect(s).toEqual({ xmin: 100n, xmax: 110n, xip: new Set([102n, 105n]) });
    expect(finishedIn(99n, s)).toBe(true);
    expect(finishedIn(101n, s)).toBe(true);
    expect(finishedIn(102n, s)).toBe(false);
    expect(finishedIn(109n, s)).toBe(true);
    // From xmax on a snapshot cannot tell: such a transaction may be open.
    expect(finishedIn(110n, s)).toBe(false);
    expect(parseSnapshot('7:7:')).toEqual({ xmin: 7n, xmax: 7n, xip: new Set() });
    expect(parseSnapshot('4294967400:4294967401:')).toMatchObject({ xmin: 4294967400n });
  });

  it('refuses anything else', () => {
    for (const bad of ['', '1:2', '1:2:x', 'a:b:', '1:2:3;']) expect(() => parseSnapshot(bad)).toThrow();
  });
});

describe('SafeHeadTracker', () => {
  it('takes the sequence value at once when no transaction was open', () => {
    const t = new SafeHeadTracker();
    expect(t.apply(round(10, 50, '50:50:'))).toBe(10);
    expect(t.waiting).toBe(false);
  });

  it('a round without its own id (the sequence was not past the safe head) settles what waits and adds nothing', () => {
    const t = new SafeHeadTracker();
    expect(t.apply(round(10, 60, '45:60:45'))).toBe(0);
    // An idle round: no id was taken, so it cannot bound [xmax, xid) and must not add the value it read.
    expect(t.apply({ last: 10, xid: undefined, snapshot: parseSnapshot('45:61:45') })).toBe(0);
    expect(t.oldestWaitingOn()).toEqual([45n]);
    expect(t.apply({ last: 10, xid: undefined, snapshot: parseSnapshot('62:62:') })).toBe(10);
    expect(t.waiting).toBe(false);
  });

  it('waits for a transaction listed in progress until a later snapshot shows it ended', () => {
    const t = new SafeHeadTracker();
    expect(t.apply(round(10, 60, '45:60:45'))).toBe(0);
    expect(t.oldestWaitingOn()).toEqual([45n]);
    expect(t.apply(round(12, 61, '45:61:45'))).toBe(0);
    expect(t.apply(round(12, 62, '62:62:'))).toBe(12);
  });

  it('waits for transactions at or past xmax: open, but in no list (the case a rule on xip alone misses)', () => {
    // An append got id 100 and its position before the sequence was read; no transaction ended since, so the
    // snapshot says 100:100: and lists nothing. The round's own id 101 says 100 exists.
    const t = new SafeHeadTracker();
    expect(t.apply(round(10, 101, '100:100:'))).toBe(0);
    expect(t.oldestWaitingOn()).toEqual([100n]);
    // Something later ended; 100 is now listed as open.
    expect(t.apply(round(10, 103, '100:103:100'))).toBe(0);
    expect(t.apply(round(10, 104, '104:104:'))).toBe(10);
  });

  it('a later position that resolves settles the earlier ones, and the head never goes back', () => {
    const t = new SafeHeadTracker();
    t.apply(round(5, 20, '10:20:10'));
    t.apply(round(8, 21, '10:21:10,20'));
    // 10 still open: neither entry resolves.
    expect(t.apply(round(9, 22, '10:22:10'))).toBe(0);
    // 10 and 20 ended: the last entry (9) waits on nothing and settles 5 and 8 with it.
    expect(t.apply(round(9, 23, '23:23:'))).toBe(9);
    expect(t.waiting).toBe(false);
    expect(t.apply(round(3, 24, '24:24:'))).toBe(9);
  });

  it('stops waiting for open transactions that do not hold the append lock', () => {
    const t = new SafeHeadTracker();
    // 30 is some other write transaction (a report, another schema's projector), 31 an append of this store.
    expect(t.apply(round(7, 40, '30:32:30,31'))).toBe(0);
    expect(t.apply(round(7, 41, '30:32:30,31', [31]))).toBe(0);
    expect(t.oldestWaitingOn()).toEqual([31n]);
    expect(t.apply(round(7, 42, '30:42:30'))).toBe(7);
  });

  it('compares lock-table ids (32 bits) with the low bits of full transaction ids', () => {
    const t = new SafeHeadTracker();
    const high = 2n ** 32n + 5n;
    t.apply({ last: 3, xid: high + 1n, snapshot: parseSnapshot(`${high}:${high}:`) });
    expect(t.apply({ last: 3, xid: high + 2n, snapshot: parseSnapshot(`${high}:${high}:`), appenders: new Set([5n]) })).toBe(0);
    expect(t.apply({ last: 3, xid: high + 3n, snapshot: parseSnapshot(`${high}:${high}:`), appenders: new Set() })).toBe(3);
  });

  it('keeps a bounded number of waiting positions under a long-held append, and still resolves to the newest', () => {
    const t = new SafeHeadTracker();
    for (let i = 1; i <= 100; i++) t.apply(round(i, 1000 + i, '500:501:500'), i);
    expect(t.safe).toBe(0);
    expect(t.waitingSince).toBe(1);
    expect(t.apply(round(100, 2000, '2000:2000:'))).toBe(100);
  });
});
