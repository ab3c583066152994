// SQLite's state-stored transactions: a command's row reads and writes and its events run as one member of the
// group commit, in that group's transaction and its own savepoint, so they commit together or not at all.
import {
  type AppendManyOptions,
  type AppendResult,
  assertIdempotencyKey,
  ChronicleError,
  isThenable,
  normalizeCondition,
  type PreparedWrite,
  prepareWrites,
  type SqlValue,
  type TransactWork,
  type WriteTx,
} from 'chronicle-es';
import { isUniqueViolation, storeError } from './sqlite-error.js';

// The part of a better-sqlite3 connection the transaction uses. Our own type, as in group-commit.ts: SqliteWriteTx is
// public, and this file's declarations must compile for a consumer without @types/better-sqlite3.
type Statement = {
  run(...params: unknown[]): { changes: number };
  get(...params: unknown[]): unknown;
  all(...params: unknown[]): unknown[];
};
type Connection = { prepare(sql: string): Statement };

/** The write transaction of a SQLite state-stored command: statements answer at once, inside the group commit. */
export type SqliteWriteTx = WriteTx<true>;

type Condition = ReturnType<typeof normalizeCondition>;

/** What the event store lends the transaction: its writer and the append it runs inside the group. */
export type SqliteTransactDeps = {
  db: Connection;
  assertOpen: () => void;
  enqueue: <T>(work: () => T) => Promise<T>;
  storedResult: (key: string, fingerprint: string | undefined) => AppendResult[] | undefined;
  writeAll: (
    writes: PreparedWrite[],
    key: string | undefined,
    fingerprint: string | undefined,
    condition: Condition,
  ) => AppendResult[];
};

// better-sqlite3 binds no booleans; every other SqlValue it binds as is.
const bind = (params: readonly SqlValue[] | undefined): unknown[] =>
  params === undefined ? [] : params.map((p) => (typeof p === 'boolean' ? (p ? 1 : 0) : p));

// A unique index refusing a row is another command having taken the value first (an e-mail, a primary key): a conflict,
// which the handler answers by loading and deciding again — on the new state its decision can refuse with a reason.
function uniqueConflict(err: unknown, sql: string): ChronicleError {
  return new ChronicleError('CONCURRENCY_CONFLICT', `a unique constraint refused the row: ${(err as Error).message}`, {
    cause: err,
    details: { sql },
  });
}

/** The tx over the store's connection; each statement prepared once. */
export function sqliteWriteTx(db: Connection): SqliteWriteTx {
  const statements = new Map<string, Statement>();
  const prepared = (sql: string) => {
    let statement = statements.get(sql);
    if (!statement) {
      try {
        statement = db.prepare(sql);
      } catch (err) {
        throw storeError(err, sql);
      }
      if (statements.size >= 1000) statements.clear();
      statements.set(sql, statement);
    }
    return statement;
  };
  const call = <T>(sql: string, f: (s: Statement) => T): T => {
    const statement = prepared(sql);
    try {
      return f(statement);
    } catch (err) {
      if (isUniqueViolation(err)) throw uniqueConflict(err, sql);
      throw storeError(err, sql);
    }
  };
  return {
    dialect: 'sqlite',
    synchronous: true,
    run: (sql, params) => call(sql, (s) => ({ changes: s.run(...bind(params)).changes })),
    get: <T>(sql: string, params?: readonly SqlValue[]) => call(sql, (s) => s.get(...bind(params)) as T | undefined),
    all: <T>(sql: string, params?: readonly SqlValue[]) => call(sql, (s) => s.all(...bind(params)) as T[]),
  };
}

/** The store's `transact`. */
export function sqliteTransact(deps: SqliteTransactDeps) {
  const tx = sqliteWriteTx(deps.db);
  return async (work: TransactWork<SqliteWriteTx>, options: AppendManyOptions = {}): Promise<AppendResult[]> => {
    deps.assertOpen();
    if (typeof work !== 'function') throw new ChronicleError('INVALID_ARGUMENT', 'transact needs a function');
    const opts = options ?? {};
    assertIdempotencyKey(opts);
    const condition = normalizeCondition(opts.condition);
    const key = opts.idempotencyKey;
    const fingerprint = opts.idempotencyFingerprint;
    return deps.enqueue(() => {
      // Before the work: a repeat must change no row. The group holds the write lock, so the answer holds to the end.
      if (key !== undefined) {
        const stored = deps.storedResult(key, fingerprint);
        if (stored !== undefined) return stored;
      }
      const writes = work(tx);
      if (isThenable(writes)) {
        // Its rejection is not ours to report; the savepoint is undone by the throw below.
        Promise.resolve(writes).catch(() => {});
        throw new ChronicleError(
          'INVALID_ARGUMENT',
          'on SQLite a state-stored transaction runs inside the group commit: its work must return synchronously',
        );
      }
      // No writes (a schema change, say): the rows commit with the group and nothing is appended.
      if (Array.isArray(writes) && writes.length === 0 && key === undefined && condition === undefined) return [];
      return deps.writeAll(prepareWrites(writes, new Date().toISOString()), key, fingerprint, condition);
    });
  };
}
