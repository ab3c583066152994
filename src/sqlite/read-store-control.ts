// Control requests in the SQLite read store's file: one row each, taken by an UPDATE that only a pending, unexpired
// row matches, so of several processes on the file exactly one takes it.
import { CONTROL_KEEP_MS, type ControlRequest, checkControlRequest, type ProjectionControl } from 'chronicle-es';
import type { SqliteParams } from './sqlite-read-store.js';

type Row = {
  id: string;
  projection: string;
  action: ControlRequest['action'];
  state: ControlRequest['state'];
  requested_at: string;
  expires_at: string;
  taken_by: string | null;
  error: string | null;
};

/** The statements the control rows need, from the store's connection; `write` runs its work as a write transaction. */
export type ControlSql = {
  run(sql: string, params?: SqliteParams): { changes: number };
  get<T>(sql: string, params?: SqliteParams): T | undefined;
  all<T>(sql: string, params?: SqliteParams): T[];
  write<T>(work: () => T): Promise<T>;
  assertOpen(): void;
};

const toRequest = (row: Row): ControlRequest => {
  const request: ControlRequest = {
    id: row.id,
    projection: row.projection,
    action: row.action,
    state: row.state,
    requestedAt: row.requested_at,
    expiresAt: row.expires_at,
  };
  if (row.taken_by !== null) request.takenBy = row.taken_by;
  if (row.error !== null) request.error = JSON.parse(row.error) as ControlRequest['error'];
  return request;
};

// Processes sharing a SQLite file share a host, hence a clock.
const iso = (ms: number) => new Date(ms).toISOString();

/** The SQLite read store's ProjectionControl. */
export function sqliteControl(sql: ControlSql): ProjectionControl {
  return {
    async request(projection, action, ttlMs) {
      sql.assertOpen();
      const id = checkControlRequest(projection, action, ttlMs);
      const now = Date.now();
      const row: Row = {
        id,
        projection,
        action,
        state: 'pending',
        requested_at: iso(now),
        expires_at: iso(now + ttlMs),
        taken_by: null,
        error: null,
      };
      await sql.write(() => {
        sql.run("DELETE FROM chronicle_control WHERE state <> 'taken' AND expires_at < ?", [iso(now - CONTROL_KEEP_MS)]);
        sql.run(
          `INSERT INTO chronicle_control (id, projection, action, state, requested_at, expires_at)
           VALUES (@id, @projection, @action, @state, @requested_at, @expires_at)`,
          { id, projection, action, state: row.state, requested_at: row.requested_at, expires_at: row.expires_at },
        );
      });
      return toRequest(row);
    },
    async get(id) {
      sql.assertOpen();
      const row = sql.get<Row>('SELECT * FROM chronicle_control WHERE id = ?', [id]);
      return row && toRequest(row);
    },
    async pending() {
      sql.assertOpen();
      return sql
        .all<Row>("SELECT * FROM chronicle_control WHERE state = 'pending' AND expires_at > ? ORDER BY seq", [iso(Date.now())])
        .map(toRequest);
    },
    take(id, worker) {
      sql.assertOpen();
      return sql.write(
        () =>
          sql.run(
            "UPDATE chronicle_control SET state = 'taken', taken_by = ? WHERE id = ? AND state = 'pending' AND expires_at > ?",
            [worker, id, iso(Date.now())],
          ).changes === 1,
      );
    },
    async finish(id, error) {
      sql.assertOpen();
      await sql.write(() =>
        sql.run("UPDATE chronicle_control SET state = ?, error = ? WHERE id = ? AND state = 'taken'", [
          error ? 'failed' : 'done',
          error ? JSON.stringify(error) : null,
          id,
        ]),
      );
    },
    cancel(id) {
      sql.assertOpen();
      return sql.write(
        () => sql.run("UPDATE chronicle_control SET state = 'cancelled' WHERE id = ? AND state = 'pending'", [id]).changes === 1,
      );
    },
  };
}
