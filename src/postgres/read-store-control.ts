// Control requests on PostgreSQL: one row each, every time from the server's clock, taken by an UPDATE only a
// pending, unexpired row matches, so of several projectors exactly one takes it.
import { CONTROL_KEEP_MS, type ControlRequest, checkControlRequest, type ProjectionControl } from 'chronicle-es';
import type pg from 'pg';
import { types } from './connection.js';
import { storeError } from './pg-error.js';

type Row = {
  id: string;
  projection: string;
  action: ControlRequest['action'];
  state: ControlRequest['state'];
  requested_at: Date;
  expires_at: Date;
  taken_by: string | null;
  error: ControlRequest['error'] | null;
};

const toRequest = (row: Row): ControlRequest => {
  const request: ControlRequest = {
    id: row.id,
    projection: row.projection,
    action: row.action,
    state: row.state,
    requestedAt: row.requested_at.toISOString(),
    expiresAt: row.expires_at.toISOString(),
  };
  if (row.taken_by !== null) request.takenBy = row.taken_by;
  if (row.error !== null) request.error = row.error;
  return request;
};

const COLUMNS = 'id, projection, action, state, requested_at, expires_at, taken_by, error';

/** Control requests in `schema`'s chronicle_control; `guard` runs each call (open, migrated). */
export function createControl(pool: pg.Pool, schema: string, guard: <T>(work: () => Promise<T>) => Promise<T>) {
  const table = `${schema}.chronicle_control`;
  const query = <R extends pg.QueryResultRow>(what: string, text: string, values: unknown[]) =>
    guard(async () => {
      try {
        return await pool.query<R>({ text, values, types });
      } catch (err) {
        throw storeError(err, `control: ${what}`);
      }
    });

  const control: ProjectionControl = {
    async request(projection, action, ttlMs) {
      const id = checkControlRequest(projection, action, ttlMs);
      // Old settled rows go in the same statement, so the table never grows with requests nobody reads.
      const { rows } = await query<Row>(
        'request',
        `WITH old AS (
           DELETE FROM ${table} WHERE state <> 'taken' AND expires_at < clock_timestamp() - make_interval(secs => $5)
         )
         INSERT INTO ${table} (id, projection, action, state, requested_at, expires_at)
         VALUES ($1, $2, $3, 'pending', clock_timestamp(), clock_timestamp() + make_interval(secs => $4))
         RETURNING ${COLUMNS}`,
        [id, projection, action, ttlMs / 1000, CONTROL_KEEP_MS / 1000],
      );
      return toRequest(rows[0]);
    },
    async get(id) {
      const { rows } = await query<Row>('get', `SELECT ${COLUMNS} FROM ${table} WHERE id = $1`, [id]);
      return rows[0] && toRequest(rows[0]);
    },
    async pending() {
      const { rows } = await query<Row>(
        'pending',
        `SELECT ${COLUMNS} FROM ${table} WHERE state = 'pending' AND expires_at > clock_timestamp() ORDER BY seq`,
        [],
      );
      return rows.map(toRequest);
    },
    async take(id, worker) {
      const { rowCount } = await query(
        'take',
        `UPDATE ${table} SET state = 'taken', taken_by = $2
         WHERE id = $1 AND state = 'pending' AND expires_at > clock_timestamp()`,
        [id, worker],
      );
      return rowCount === 1;
    },
    async finish(id, error) {
      await query('finish', `UPDATE ${table} SET state = $2, error = $3 WHERE id = $1 AND state = 'taken'`, [
        id,
        error ? 'failed' : 'done',
        error ? JSON.stringify(error) : null,
      ]);
    },
    async cancel(id) {
      const { rowCount } = await query('cancel', `UPDATE ${table} SET state = 'cancelled' WHERE id = $1 AND state = 'pending'`, [
        id,
      ]);
      return rowCount === 1;
    },
  };
  return control;
}
