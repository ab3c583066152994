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
import { isRetryable, isUniqueViolation, storeError } from './pg-error.js';
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
      // A unique index refusing a row is another command having taken the value first (an e-mail, a primary key): a
      // conflict, which the handler answers by loading and deciding again on the new state.
      if (isUniqueViolation(err)) {
        throw new ChronicleError('CONCURRENCY_CONFLICT', `a unique constraint refused the row: ${(err as Error).message}`, {
          cause: err,
          details: { sql, constraint: (err as { constraint?: string }).constraint },
        });
      }
      throw storeError(err, sql);
    }
  };
  return {
    dialect: 'postgres',
    synchronous: false,
    run: async (sql, params) => ({ changes: (await query(sql, params)).rowCount ?? 0 }),
    get: async <T>(sql: string, params?: readonly SqlValue[]) => (await query(sql, params)).rows[0] as T | undefined,
    all: async <T>(sql: string, params?: readonly SqlValue[]) => (await query(sql, params)).rows as T[],
  };
}

type Pending = {
  work: TransactWork<PostgresWriteTx>;
  key: string | undefined;
  fingerprint: string | undefined;
  condition: AppendCall['condition'];
  /** Sent in a group of its own: its last group failed as a whole, and which member broke it is not known. */
  alone: boolean;
  settled: boolean;
  resolve: (results: AppendResult[]) => void;
  reject: (err: unknown) => void;
};

// Groups in flight at once, each on a connection of its own, and the most commands in one.
const LANES = 8;
const MAX_GROUP = 64;
const SAVEPOINT = 'SAVEPOINT chronicle_ss';
// Ending one command's savepoint and opening the next's is one round trip (a simple-protocol query of two statements).
const NEXT = 'RELEASE SAVEPOINT chronicle_ss; SAVEPOINT chronicle_ss';
const UNDO_NEXT = 'ROLLBACK TO SAVEPOINT chronicle_ss; RELEASE SAVEPOINT chronicle_ss; SAVEPOINT chronicle_ss';

// A deadlock or serialization failure between two commands on the same rows: the handler loads and decides again.
function failure(err: unknown): unknown {
  if (isRetryable(err)) {
    return new ChronicleError('CONCURRENCY_CONFLICT', 'a concurrent transaction changed the same rows', { cause: err });
  }
  return storeError(err, 'state-stored transaction');
}

/**
 * The store's `transact`. Commands queued while others run go together: one transaction per group, each command in its
 * own savepoint (a command that throws is undone alone), then one call of append_events for all of them — one commit
 * and one notification per group, as appends are grouped. When append_events refuses one command (a conflict, a
 * stored key), the group is rolled back: that command gets its answer, the others run again in the next group.
 */
export function postgresTransact(deps: PostgresTransactDeps) {
  const translate = createTranslator();
  const names = statementNames();
  const appendSql = appendEventsSql(deps.schema);
  const appendName = `chronicle_append_${deps.schemaName}`;
  let queue: Pending[] = [];
  let running = 0;
  let scheduled = false;
  let idle: Array<() => void> = [];

  function kick(): void {
    if (running === 0 && queue.length === 0 && !scheduled) {
      const waiting = idle;
      idle = [];
      for (const done of waiting) done();
      return;
    }
    if (scheduled || running >= LANES || queue.length === 0) return;
    scheduled = true;
    // Calls made in the same turn of the event loop join one group.
    setImmediate(() => {
      scheduled = false;
      while (running < LANES && queue.length > 0) {
        const group = take();
        running++;
        void runGroup(group).finally(() => {
          running--;
          kick();
        });
      }
    });
  }

  // The next group in queue order; a key already in it waits for the next (append_events looks keys up before the
  // group writes them).
  function take(): Pending[] {
    if (queue[0].alone) return [queue.shift() as Pending];
    const group: Pending[] = [];
    const rest: Pending[] = [];
    const keys = new Set<string>();
    for (const p of queue) {
      if (group.length >= MAX_GROUP || p.alone || (p.key !== undefined && keys.has(p.key))) rest.push(p);
      else {
        if (p.key !== undefined) keys.add(p.key);
        group.push(p);
      }
    }
    queue = rest;
    return group;
  }

  const settle = (p: Pending, f: () => void) => {
    p.settled = true;
    f();
  };

  async function runGroup(group: Pending[]): Promise<void> {
    let client: pg.PoolClient;
    try {
      client = await deps.pool.connect();
    } catch (err) {
      for (const p of group) settle(p, () => p.reject(storeError(err, 'connect')));
      return;
    }
    let broken = false;
    let open = false;
    try {
      await client.query(`BEGIN; ${SAVEPOINT}`);
      open = true;
      const tx = writeTx(client, translate, names);
      const ran: Array<{ p: Pending; call: AppendCall | undefined }> = [];
      const now = new Date().toISOString();
      for (const p of group) {
        try {
          const writes = await p.work(tx);
          // No writes (a schema change, say): the rows commit and nothing is appended.
          const none = Array.isArray(writes) && writes.length === 0 && p.key === undefined && p.condition === undefined;
          const call = none
            ? undefined
            : { writes: prepareWrites(writes, now), key: p.key, fingerprint: p.fingerprint, condition: p.condition };
          await client.query(NEXT);
          ran.push({ p, call });
        } catch (err) {
          await client.query(UNDO_NEXT);
          settle(p, () => p.reject(failure(err)));
        }
      }
      const calls = ran.filter((r): r is { p: Pending; call: AppendCall } => r.call !== undefined);
      let answers: unknown[] = [];
      if (calls.length > 0) {
        // Last, so the positions it takes are held (and readers held back) for as short a time as possible.
        const answer = await client.query({
          text: appendSql,
          values: encodeGroup(calls.map((c) => c.call)),
          types,
          rowMode: 'array',
          name: appendName,
        });
        answers = JSON.parse(answer.rows[0][0] as string) as unknown[];
      }
      const results = new Map<Pending, AppendResult[]>();
      const refused: Array<() => void> = [];
      calls.forEach(({ p, call }, i) => {
        try {
          const r = decodeAnswer(call, answers[i] as Parameters<typeof decodeAnswer>[1]);
          // A stored key: this command's row changes must not stay, so the group cannot commit as it is.
          if (r.some((x) => x.duplicate)) refused.push(() => settle(p, () => p.resolve(r)));
          else results.set(p, r);
        } catch (err) {
          refused.push(() => settle(p, () => p.reject(err)));
        }
      });
      if (refused.length > 0) {
        await client.query('ROLLBACK');
        open = false;
        for (const answer of refused) answer();
        queue = [...ran.map((r) => r.p).filter((p) => !p.settled), ...queue];
        return;
      }
      await client.query('COMMIT');
      open = false;
      let head = 0;
      for (const r of results.values()) for (const x of r) if (x.position > head) head = x.position;
      if (head > 0) deps.committed(head);
      for (const { p } of ran) settle(p, () => p.resolve(results.get(p) ?? []));
    } catch (err) {
      if (open) {
        try {
          await client.query('ROLLBACK');
        } catch {
          // The connection is gone; the server ends the transaction with it.
          broken = true;
        }
      }
      const left = group.filter((p) => !p.settled);
      // Which command broke the group is not known (a unique violation, a deadlock in append_events): each goes
      // again alone, so only that one fails.
      if (group.length > 1 && !broken) {
        for (const p of left) p.alone = true;
        queue = [...left, ...queue];
      } else for (const p of left) settle(p, () => p.reject(failure(err)));
    } finally {
      client.release(broken);
    }
  }

  const transact = async (work: TransactWork<PostgresWriteTx>, options: AppendManyOptions = {}): Promise<AppendResult[]> => {
    deps.assertOpen();
    if (typeof work !== 'function') throw new ChronicleError('INVALID_ARGUMENT', 'transact needs a function');
    const opts = options ?? {};
    assertIdempotencyKey(opts);
    const condition = sqlCondition(normalizeCondition(opts.condition));
    await deps.migrated();
    return new Promise<AppendResult[]>((resolve, reject) => {
      queue.push({
        work,
        key: opts.idempotencyKey,
        fingerprint: opts.idempotencyFingerprint,
        condition,
        alone: false,
        settled: false,
        resolve,
        reject,
      });
      kick();
    });
  };
  /** Resolves once no group is queued or in flight (the store's close waits for it before ending the pool). */
  const drain = (): Promise<void> =>
    running === 0 && queue.length === 0 && !scheduled ? Promise.resolve() : new Promise((resolve) => idle.push(resolve));
  return { transact, drain };
}
