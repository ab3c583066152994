// Runs the safe-head rounds of event-store-snapshot.ts against the server: one round trip each, shared by every
// reader of the store, and the report of the open append that holds the readers back.
import type { StalledRead } from 'chronicle-es';
import type pg from 'pg';
import { types } from './connection.js';
import { APPEND_LOCK_CLASS, appendLockKeySql } from './event-store-schema.js';
import { parseSnapshot, type Round, SafeHeadTracker } from './event-store-snapshot.js';
import { storeError } from './pg-error.js';

export type SafeHead = {
  /** The highest position known safe, without asking the server. */
  known(): number;
  /** The highest sequence value a round has read: every position handed out before that round started is at or below it. */
  seen(): number;
  /** True when a position read from the sequence still waits for open transactions. */
  waiting(): boolean;
  /**
   * A round that starts after this call (joining one queued, never one already running); resolves to the safe head.
   * `checkLocks`: also read the lock table, so open transactions that are not appends of this store stop counting.
   */
  refresh(checkLocks?: boolean): Promise<number>;
  /** The oldest open append in the readers' way, when open longer than `thresholdMs`. */
  stalledBy(thresholdMs: number): Promise<StalledRead | undefined>;
  /** Stops the follow-up rounds. */
  close(): void;
};

// How long a position may wait on open transactions before a round also reads the lock table, to stop waiting on the
// ones that are not appends of this store. Reading pg_locks takes every lock-manager partition lock, so not on every
// round: under steady appends a position waits one round and resolves without it.
const LOCK_CHECK_AFTER_MS = 25;
// While a read position waits, the tracker looks again by itself (a subscriber woken by a notification may have found
// it waiting, and would otherwise sleep until its next poll): soon at first, then less often while nothing moves.
const FOLLOW_UP_MIN_MS = 10;
const FOLLOW_UP_MAX_MS = 1000;

/**
 * Creates the tracker of one store; `advanced` hears each rise of the safe head. Every query names the schema and
 * passes `types`: the pool may be the caller's.
 */
export function createSafeHead(pool: pg.Pool, schema: string, schemaName: string, advanced: () => void): SafeHead {
  const tracker = new SafeHeadTracker();
  // BEGIN … READ COMMITTED: each statement takes a fresh snapshot, so the snapshot comes after the sequence read even
  // on a pool whose default isolation is stricter. Rolled back: the transaction id is only a marker, nothing is kept.
  // The id is taken only when the sequence has moved past the known safe head: a round that only settles positions
  // already waiting needs the snapshot alone, and an idle store's rounds (status, metrics, polls) then use up no
  // transaction ids and write no abort records. The second statement reads the sequence again, at or past the first
  // read, so whenever the first one is past the safe head an id is taken.
  const head = (known: number) => `BEGIN ISOLATION LEVEL READ COMMITTED;
    SELECT last_value, is_called FROM ${schema}.events_position;
    SELECT CASE WHEN (SELECT last_value FROM ${schema}.events_position WHERE is_called) > ${known}
      THEN pg_current_xact_id()::text END AS xid, pg_current_snapshot()::text AS snapshot;`;
  const locks = `WITH l AS MATERIALIZED (SELECT * FROM pg_locks)
    SELECT t.transactionid::text AS xid FROM l a JOIN l t ON t.virtualtransaction = a.virtualtransaction
    WHERE a.locktype = 'advisory' AND a.classid = ${APPEND_LOCK_CLASS}::oid
      AND a.objid = (${appendLockKeySql(schemaName)})::oid AND a.objsubid = 2
      AND a.database = (SELECT oid FROM pg_database WHERE datname = current_database())
      AND t.locktype = 'transactionid' AND t.mode = 'ExclusiveLock' AND t.granted;`;
  let lastLockCheck = 0;
  let seen = 0;
  let running: Promise<number> | undefined;
  let queued: Promise<number> | undefined;

  async function round(checkLocks: boolean): Promise<number> {
    const sql = `${head(tracker.safe)}${checkLocks ? locks : ''}ROLLBACK`;
    let results: pg.QueryResult[];
    try {
      results = (await pool.query({ text: sql, types })) as unknown as pg.QueryResult[];
    } catch (err) {
      throw storeError(err, 'reading the safe head');
    }
    const seq = results[1].rows[0] as { last_value: number | string; is_called: boolean };
    const now = results[2].rows[0] as { xid: string | null; snapshot: string };
    const r: Round = {
      last: seq.is_called ? Number(seq.last_value) : 0,
      xid: now.xid === null ? undefined : BigInt(now.xid),
      snapshot: parseSnapshot(now.snapshot),
    };
    if (r.last > seen) seen = r.last;
    if (checkLocks) r.appenders = new Set(results[3].rows.map((row: { xid: string }) => BigInt(row.xid)));
    if (checkLocks) lastLockCheck = Date.now();
    const before = tracker.safe;
    const safe = tracker.apply(r, Date.now());
    followUp(safe > before);
    if (safe > before) advanced();
    return safe;
  }

  let followUpTimer: ReturnType<typeof setTimeout> | undefined;
  let followUpMs = FOLLOW_UP_MIN_MS;
  let closed = false;
  function followUp(moved: boolean): void {
    followUpMs = moved ? FOLLOW_UP_MIN_MS : Math.min(followUpMs * 2, FOLLOW_UP_MAX_MS);
    if (closed || !tracker.waiting || followUpTimer !== undefined) return;
    followUpTimer = setTimeout(() => {
      followUpTimer = undefined;
      // A failed round is only a missed look; readers see their own errors.
      refresh(false).catch(() => {});
    }, followUpMs);
    followUpTimer.unref?.();
  }

  // One round at a time; callers arriving meanwhile share the next one, which checks the lock table if any of them
  // asked for it.
  let queuedChecksLocks = false;
  function refresh(checkLocks: boolean): Promise<number> {
    if (running === undefined) {
      const since = tracker.waitingSince;
      const now = Date.now();
      const due = since !== undefined && now - since >= LOCK_CHECK_AFTER_MS && now - lastLockCheck >= LOCK_CHECK_AFTER_MS;
      running = round(checkLocks || due).finally(() => {
        running = undefined;
      });
      return running;
    }
    queuedChecksLocks ||= checkLocks;
    queued ??= running
      .catch(() => {})
      .then(() => {
        const withLocks = queuedChecksLocks;
        queued = undefined;
        queuedChecksLocks = false;
        return refresh(withLocks);
      });
    return queued;
  }

  return {
    known: () => tracker.safe,
    seen: () => seen,
    waiting: () => tracker.waiting,
    refresh: (checkLocks = false) => refresh(checkLocks),

    async stalledBy(thresholdMs: number): Promise<StalledRead | undefined> {
      // A round of its own, with the lock table: what it still waits for are appends of this store.
      await refresh(true);
      const waitingOn = tracker.oldestWaitingOn();
      if (waitingOn.length === 0) return undefined;
      const xids = waitingOn.map((x) => (x & 0xffffffffn).toString());
      let rows: Array<{ pid: number; xact_start: Date; open_ms: number }>;
      try {
        ({ rows } = await pool.query({
          text: `SELECT pid, xact_start, (extract(epoch FROM clock_timestamp() - xact_start) * 1000)::float8 AS open_ms
            FROM pg_stat_activity
            WHERE backend_xid IS NOT NULL AND backend_xid::text::bigint = ANY ($1::bigint[])
              AND xact_start <= clock_timestamp() - make_interval(secs => $2::float8 / 1000)
            ORDER BY xact_start LIMIT 1`,
          values: [xids, thresholdMs],
          types,
        }));
      } catch (err) {
        throw storeError(err, 'looking for the open append holding readers back');
      }
      const row = rows[0];
      if (row === undefined) return undefined;
      return { backend: String(row.pid), since: row.xact_start.toISOString(), openMs: Math.round(row.open_ms) };
    },

    close() {
      closed = true;
      if (followUpTimer !== undefined) clearTimeout(followUpTimer);
      followUpTimer = undefined;
    },
  };
}
