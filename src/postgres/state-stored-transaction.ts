// PostgreSQL's state-stored transactions: a command's row reads and writes and its events in one transaction on one
// pooled connection. The events go through append_events, the store's own append path, so the gap-safe reading rules
// hold for them: the safe head counts this transaction as an append in flight until it ends.
import {
  type AppendManyOptions,
  type AppendResult,
  assertIdempotencyKey,
  ChronicleError,
  normalizeCondition,
  prepareWrites,
  type SqlValue,
  type TransactWork,
  type WriteTx,
} from 'chronicle-es';
import type pg from 'pg';
import { types } from './connection.js';
import { type AppendCall, appendEventsSql, decodeAnswer, encodeGroup } from './event-store-append.js';
import { sqlCondition } from './event-store-conditions.js';
import { isRetryable, storeError } from './pg-error.js';
import { createTranslator } from './read-store-sql.js';

/** The write transaction of a PostgreSQL state-stored command: every statement a round trip on its connection. */
export type PostgresWriteTx = WriteTx<false>;

/** What the event store lends the transaction. */
export type PostgresTransactDeps = {
  pool: pg.Pool;
  /** The quoted schema of the store's tables. */
  schema: string;
  schemaName: string;
  assertOpen: () => void;
  migrated: () => Promise<void>;
  /** Hears the highest position a committed transaction wrote (before its caller does). */
  committed: (position: number) => void;
};

// Statement names per SQL text, shared by the store's connections: a named statement is parsed and planned once per
// connection instead of on every call (the handlers send the same few statements with every command).
type Names = (text: string) => string | undefined;

function statementNames(max = 200): Names {
  const names = new Map<string, string>();
  return (text) => {
    let name = names.get(text);
    // Past the cap new statements go unnamed: a connection keeps every statement it prepared until it closes.
    if (name === undefined && names.size < max) {
      name = `chronicle_ss_${names.size + 1}`;
      names.set(text, name);
    }
    return name;
  };
}

function writeTx(client: pg.PoolClient, translate: ReturnType<typeof createTranslator>, names: Names): PostgresWriteTx {
  const query = async (sql: string, params: readonly SqlValue[] | undefined) => {
    const { text, preparable } = translate(sql);
    try {
      const name = preparable ? names(text) : undefined;
      return await client.query({ text, name, values: params === undefined ? [] : [...params], types });
    } catch (err) {
      throw storeError(err, sql);
    }
  };
  return {
    dialect: 'postgres',
    run: async (sql, params) => ({ changes: (await query(sql, params)).rowCount ?? 0 }),
    get: async <T>(sql: string, params?: readonly SqlValue[]) => (await query(sql, params)).rows[0] as T | undefined,
    all: async <T>(sql: string, params?: readonly SqlValue[]) => (await query(sql, params)).rows as T[],
  };
}

/** The store's `transact`. */
export function postgresTransact(deps: PostgresTransactDeps) {
  const translate = createTranslator();
  const names = statementNames();
  const appendSql = appendEventsSql(deps.schema);
  const appendName = `chronicle_append_${deps.schemaName}`;
  return async (work: TransactWork<PostgresWriteTx>, options: AppendManyOptions = {}): Promise<AppendResult[]> => {
    deps.assertOpen();
    if (typeof work !== 'function') throw new ChronicleError('INVALID_ARGUMENT', 'transact needs a function');
    const opts = options ?? {};
    assertIdempotencyKey(opts);
    const condition = sqlCondition(normalizeCondition(opts.condition));
    await deps.migrated();
    let client: pg.PoolClient;
    try {
      client = await deps.pool.connect();
    } catch (err) {
      throw storeError(err, 'connect');
    }
    let broken = false;
    let open = false;
    try {
      await client.query('BEGIN');
      open = true;
      const writes = await work(writeTx(client, translate, names));
      // No writes (a schema change, say): the rows commit and nothing is appended.
      if (Array.isArray(writes) && writes.length === 0 && opts.idempotencyKey === undefined && condition === undefined) {
        await client.query('COMMIT');
        open = false;
        return [];
      }
      const call: AppendCall = {
        writes: prepareWrites(writes, new Date().toISOString()),
        key: opts.idempotencyKey,
        fingerprint: opts.idempotencyFingerprint,
        condition,
      };
      // Last, so the position it takes is held (and readers held back) for as short a time as possible.
      const answer = await client.query({
        text: appendSql,
        values: encodeGroup([call]),
        types,
        rowMode: 'array',
        name: appendName,
      });
      const results = decodeAnswer(call, JSON.parse(answer.rows[0][0] as string)[0]);
      if (results.some((r) => r.duplicate)) {
        // The key was stored by an earlier command: this one's row changes must not stay.
        await client.query('ROLLBACK');
        open = false;
        return results;
      }
      await client.query('COMMIT');
      open = false;
      deps.committed(Math.max(...results.map((r) => r.position)));
      return results;
    } catch (err) {
      if (open) {
        try {
          await client.query('ROLLBACK');
        } catch {
          // The connection is gone; the server ends the transaction with it.
          broken = true;
        }
      }
      // A deadlock or serialization failure between two commands on the same rows: the handler loads and decides again.
      if (isRetryable(err)) {
        throw new ChronicleError('CONCURRENCY_CONFLICT', 'a concurrent transaction changed the same rows', { cause: err });
      }
      throw storeError(err, 'state-stored transaction');
    } finally {
      client.release(broken);
    }
  };
}
