// A statement prepared once, whose every failure reports its SQL: the one wrapper the event store and its query
// matcher prepare with.
import type Database from 'better-sqlite3';
import { storeError } from './sqlite-error.js';

export type PreparedStatement<Row> = {
  get(...params: unknown[]): Row | undefined;
  all(...params: unknown[]): Row[];
  run(...params: unknown[]): void;
};

/**
 * Prepares `sql` once. `rows` returns keyed objects, `raw` arrays, `pluck` the first column. Driver errors become
 * STORE_ERROR with the statement's SQL.
 */
export function prepareStatement<Row>(
  db: Database.Database,
  sql: string,
  mode: 'rows' | 'raw' | 'pluck',
): PreparedStatement<Row> {
  const prepared = db.prepare(sql);
  if (mode === 'raw') prepared.raw(true);
  else if (mode === 'pluck') prepared.pluck(true);
  return {
    get(...params) {
      try {
        return prepared.get(...params) as Row | undefined;
      } catch (err) {
        throw storeError(err, sql);
      }
    },
    all(...params) {
      try {
        return prepared.all(...params) as Row[];
      } catch (err) {
        throw storeError(err, sql);
      }
    },
    run(...params) {
      try {
        prepared.run(...params);
      } catch (err) {
        throw storeError(err, sql);
      }
    },
  };
}
