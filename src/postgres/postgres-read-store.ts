// The PostgreSQL read store: projections' tables in generations, each batch and its checkpoint in one transaction,
// projection leases with fencing tokens checked inside the write they guard, for projector workers in many processes.
//
// Isolation: READ COMMITTED is enough because every decision is taken on a locked row, and a locking read at READ
// COMMITTED always sees the newest committed version of its row (waiting for a writer in flight, then re-reading).
// A batch's first statement locks its projection's row (chronicle_checkpoint, FOR UPDATE) before comparing the
// checkpoint, so two projectors applying the same batch run one after the other and the second finds the
// checkpoint moved; projection tables are written only under that lock. A fenced write holds the lease row FOR SHARE
// (chronicle_fence) until it commits, so a takeover — an UPDATE of that row — either committed before (the fence sees
// the new token and refuses) or waits until the write is done. Nothing reads an unlocked row to decide a write, so
// neither lost updates nor write skew can occur, and no serialization retries are needed.
import {
  type ApplyWork,
  assertReadModelName,
  ChronicleError,
  type Fence,
  isChronicleError,
  type ProjectionControl,
  type ProjectionFailure,
  type ProjectionLeases,
  type ProjectionRecord,
  type ProjectionStore,
  type SkippedEvent,
} from 'chronicle-es';
import pg from 'pg';
import { type Connection, openConnection, type PostgresConnectionOptions, types } from './connection.js';
import { migrate } from './migrate.js';
import { storeError } from './pg-error.js';
import { createControl } from './read-store-control.js';
import { createLeases } from './read-store-leases.js';
import { createReader, Generations, type PostgresReader } from './read-store-reader.js';
import { physicalTable, READ_STORE_MIGRATIONS, tablesOfGeneration } from './read-store-schema.js';
import { createTranslator, literal } from './read-store-sql.js';
import { type PostgresReadTx, readTx, Transaction } from './read-store-tx.js';

export type PostgresReadStoreOptions = PostgresConnectionOptions & {
  /**
   * How long a fenced transaction may sit idle between its statements (a handler awaiting something else) before
   * the server ends its session. While it is open it holds its lease row, so this bounds how long a stuck worker can
   * keep another from taking its projections over. Default 5000 ms.
   */
  idleInTransactionTimeoutMs?: number;
};

export type PostgresReadStore = ProjectionStore<PostgresReadTx, PostgresReader> & {
  readonly leases: ProjectionLeases;
  /** Control requests, kept in the store's schema: a PostgreSQL read store always has them. */
  readonly control: ProjectionControl;
  /** The schema holding the store's tables. */
  readonly schema: string;
};

type Row = {
  name: string;
  version: number;
  generation: number;
  position: number;
  last_generation: number;
  rebuild_generation: number | null;
  rebuild_version: number | null;
  rebuild_position: number | null;
  failure: ProjectionFailure | null;
};

type SkipRow = { position: number; event_id: string; type: string; failure: ProjectionFailure; skipped_at: Date };

const toRecord = (row: Row): ProjectionRecord => {
  const record: ProjectionRecord = { name: row.name, version: row.version, generation: row.generation, position: row.position };
  if (row.rebuild_generation !== null) {
    record.rebuild = { generation: row.rebuild_generation, version: row.rebuild_version!, position: row.rebuild_position! };
  }
  if (row.failure !== null) record.failure = row.failure;
  return record;
};

function assertPosition(what: string, value: unknown): void {
  if (!Number.isSafeInteger(value) || (value as number) < 0) {
    throw new ChronicleError('INVALID_ARGUMENT', `${what} must be a non-negative integer; got ${String(value)}`);
  }
}

/**
 * Opens a PostgreSQL read store; its tables are created in `schema` on first use.
 * @throws INVALID_ARGUMENT bad options (the store's methods then throw STORE_ERROR when the server cannot be reached)
 */
export function createPostgresReadStore(options: PostgresReadStoreOptions): PostgresReadStore {
  const connection: Connection = openConnection(options, 'createPostgresReadStore');
  const { pool, schema, schemaName } = connection;
  const idleMs = options.idleInTransactionTimeoutMs ?? 5000;
  if (!Number.isSafeInteger(idleMs) || idleMs < 0) {
    throw new ChronicleError(
      'INVALID_ARGUMENT',
      'createPostgresReadStore: idleInTransactionTimeoutMs must be a non-negative integer',
    );
  }
  const translate = createTranslator();
  const generations = new Generations(pool, schema);

  let closed = false;
  let migrated: Promise<void> | undefined;
  const inFlight = new Set<Promise<unknown>>();
  const assertOpen = () => {
    if (closed) throw new ChronicleError('CLOSED', 'read store is closed');
  };
  // Every operation: refused once closed, run after the migrations, awaited by close().
  function guard<T>(work: () => Promise<T>): Promise<T> {
    const run = async () => {
      assertOpen();
      migrated ??= migrate(connection, 'read', READ_STORE_MIGRATIONS).catch((err: unknown) => {
        migrated = undefined;
        throw err;
      });
      await migrated;
      return work();
    };
    const promise = run();
    inFlight.add(promise);
    promise.then(
      () => inFlight.delete(promise),
      () => inFlight.delete(promise),
    );
    return promise;
  }

  // The store's own one-statement queries, with driver errors as STORE_ERROR.
  async function select<R extends pg.QueryResultRow>(what: string, config: pg.QueryConfig): Promise<R[]> {
    try {
      return (await pool.query<R>({ ...config, types })).rows;
    } catch (err) {
      throw storeError(err, what);
    }
  }

  const q = (text: string) => `${schema}.${text}`;

  // The first statement of every write: the search path handlers' unqualified names resolve in, then the fence
  // (lease row FOR SHARE), then the checkpoint compare-and-set (projection row FOR UPDATE), in one SELECT.
  function guardSql(name: string, fence: Fence | undefined, checkpoint?: { generation: number; to: number; after?: number }) {
    const calls = [`set_config('search_path', ${literal(schema)}, true)`];
    if (fence) {
      if (idleMs > 0) calls.push(`set_config('idle_in_transaction_session_timeout', '${idleMs}', true)`);
      calls.push(`${q('chronicle_fence')}(${literal(name)}, ${literal(fence.owner)}, ${literal(fence.token)})`);
    }
    if (checkpoint) {
      const { generation, to, after } = checkpoint;
      calls.push(
        `${q('chronicle_checkpoint')}(${literal(name)}, ${literal(generation)}, ${literal(to)}, ${literal(after ?? null)})`,
      );
    }
    return `SELECT ${calls.join(', ')}`;
  }

  const transaction = (guardText: string, eager = false) => new Transaction({ pool, schema, translate, guard: guardText, eager });

  // tx.table() per projection and generation: names are checked once and reused by every event of every batch.
  const tableNames = new Map<string, (table: string) => string>();
  function tableOf(projection: string, generation: number): (table: string) => string {
    const key = `${projection}#${generation}`;
    let names = tableNames.get(key);
    if (!names) {
      const known = new Map<string, string>();
      names = (table) => {
        let physical = known.get(table);
        if (!physical) {
          assertReadModelName('table', table);
          physical = physicalTable(projection, table, generation);
          known.set(table, physical);
        }
        return physical;
      };
      if (tableNames.size >= 1000) tableNames.clear();
      tableNames.set(key, names);
    }
    return names;
  }

  const fenceOf = (fence: Fence | undefined) => {
    if (fence !== undefined && (typeof fence.owner !== 'string' || !Number.isSafeInteger(fence.token))) {
      throw new ChronicleError('INVALID_ARGUMENT', 'a fence needs an owner string and an integer token');
    }
    return fence;
  };

  // Runs `steps` in a transaction opened by `guardText`, rolling back on any failure; the guard's refusal wins
  // over what the steps made of it.
  async function inTransaction<T>(guardText: string, steps: (t: Transaction) => Promise<T>): Promise<T> {
    const t = transaction(guardText);
    try {
      const result = await steps(t);
      await t.commit();
      return result;
    } catch (err) {
      await t.abandon();
      throw t.refused ?? err;
    }
  }

  async function lockRow(t: Transaction, name: string): Promise<Row | undefined> {
    const rows = await t.read(t.statement(`SELECT * FROM ${q('chronicle_projections')} WHERE name = ? FOR UPDATE`, [name]));
    return rows[0] as Row | undefined;
  }

  // Queues the drop of every table of one generation (indexes go with their tables).
  async function dropGeneration(t: Transaction, projection: string, generation: number): Promise<void> {
    const rows = await t.read(
      t.statement(
        `SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = ? AND c.relkind IN ('r', 'p') AND starts_with(c.relname, ?)`,
        [schemaName, `${projection}__`],
      ),
    );
    const tables = tablesOfGeneration(
      rows.map((r) => r.name as string),
      projection,
      generation,
    );
    if (tables.length > 0) {
      t.run(t.statement(`DROP TABLE IF EXISTS ${tables.map((table) => q(pg.escapeIdentifier(table))).join(', ')} CASCADE`));
    }
  }

  // One attempt at a batch: undefined when it committed, else the error to report, or `replay` when a queued
  // statement failed as the batch was sent (which handler's statement it was is unknown yet).
  async function applyOnce(
    name: string,
    generation: number,
    work: ApplyWork<PostgresReadTx> | undefined,
    guardText: string,
    eager: boolean,
  ): Promise<{ replay: ChronicleError } | undefined> {
    const t = transaction(guardText, eager);
    try {
      if (eager) await t.open();
      if (work) await work(readTx(t, tableOf(name, generation)));
      await t.commit();
      return undefined;
    } catch (err) {
      await t.abandon();
      if (t.refused) throw t.refused;
      if (eager || !t.failure) throw err;
      return { replay: t.failure };
    }
  }

  const store: PostgresReadStore = {
    schema: schemaName,
    leases: createLeases(pool, schema, guard),
    control: createControl(pool, schema, guard),

    load(name) {
      return guard(async () => {
        const rows = await select<Row>('load', {
          text: `SELECT * FROM ${q('chronicle_projections')} WHERE name = $1`,
          values: [name],
        });
        if (rows[0]) generations.set(name, rows[0].generation);
        return rows[0] && toRecord(rows[0]);
      });
    },

    list() {
      return guard(async () => {
        const rows = await select<Row>('list', { text: `SELECT * FROM ${q('chronicle_projections')} ORDER BY name COLLATE "C"` });
        for (const row of rows) generations.set(row.name, row.generation);
        return rows.map(toRecord);
      });
    },

    apply(name, generation, work, checkpoint, after, fence) {
      try {
        assertPosition('checkpoint', checkpoint);
        if (after !== undefined) assertPosition('after', after);
        if (after !== undefined && checkpoint < after) {
          throw new ChronicleError('INVALID_ARGUMENT', `projection ${name}: checkpoint ${checkpoint} is before ${after}`);
        }
        if (!Number.isSafeInteger(generation)) throw new ChronicleError('INVALID_ARGUMENT', 'generation must be an integer');
        fenceOf(fence);
      } catch (err) {
        return Promise.reject(err);
      }
      const guardText = guardSql(name, fence, { generation, to: checkpoint, after });
      return guard(async () => {
        const failed = await applyOnce(name, generation, work, guardText, false);
        if (!failed) return;
        // Run the batch again sending each statement at once, so the failure surfaces from the handler that ran it
        // (the projector then isolates that event). Should it pass this time, it is committed.
        try {
          await applyOnce(name, generation, work, guardText, true);
        } catch (err) {
          if (isChronicleError(err, 'STORE_ERROR') && err.message !== failed.replay.message) {
            err.details.batchError ??= failed.replay.message;
          }
          throw err;
        }
      });
    },

    beginGeneration(name, version, setup, fence) {
      try {
        assertReadModelName('projection', name);
        if (!Number.isSafeInteger(version) || version < 0)
          throw new ChronicleError('INVALID_ARGUMENT', 'version must be an integer');
        fenceOf(fence);
      } catch (err) {
        return Promise.reject(err);
      }
      return guard(() =>
        inTransaction(guardSql(name, fence), async (t) => {
          t.run(t.statement(`INSERT INTO ${q('chronicle_projections')} (name) VALUES (?) ON CONFLICT (name) DO NOTHING`, [name]));
          const row = (await lockRow(t, name))!;
          if (row.rebuild_generation !== null) await dropGeneration(t, name, row.rebuild_generation);
          const generation = row.last_generation + 1;
          if (setup) await setup(readTx(t, tableOf(name, generation)));
          t.run(
            t.statement(
              `UPDATE ${q('chronicle_projections')}
               SET last_generation = ?, rebuild_generation = ?, rebuild_version = ?, rebuild_position = 0 WHERE name = ?`,
              [generation, generation, version, name],
            ),
          );
          return generation;
        }),
      );
    },

    swapGeneration(name, generation, replacing, fence) {
      try {
        fenceOf(fence);
      } catch (err) {
        return Promise.reject(err);
      }
      return guard(async () => {
        await inTransaction(guardSql(name, fence), async (t) => {
          const row = await lockRow(t, name);
          if (!row || row.rebuild_generation !== generation) {
            throw new ChronicleError(
              'CONCURRENCY_CONFLICT',
              `projection ${name}: generation ${generation} is not being rebuilt`,
              {
                details: { projection: name, generation },
              },
            );
          }
          if (replacing !== undefined && row.generation !== replacing) {
            throw new ChronicleError(
              'CONCURRENCY_CONFLICT',
              `projection ${name}: generation ${row.generation} is active, not ${replacing}`,
              { details: { projection: name, generation, expected: replacing, actual: row.generation } },
            );
          }
          if (row.position > row.rebuild_position!) {
            throw new ChronicleError(
              'CONCURRENCY_CONFLICT',
              `projection ${name}: the active checkpoint ${row.position} is past the rebuild's ${row.rebuild_position}`,
              { details: { projection: name, generation, active: row.position, rebuild: row.rebuild_position } },
            );
          }
          if (row.generation > 0) await dropGeneration(t, name, row.generation);
          t.run(
            t.statement(
              `UPDATE ${q('chronicle_projections')}
               SET generation = rebuild_generation, version = rebuild_version, position = rebuild_position,
                   rebuild_generation = NULL, rebuild_version = NULL, rebuild_position = NULL, failure = NULL
               WHERE name = ?`,
              [name],
            ),
          );
        });
        generations.set(name, generation);
      });
    },

    setFailure(name, failure, fence) {
      try {
        fenceOf(fence);
      } catch (err) {
        return Promise.reject(err);
      }
      return guard(() =>
        inTransaction(guardSql(name, fence), async (t) => {
          t.run(
            t.statement(
              `INSERT INTO ${q('chronicle_projections')} (name, failure) VALUES (?, ?::jsonb)
               ON CONFLICT (name) DO UPDATE SET failure = excluded.failure`,
              [name, failure ? JSON.stringify(failure) : null],
            ),
          );
        }),
      );
    },

    skip(name, generation, failure, fence) {
      const { eventId, position, type } = failure ?? ({} as ProjectionFailure);
      try {
        if (eventId === undefined || position === undefined || type === undefined) {
          throw new ChronicleError('INVALID_ARGUMENT', `projection ${name}: the failure names no event to skip`);
        }
        assertPosition('position', position);
        fenceOf(fence);
      } catch (err) {
        return Promise.reject(err);
      }
      const guardText = guardSql(name, fence, { generation, to: position, after: position - 1 });
      return guard(() =>
        inTransaction(guardText, async (t) => {
          t.run(
            t.statement(
              `INSERT INTO ${q('chronicle_projection_skips')} (name, position, event_id, type, failure) VALUES (?, ?, ?, ?, ?::jsonb)`,
              [name, position, eventId, type, JSON.stringify(failure)],
            ),
          );
          t.run(t.statement(`UPDATE ${q('chronicle_projections')} SET failure = NULL WHERE name = ?`, [name]));
        }),
      );
    },

    skipped(name) {
      return guard(async () => {
        const rows = await select<SkipRow>('skipped', {
          text: `SELECT position, event_id, type, failure, skipped_at FROM ${q('chronicle_projection_skips')} WHERE name = $1 ORDER BY id`,
          values: [name],
        });
        return rows.map(
          (r): SkippedEvent => ({
            ...r.failure,
            eventId: r.event_id,
            position: r.position,
            type: r.type,
            skippedAt: r.skipped_at.toISOString(),
          }),
        );
      });
    },

    reader(name) {
      assertReadModelName('projection', name);
      const reader = createReader(name, { pool, schema, generations, translate, guard, assertOpen });
      // Learn the served generation now, so the first table() call most likely answers it rather than a placeholder.
      if (!closed && generations.get(name) === undefined) guard(() => generations.load([name])).catch(() => {});
      return reader;
    },

    async close() {
      if (closed) return;
      closed = true;
      await Promise.allSettled([...inFlight]);
      await connection.end();
    },
  };
  return store;
}
