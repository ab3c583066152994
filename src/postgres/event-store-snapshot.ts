// The safe head of the global log, decided from PostgreSQL snapshots: the highest position below which every
// position is committed or will never exist. Pure logic; event-store-safe-head.ts runs the queries.
//
// Why: positions come from a sequence when an append takes them and become visible when it commits, so a later
// position can commit before an earlier one. A reader that pages on position alone must never pass a position whose
// transaction may still commit. The rule, given how append_events works (its transaction id is assigned before it
// takes any position):
// 1. A round reads the sequence's last value L, then — in later statements — assigns itself a transaction id X and
//    takes a snapshot S. Any transaction holding a position <= L took it before L was read, so its id is below X.
// 2. The ids below X that may still be running at S are S's in-progress list and every id in [S.xmax, X): xmax is
//    "latest completed + 1", so transactions that got their id after the last one completed are open but in no list.
// 3. Once a later snapshot shows all of those finished, every position <= L is committed or rolled back (a gap
//    forever). L is then safe. A transaction that does not hold the append lock when a round looks is no appender of
//    this store with a position <= L (the lock is taken before the first position and held to the end), so it is
//    dropped from the wait: an unrelated long transaction elsewhere in the cluster does not hold the readers back.

/** A parsed `pg_current_snapshot()`: ids below xmin are finished, ids from xmax on are not yet seen finished. */
export type Snapshot = { xmin: bigint; xmax: bigint; xip: ReadonlySet<bigint> };

/** Parses PostgreSQL's `xmin:xmax:xip,…` text form. @throws Error when malformed */
export function parseSnapshot(text: string): Snapshot {
  const match = /^(\d+):(\d+):([\d,]*)$/.exec(text);
  if (!match) throw new Error(`unexpected snapshot ${JSON.stringify(text)}`);
  const xip = match[3] === '' ? [] : match[3].split(',').map(BigInt);
  return { xmin: BigInt(match[1]), xmax: BigInt(match[2]), xip: new Set(xip) };
}

/** True when transaction `xid` has ended (committed or aborted) as `snapshot` sees it. */
export function finishedIn(xid: bigint, snapshot: Snapshot): boolean {
  return xid < snapshot.xmin || (xid < snapshot.xmax && !snapshot.xip.has(xid));
}

/** What one round read, in this order: the sequence, then its own transaction id and a snapshot. */
export type Round = {
  /** The sequence's last value (0 before the first position). */
  last: number;
  /**
   * The transaction id the round assigned itself after reading `last`; undefined when `last` was not past the safe
   * head the round started from (then the round only settles what already waits).
   */
  xid: bigint | undefined;
  snapshot: Snapshot;
  /**
   * When the round also looked at the lock table: the (32-bit) ids of the transactions holding the append lock,
   * read after `last`.
   */
  appenders?: ReadonlySet<bigint>;
};

type Pending = { last: number; waitingOn: bigint[]; since: number };

// Under a long-held append every round adds an entry that waits on it; the oldest (fewest to wait for) and the
// newest (highest position) are the ones worth keeping.
const MAX_PENDING = 32;
// Ids in [xmax, xid) are transactions that started after the last one completed: as many as are open at once. A wider
// range means something odd (a wrapped or reset counter); waiting on a bounded prefix still errs on the safe side only
// if we refuse to resolve, so the round is ignored instead.
const MAX_RANGE = 100_000n;
const LOW_32 = 0xffffffffn;

/** Folds rounds into the safe head. */
export class SafeHeadTracker {
  private safeHead = 0;
  private pending: Pending[] = [];

  /** The highest position known safe. */
  get safe(): number {
    return this.safeHead;
  }

  /** True when some read position is still waiting for open transactions. */
  get waiting(): boolean {
    return this.pending.length > 0;
  }

  /** When the oldest position still waiting was read (the `at` of its round); undefined when none waits. */
  get waitingSince(): number | undefined {
    return this.pending[0]?.since;
  }

  /** The transaction ids (64-bit) the oldest waiting position waits for. */
  oldestWaitingOn(): readonly bigint[] {
    return this.pending[0]?.waitingOn ?? [];
  }

  /** Takes one round, read at time `at` (any clock), into account; returns the safe head after it. */
  apply(round: Round, at = 0): number {
    const { snapshot } = round;
    // Without its own id a round cannot bound [xmax, xid): it adds no position (it was not asked to), it only settles.
    const xid = round.xid;
    if (xid !== undefined && round.last > this.safeHead && xid - snapshot.xmax <= MAX_RANGE) {
      const waitingOn = [...snapshot.xip];
      for (let x = snapshot.xmax; x < xid; x++) waitingOn.push(x);
      if (this.pending.length >= MAX_PENDING) this.pending.splice(1, 1);
      this.pending.push({ last: round.last, waitingOn, since: at });
    }
    const appenders = round.appenders;
    let resolved = -1;
    for (let i = 0; i < this.pending.length; i++) {
      const entry = this.pending[i];
      entry.waitingOn = entry.waitingOn.filter(
        (x) => !finishedIn(x, snapshot) && (appenders === undefined || appenders.has(x & LOW_32)),
      );
      if (entry.waitingOn.length === 0) resolved = i;
    }
    // A resolved entry settles every earlier one too: the transactions holding positions below its L are among those
    // it waited for.
    if (resolved >= 0) {
      this.safeHead = Math.max(this.safeHead, this.pending[resolved].last);
      this.pending.splice(0, resolved + 1);
    }
    return this.safeHead;
  }
}
