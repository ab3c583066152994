// One read-store transaction on PostgreSQL. node-postgres does not pipeline, so a round trip per statement would cap
// a projection at a few thousand events per second: instead `run()` only queues its statement, and the queue goes
// to the server as one simple-protocol query, together with the next read, or at the end with the checks that
// guard the transaction (lease fence, checkpoint compare-and-set) in front. A write-only batch is then one round
// trip: the query runs as one implicit transaction, so an error anywhere rolls all of it back.
import { ChronicleError, type SqlReadTx, type SqlValue } from 'chronicle-es';
import type pg from 'pg';
import { types } from './connection.js';
import { sqlState } from './pg-error.js';
import { CHECKPOINT_MOVED, LEASE_GONE } from './read-store-schema.js';
import { literals, type Translation } from './read-store-sql.js';
import { compose, resultAt, resync, type Statement, sessionOf } from './read-store-statements.js';

/**
 * What PostgreSQL handlers write with, inside the batch's transaction. Placeholders are `?` (PostgreSQL's own `?`
 * operators, e.g. jsonb's, need their function forms such as `jsonb_exists`). `run()` queues its statement and sends
 * it with the next `get`/`all` or at commit; a statement that fails there is found again by running the batch once
 * more statement by statement, so its error surfaces from the handler that ran it. Rows come back with int8 as
 * numbers while safe (strings past 2^53) and numeric as strings.
 */
export interface PostgresReadTx extends SqlReadTx {
  readonly dialect: 'postgres';
  /** Queues a statement (resolves at once), or, while a failed batch is run again to find its culprit, sends it. */
  run(sql: string, params?: readonly SqlValue[]): void | Promise<void>;
  get<T = Record<string, unknown>>(sql: string, params?: readonly SqlValue[]): Promise<T | undefined>;
  all<T = Record<string, unknown>>(sql: string, params?: readonly SqlValue[]): Promise<T[]>;
  /** The quoted physical name (unqualified: the transaction's search_path is the store's schema), e.g. `"orders__items__g3"`. */
  table(name: string): string;
}

export type TransactionOptions = {
  pool: pg.Pool;
  /** The store's quoted schema: the search path statements run with. */
  schema: string;
  translate: (sql: string) => Translation;
  /** The statement that opens every transaction: sets the search path, checks the fence and the checkpoint. */
  guard: string;
  /** Send every statement at once, so a failing one rejects its own `run()`. */
  eager?: boolean;
};

type Pending = Statement & { sql: string };

/** A transaction's statements on one pooled session; the guard runs before any of them. */
export class Transaction {
  private client: pg.PoolClient | undefined;
  /** Whether an explicit BEGIN was sent (a read came before the end, or eager mode). */
  private begun = false;
  private guarded = false;
  private queue: Pending[] = [];
  private chain: Promise<unknown> = Promise.resolve();
  private done = false;
  /** The first failed query: the transaction is aborted, and every later call fails with it. */
  failure: ChronicleError | undefined;
  /** Set when the guard refused (CONCURRENCY_CONFLICT or LEASE_LOST): nothing ran, and running again cannot help. */
  refused: ChronicleError | undefined;

  constructor(private readonly options: TransactionOptions) {}

  /** Prepares one statement for the queue. @throws INVALID_ARGUMENT (bad SQL or parameters), the earlier failure */
  statement(sql: string, params?: readonly SqlValue[]): Pending {
    if (this.failure) throw this.failure;
    const translation = this.options.translate(sql);
    return { sql, translation, args: literals(sql, translation.parts.length - 1, params) };
  }

  /** Queues a statement, or in eager mode sends it (the promise is already handled: an unawaited failure stays on `failure`). */
  run(statement: Pending): undefined | Promise<void> {
    if (!this.options.eager) {
      this.queue.push(statement);
      return undefined;
    }
    const sent = this.send(statement, false).then(() => {});
    sent.catch(() => {});
    return sent;
  }

  /** Sends the queue with `read` last and returns its rows. */
  async read(statement: Pending): Promise<Record<string, unknown>[]> {
    const result = await this.send(statement, false);
    return result!.rows;
  }

  /** Opens the transaction now (BEGIN and the guard), for eager mode, where a refusal must not look like a handler's. */
  async open(): Promise<void> {
    await this.serial(async () => {
      this.begun = true;
      this.guarded = true;
      await this.query(['BEGIN', this.options.guard], [], []);
    });
  }

  /** Sends what is queued and commits. @throws the failure of any statement, CONCURRENCY_CONFLICT, LEASE_LOST */
  async commit(): Promise<void> {
    await this.send(undefined, true);
    this.done = true;
    this.release();
  }

  /** Rolls back whatever was sent and gives the session back; never throws. */
  async abandon(): Promise<void> {
    if (this.done) return;
    this.done = true;
    await this.chain.catch(() => {});
    const client = this.client;
    if (!client) return;
    this.client = undefined;
    try {
      if (this.begun) await client.query('ROLLBACK');
      if (this.failure) await resync(client, await sessionOf(client), this.failure.cause);
      client.release();
    } catch (err) {
      client.release(err instanceof Error ? err : true);
    }
  }

  private release(): void {
    this.client?.release();
    this.client = undefined;
  }

  private serial<T>(step: () => Promise<T>): Promise<T> {
    const next = this.chain.then(() => {
      if (this.failure) throw this.failure;
      return step();
    });
    this.chain = next.catch(() => {});
    return next;
  }

  private send(read: Pending | undefined, end: boolean): Promise<pg.QueryResult | undefined> {
    // Taken now, not when the step runs: a read the handler did not await must not let later statements pass it.
    const statements = this.queue;
    this.queue = [];
    if (read) statements.push(read);
    return this.serial(async () => {
      const before: string[] = [];
      if (!this.guarded) {
        // Ending before any read: the whole transaction is this one query, implicitly atomic, so no BEGIN/COMMIT.
        if (!end) {
          before.push('BEGIN');
          this.begun = true;
        }
        before.push(this.options.guard);
        this.guarded = true;
      }
      const after = end && this.begun ? ['COMMIT'] : [];
      if (before.length === 0 && statements.length === 0 && after.length === 0) return undefined;
      return this.query(before, statements, after, read !== undefined);
    });
  }

  private async query(
    before: string[],
    statements: Pending[],
    after: string[],
    reading = false,
  ): Promise<pg.QueryResult | undefined> {
    try {
      this.client ??= await this.options.pool.connect();
      const session = await sessionOf(this.client);
      // Run again to find a failing statement, the batch sends its statements as they are: nothing rests on what the
      // session has prepared.
      const { text, last } = compose(session, this.options.schema, before, statements, after, !this.options.eager);
      const result = await this.client.query({ text, types });
      return reading ? resultAt(result as unknown as pg.QueryResult | pg.QueryResult[], last) : undefined;
    } catch (err) {
      this.failure = failureOf(err, statements.length === 1 ? statements[0].sql : undefined);
      if (this.failure.code === 'CONCURRENCY_CONFLICT' || this.failure.code === 'LEASE_LOST') this.refused = this.failure;
      throw this.failure;
    }
  }
}

/** A failed query as a ChronicleError: the guard's refusals by their codes, anything else STORE_ERROR with the SQL. */
export function failureOf(err: unknown, sql: string | undefined): ChronicleError {
  if (err instanceof ChronicleError) return err;
  const state = sqlState(err);
  const driver = err as { message?: unknown; detail?: unknown };
  const message = typeof driver?.message === 'string' ? driver.message : String(err);
  if (state === CHECKPOINT_MOVED || state === LEASE_GONE) {
    const details = JSON.parse(String(driver.detail)) as Record<string, unknown>;
    return new ChronicleError(state === LEASE_GONE ? 'LEASE_LOST' : 'CONCURRENCY_CONFLICT', message, { details, cause: err });
  }
  if (state === '25006') {
    return new ChronicleError('INVALID_ARGUMENT', 'a reader runs read-only statements only', { details: { sql }, cause: err });
  }
  const details: Record<string, unknown> = {};
  if (sql !== undefined) details.sql = sql;
  if (state) details.sqlState = state;
  return new ChronicleError('STORE_ERROR', `postgres: ${message}`, { details, cause: err });
}

/** A PostgresReadTx over `transaction`, naming tables with `table`. */
export function readTx(transaction: Transaction, table: (name: string) => string): PostgresReadTx {
  return {
    dialect: 'postgres',
    run: (sql, params) => transaction.run(transaction.statement(sql, params)),
    get: async <T>(sql: string, params?: readonly SqlValue[]) =>
      (await transaction.read(transaction.statement(sql, params)))[0] as T | undefined,
    all: async <T>(sql: string, params?: readonly SqlValue[]) =>
      (await transaction.read(transaction.statement(sql, params))) as T[],
    table,
  };
}
