// Projection leases on PostgreSQL: worker heartbeats and one lease row per projection, every time read from the
// server's clock (clock_timestamp(), evaluated after any row lock is granted), so workers' clocks never need to agree.
// The fence each write checks is chronicle_fence, in read-store-schema.ts.
import { ChronicleError, type Fence, type Lease, type ProjectionLeases, type WorkerInfo } from 'chronicle-es';
import type pg from 'pg';
import { types } from './connection.js';
import { storeError } from './pg-error.js';

type LeaseRow = { projection: string; owner: string; token: number; expires_at: Date };
type WorkerRow = { id: string; last_seen: Date; expires_at: Date };

const toLease = (r: LeaseRow): Lease => ({
  projection: r.projection,
  owner: r.owner,
  token: r.token,
  expiresAt: r.expires_at.toISOString(),
});

function assertTtl(ttlMs: number): void {
  if (!Number.isFinite(ttlMs) || !(ttlMs > 0)) throw new ChronicleError('INVALID_ARGUMENT', 'ttlMs must be a positive number');
}

function assertId(kind: string, id: string): void {
  if (typeof id !== 'string' || id === '') throw new ChronicleError('INVALID_ARGUMENT', `${kind} must be a non-empty string`);
}

/** Leases kept in `schema`'s tables; `guard` runs each call (open, migrated) and rejects once the store is closed. */
export function createLeases(pool: pg.Pool, schema: string, guard: <T>(work: () => Promise<T>) => Promise<T>) {
  const query = <R extends pg.QueryResultRow>(what: string, text: string, values: unknown[]) =>
    guard(async () => {
      try {
        return (await pool.query<R>({ text, values, types })).rows;
      } catch (err) {
        throw storeError(err, what);
      }
    });

  const leases: ProjectionLeases = {
    async heartbeat(worker, ttlMs) {
      assertId('worker', worker);
      assertTtl(ttlMs);
      // Workers long gone are deleted by whoever beats next; SKIP LOCKED keeps two such deletes from waiting on each other.
      const rows = await query<WorkerRow>(
        'heartbeat',
        `WITH beat AS (
           INSERT INTO ${schema}.chronicle_workers AS w (id, last_seen, expires_at)
           VALUES ($1, clock_timestamp(), clock_timestamp() + $2 * interval '1 millisecond')
           ON CONFLICT (id) DO UPDATE SET last_seen = excluded.last_seen, expires_at = excluded.expires_at
           RETURNING id, last_seen, expires_at
         ), gone AS (
           DELETE FROM ${schema}.chronicle_workers WHERE id IN (
             SELECT id FROM ${schema}.chronicle_workers
             WHERE expires_at < clock_timestamp() - interval '1 hour' AND id <> $1 FOR UPDATE SKIP LOCKED)
         )
         SELECT id, last_seen, expires_at FROM beat
         UNION ALL
         SELECT id, last_seen, expires_at FROM ${schema}.chronicle_workers WHERE id <> $1 AND expires_at > clock_timestamp()
         ORDER BY id`,
        [worker, ttlMs],
      );
      return rows.map(
        (r): WorkerInfo => ({ id: r.id, lastSeen: r.last_seen.toISOString(), expiresAt: r.expires_at.toISOString() }),
      );
    },

    async acquire(projection, worker, ttlMs) {
      assertId('projection', projection);
      assertId('worker', worker);
      assertTtl(ttlMs);
      // One statement: the conflicting row is locked before the WHERE is read, so two workers taking an expired lease
      // at once serialize, and the second finds it held. A fenced write in flight holds the row FOR SHARE, so a
      // takeover waits for that write to commit or roll back.
      const rows = await query<LeaseRow>(
        'acquire',
        `INSERT INTO ${schema}.chronicle_leases AS l (projection, owner, token, expires_at)
         VALUES ($1, $2, 1, clock_timestamp() + $3 * interval '1 millisecond')
         ON CONFLICT (projection) DO UPDATE SET
           token = CASE WHEN l.owner = excluded.owner AND NOT l.released THEN l.token ELSE l.token + 1 END,
           owner = excluded.owner,
           expires_at = clock_timestamp() + $3 * interval '1 millisecond',
           released = false
         WHERE l.owner = excluded.owner OR l.released OR l.expires_at <= clock_timestamp()
         RETURNING projection, owner, token, expires_at`,
        [projection, worker, ttlMs],
      );
      return rows[0] && toLease(rows[0]);
    },

    async release(projection, fence: Fence) {
      assertId('projection', projection);
      await query(
        'release',
        `UPDATE ${schema}.chronicle_leases SET released = true, expires_at = least(expires_at, clock_timestamp())
         WHERE projection = $1 AND owner = $2 AND token = $3 AND NOT released`,
        [projection, fence.owner, fence.token],
      );
    },

    async list() {
      const rows = await query<LeaseRow>(
        'list leases',
        `SELECT projection, owner, token, expires_at FROM ${schema}.chronicle_leases ORDER BY projection COLLATE "C"`,
        [],
      );
      return rows.map(toLease);
    },
  };
  return leases;
}
