// The port of a state-stored write model: one transaction on the write database in which a command reads and writes
// its rows and the store appends the events it emits, so both commit together or not at all.

import type { AppendManyOptions, AppendResult, EventStore, StreamWrite } from '../event-store.js';
import type { SqlDialect, SqlValue } from '../projections/sql-tx.js';

/** A value, or a promise of one: SQLite answers at once, PostgreSQL over the wire. */
export type MaybePromise<T> = T | Promise<T>;

/** What a statement that returns no rows reports. */
export type WriteRunResult = { changes: number };

/**
 * The write transaction a state-stored command reads and writes its rows in. Placeholders are positional `?` on every
 * dialect. `Sync` is how the store answers: `true` on SQLite (values, so a handler stays synchronous inside the
 * group commit), `false` on PostgreSQL (promises).
 */
export interface WriteTx<Sync extends boolean = boolean> {
  readonly dialect: SqlDialect;
  /** True when statements answer at once (SQLite): then a handler's load and save must be synchronous too. */
  readonly synchronous: Sync;
  /**
   * @throws CONCURRENCY_CONFLICT a unique or primary-key index refused the row: another command took the value first,
   *   and the handler decides again on the new state
   * @throws STORE_ERROR (the driver's error as `cause`)
   */
  run(sql: string, params?: readonly SqlValue[]): Sync extends true ? WriteRunResult : Promise<WriteRunResult>;
  /** @throws STORE_ERROR */
  get<T = Record<string, unknown>>(
    sql: string,
    params?: readonly SqlValue[],
  ): Sync extends true ? T | undefined : Promise<T | undefined>;
  /** @throws STORE_ERROR */
  all<T = Record<string, unknown>>(sql: string, params?: readonly SqlValue[]): Sync extends true ? T[] : Promise<T[]>;
}

/**
 * The writes of one transaction: what a state-stored store runs in it. It returns the events to append (per stream,
 * each with its expected version); they are appended in the same transaction, through the store's own append path.
 */
export type TransactWork<Tx> = (tx: Tx) => MaybePromise<readonly StreamWrite[]>;

/** Options of `transact`: those of appendMany, plus what a store wrapper needs before the transaction begins. */
export type TransactOptions = AppendManyOptions & {
  /**
   * The subjects whose personal data the work's events may carry: a crypto-shredding store fetches (or creates) their
   * keys before the transaction, since on SQLite the work runs synchronously. A store without the wrapper ignores it.
   */
  subjects?: readonly string[];
};

/**
 * An event store whose database also holds the application's write tables. A store wrapper (e.g. one that encrypts
 * events) intercepts `transact` by wrapping `work`: the writes it returns are the events the store appends.
 */
export interface StateStoredStore<Tx = WriteTx> extends Pick<EventStore, 'findIdempotentResult'> {
  /**
   * Runs `work` in one write transaction and appends the writes it returns in that transaction: rows and events
   * commit together or not at all. An idempotency key already stored runs nothing and answers with the stored results
   * (`duplicate: true`). No writes (`[]`, without a key or condition) commits the rows alone and returns `[]`. On
   * SQLite `work` must return synchronously (it runs inside the group commit).
   * @throws CONCURRENCY_CONFLICT an expected version or the condition does not hold (nothing is written)
   * @throws whatever `work` throws (nothing is written); IDEMPOTENCY_MISMATCH, INVALID_ARGUMENT, STREAM_DELETED,
   *   STORE_ERROR, CLOSED as append does
   */
  transact(work: TransactWork<Tx>, options?: TransactOptions): Promise<AppendResult[]>;
}

/** True when a value is a promise (or any thenable). */
export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}

/** `f(value)`, synchronously when `value` is not a promise: keeps a SQLite handler inside its savepoint. */
export function andThen<A, B>(value: MaybePromise<A>, f: (a: A) => MaybePromise<B>): MaybePromise<B> {
  return isThenable(value) ? (value as Promise<A>).then(f) : f(value as A);
}
