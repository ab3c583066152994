// The SQLite read store: projections' tables in generations, each batch and its checkpoint in one
// transaction, on one long-lived better-sqlite3 connection in WAL mode.
import type Database from 'better-sqlite3';
import {
  type ApplyWork,
  assertReadModelName,
  ChronicleError,
  type ProjectionControl,
  type ProjectionFailure,
  type ProjectionRecord,
  type ProjectionStore,
  type SkippedEvent,
} from 'chronicle-es';
import { openDatabase } from './open-database.js';
import { sqliteControl } from './read-store-control.js';
import { checkReadStore, migrateReadStore, physicalTable, tablesOfGeneration } from './read-store-schema.js';
import { assertAsideReason, setAsideFile } from './set-aside-file.js';
import { readStoreError } from './sqlite-error.js';

export type SqliteReadStoreOptions = {
  /** Database file (created if missing); by default a separate file from the event store. `':memory:'` for tests. */
  path: string;
  /**
   * `'normal'` (default): survives kill -9; after a power loss the last batches may be lost, but each batch and its
   * checkpoint go together, so they are simply applied again. `'full'` also survives power loss; `'off'` neither.
   */
  synchronous?: 'full' | 'normal' | 'off';
  /** How long a write waits for another process holding the file's write lock. Default 5000 ms. */
  busyTimeoutMs?: number;
  /** Run SQLite's quick check over the file when opening it (linear in its size). Default true. */
  quickCheck?: boolean;
  /**
   * Called once (until {@link SqliteReadStore.setAside}) when the file is found damaged by a statement; from then on
   * every statement fails with READ_STORE_CORRUPT, since nothing read from the file can be trusted. Called
   * synchronously inside the failing call: schedule the recovery, do not run it here.
   */
  onCorrupt?: (error: ChronicleError) => void;
  /**
   * Overwrite deleted and replaced rows in the file (SQLite's `secure_delete`): a read model that anonymises personal
   * data (a forgotten customer) then leaves no old copy in the file's free space. The WAL keeps old page versions
   * until its next checkpoint. Default false.
   */
  secureDelete?: boolean;
};

/** Positional (`?`) or named (`@name`) parameters. */
export type SqliteParams = readonly unknown[] | Readonly<Record<string, unknown>>;

/**
 * What SQLite handlers write with, inside the batch's transaction. Driver errors become STORE_ERROR with the SQL,
 * or READ_STORE_CORRUPT when the file is damaged.
 */
export type SqliteReadTx = {
  /** Which engine runs the statements, as on every SqlReadTx: SQLite's dialect. */
  readonly dialect: 'sqlite';
  run(sql: string, params?: SqliteParams): { changes: number };
  get<T = Record<string, unknown>>(sql: string, params?: SqliteParams): T | undefined;
  all<T = Record<string, unknown>>(sql: string, params?: SqliteParams): T[];
  /** The quoted physical name of a logical table (or index) in the generation being written, e.g. `"orders__items__g3"`. */
  table(name: string): string;
};

/**
 * What query handlers read with: the active generation, resolved at each `table()` call (cached, and checked
 * against commits by other connections on the file, so a swap made elsewhere is seen at the next call). Read-only statements
 * only. While an async handler's transaction is open, reads on the same store see its uncommitted rows.
 */
export type SqliteReader = {
  readonly dialect: 'sqlite';
  get<T = Record<string, unknown>>(sql: string, params?: SqliteParams): T | undefined;
  all<T = Record<string, unknown>>(sql: string, params?: SqliteParams): T[];
  /** @throws NOT_FOUND before the projection's first generation exists; INVALID_ARGUMENT bad name */
  table(name: string): string;
};

export type SqliteReadStore = ProjectionStore<SqliteReadTx, SqliteReader> & {
  /** Control requests, kept in the same file: a SQLite read store always has them. */
  readonly control: ProjectionControl;
  /** The database file this store writes. */
  readonly path: string;
  /** The READ_STORE_CORRUPT every statement fails with since the file was found damaged; undefined while sound. */
  corruption(): ChronicleError | undefined;
  /**
   * Closes the file, moves it (with its -wal and -shm) aside as `<path>.<reason>-<timestamp>` and opens a fresh,
   * empty store at `path`. The store object and its readers go on, on the new file; projectors writing here must be
   * stopped first and started again after (every projection starts over from 0). Returns where the old file went
   * (undefined for `':memory:'`). @throws STORE_ERROR (the store is then closed), CLOSED, INVALID_ARGUMENT bad reason
   */
  setAside(reason?: string): Promise<string | undefined>;
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
  failure: string | null;
};

type SkipRow = { position: number; event_id: string; type: string; message: string; failed_at: string; skipped_at: string };

const MAX_CACHED_STATEMENTS = 1000;
const RECENT_STATEMENTS = 4;

const toRecord = (row: Row): ProjectionRecord => {
  const record: ProjectionRecord = { name: row.name, version: row.version, generation: row.generation, position: row.position };
  if (row.rebuild_generation !== null) {
    record.rebuild = { generation: row.rebuild_generation, version: row.rebuild_version!, position: row.rebuild_position! };
  }
  if (row.failure !== null) record.failure = JSON.parse(row.failure) as ProjectionFailure;
  return record;
};

const isThenable = (value: unknown): value is PromiseLike<unknown> =>
  (typeof value === 'object' || typeof value === 'function') &&
  value !== null &&
  typeof (value as { then?: unknown }).then === 'function';

const notWritten = (name: string, generation: number) =>
  new ChronicleError('CONCURRENCY_CONFLICT', `projection ${name}: generation ${generation} is not being written`, {
    details: { projection: name, generation },
  });

/**
 * Opens (creating if needed) a SQLite read store.
 * @throws INVALID_ARGUMENT bad options; READ_STORE_CORRUPT when the file is damaged (it fails the quick check, or is
 * not a database); STORE_ERROR when the file cannot be opened or migrated
 */
export function createSqliteReadStore(options: SqliteReadStoreOptions): SqliteReadStore {
  const {
    path,
    synchronous = 'normal',
    busyTimeoutMs = 5000,
    quickCheck = true,
    onCorrupt,
    secureDelete = false,
  } = options ?? ({} as SqliteReadStoreOptions);
  const open = () =>
    openDatabase({
      path,
      synchronous,
      allowed: ['full', 'normal', 'off'],
      busyTimeoutMs,
      translate: readStoreError,
      migrate(db) {
        if (secureDelete) db.pragma('secure_delete = ON');
        if (quickCheck) checkReadStore(db);
        migrateReadStore(db);
      },
    });
  let db = open();

  // Once SQLite reports damage, every later statement fails the same way: pages it has not read yet may be damaged
  // too, and a projection writing on over them could commit rows read from garbage.
  let corruption: ChronicleError | undefined;
  function failed(err: unknown, sql: string): ChronicleError {
    const error = readStoreError(err, sql);
    if (error.code === 'READ_STORE_CORRUPT' && !corruption) {
      corruption = error;
      try {
        onCorrupt?.(error);
      } catch {
        // The listener's failure is its own; the statement still reports the damage.
      }
    }
    return error;
  }
  const assertSound = (sql: string) => {
    if (corruption) {
      throw new ChronicleError('READ_STORE_CORRUPT', `read store ${path} is damaged: ${corruption.message}`, {
        cause: corruption,
        details: { sql },
      });
    }
  };

  // Statements are prepared once per SQL text; handlers' SQL repeats with every event.
  const cache = new Map<string, Database.Statement>();
  // Handlers build their SQL string anew for every event, and hashing a long fresh string for the Map costs several
  // times more than comparing it with the few statements used last (different lengths compare in no time).
  const recentSql: string[] = [];
  const recentStmt: Database.Statement[] = [];
  function prepare(sql: string): Database.Statement {
    assertSound(sql);
    for (let i = 0; i < recentSql.length; i++) if (recentSql[i] === sql) return recentStmt[i];
    let stmt = cache.get(sql);
    if (!stmt) {
      try {
        stmt = db.prepare(sql);
      } catch (err) {
        throw failed(err, sql);
      }
      if (cache.size >= MAX_CACHED_STATEMENTS) forget(() => true);
      cache.set(sql, stmt);
    }
    recentSql.unshift(sql);
    recentStmt.unshift(stmt);
    if (recentSql.length > RECENT_STATEMENTS) {
      recentSql.pop();
      recentStmt.pop();
    }
    return stmt;
  }
  function forget(which: (sql: string) => boolean): void {
    for (const sql of cache.keys()) if (which(sql)) cache.delete(sql);
    recentSql.length = 0;
    recentStmt.length = 0;
  }
  function exec<R>(sql: string, params: SqliteParams | undefined, call: (stmt: Database.Statement, args: unknown[]) => R): R {
    const stmt = prepare(sql);
    try {
      return call(stmt, params === undefined ? [] : Array.isArray(params) ? params : [params]);
    } catch (err) {
      throw failed(err, sql);
    }
  }
  const run = (sql: string, params?: SqliteParams) => ({ changes: exec(sql, params, (s, a) => s.run(...a).changes) });
  const get = <T>(sql: string, params?: SqliteParams) => exec(sql, params, (s, a) => s.get(...a) as T | undefined);
  const all = <T>(sql: string, params?: SqliteParams) => exec(sql, params, (s, a) => s.all(...a) as T[]);

  // Readers' table() resolves the active generation of a projection on every call; the answer is cached per
  // projection. This connection's own swaps (and setAside) drop it directly; a commit by any other connection on the
  // file (another process's projector swapping a rebuild in) changes PRAGMA data_version, which is checked before each
  // use of the cache and empties it: a far cheaper statement than reading the projections table again.
  const generations = new Map<string, number>();
  let dataVersionStmt: Database.Statement | undefined;
  let dataVersion: unknown;
  function activeGeneration(name: string): number | undefined {
    assertSound('PRAGMA data_version');
    let version: unknown;
    try {
      dataVersionStmt ??= db.prepare('PRAGMA data_version').pluck();
      version = dataVersionStmt.get();
    } catch (err) {
      throw failed(err, 'PRAGMA data_version');
    }
    if (version !== dataVersion) {
      generations.clear();
      dataVersion = version;
    }
    let generation = generations.get(name);
    if (generation === undefined) {
      generation = get<{ generation: number }>('SELECT generation FROM chronicle_projections WHERE name = ?', [name])?.generation;
      if (generation) generations.set(name, generation);
    }
    return generation;
  }
  const forgetGenerations = () => {
    generations.clear();
    dataVersionStmt = undefined;
    dataVersion = undefined;
  };

  const selectRow = (name: string) => get<Row>('SELECT * FROM chronicle_projections WHERE name = ?', [name]);
  const ensureRow = (name: string) =>
    run('INSERT INTO chronicle_projections (name) VALUES (?) ON CONFLICT (name) DO NOTHING', [name]);
  // A compare-and-set when `after` is given: two projectors sharing this file both read a batch, and only the one
  // whose expected checkpoint still holds may commit it. Checked first, inside the transaction, so the loser runs no work.
  const setCheckpoint = (name: string, generation: number, checkpoint: number, after: number | undefined) => {
    const { changes } = run(
      `UPDATE chronicle_projections SET
         position = CASE WHEN generation = @generation THEN @checkpoint ELSE position END,
         rebuild_position = CASE WHEN rebuild_generation = @generation THEN @checkpoint ELSE rebuild_position END
       WHERE name = @name AND @generation > 0 AND (
         (generation = @generation AND (@after IS NULL OR position = @after))
         OR (rebuild_generation = @generation AND (@after IS NULL OR rebuild_position = @after)))`,
      { name, generation, checkpoint, after: after ?? null },
    );
    if (changes === 1) return;
    const row = selectRow(name);
    const actual =
      row && generation > 0
        ? row.generation === generation
          ? row.position
          : row.rebuild_generation === generation
            ? row.rebuild_position
            : null
        : null;
    if (actual === null) throw notWritten(name, generation);
    throw new ChronicleError(
      'CONCURRENCY_CONFLICT',
      `projection ${name}: checkpoint of generation ${generation} is ${actual}, not ${after}`,
      {
        details: { projection: name, generation, expected: after, actual },
      },
    );
  };

  const txs = new Map<string, SqliteReadTx>();
  function txFor(projection: string, generation: number): SqliteReadTx {
    const key = `${projection}#${generation}`;
    let tx = txs.get(key);
    if (!tx) {
      const names = new Map<string, string>();
      tx = {
        dialect: 'sqlite',
        run,
        get,
        all,
        table(name) {
          let physical = names.get(name);
          if (!physical) {
            assertReadModelName('table', name);
            physical = physicalTable(projection, name, generation);
            names.set(name, physical);
          }
          return physical;
        },
      };
      txs.set(key, tx);
    }
    return tx;
  }

  function dropGeneration(projection: string, generation: number): void {
    const tables = all<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table'").map((t) => t.name);
    for (const table of tablesOfGeneration(tables, projection, generation)) {
      run(`DROP TABLE IF EXISTS "${table}"`);
      forget((sql) => sql.includes(table));
    }
    txs.delete(`${projection}#${generation}`);
  }

  // One connection means one transaction at a time; an async handler holds it across awaits.
  let busy: Promise<void> | undefined;
  let closed = false;
  async function exclusive<T>(work: () => T | PromiseLike<T>): Promise<T> {
    while (busy) await busy;
    if (closed) throw new ChronicleError('CLOSED', 'read store is closed');
    // IMMEDIATE takes the write lock up front, so another process's writer makes us wait (busy timeout), never deadlock.
    run('BEGIN IMMEDIATE');
    let release: (() => void) | undefined;
    try {
      let result = work();
      if (isThenable(result)) {
        busy = new Promise((resolve) => {
          release = resolve;
        });
        result = await result;
      }
      run('COMMIT');
      return result as T;
    } catch (err) {
      try {
        if (db.inTransaction) db.exec('ROLLBACK');
      } catch (rollback) {
        // A damaged file may fail the rollback too: note the damage, but report the error that got us here.
        failed(rollback, 'ROLLBACK');
      }
      throw err;
    } finally {
      if (release) {
        busy = undefined;
        release();
      }
    }
  }

  const assertOpen = () => {
    if (closed) throw new ChronicleError('CLOSED', 'read store is closed');
  };

  return {
    path,
    control: sqliteControl({ run, get, all, write: exclusive, assertOpen }),
    corruption: () => corruption,
    async setAside(reason = 'corrupt') {
      assertAsideReason(reason);
      while (busy) await busy;
      assertOpen();
      forget(() => true);
      forgetGenerations();
      txs.clear();
      try {
        db.close();
      } catch {
        // Closing checkpoints the WAL into the file, which may fail on a damaged one; the WAL moves aside with it.
      }
      try {
        const aside = setAsideFile(path, reason);
        db = open();
        corruption = undefined;
        return aside;
      } catch (err) {
        closed = true;
        throw err;
      }
    },
    async load(name) {
      assertOpen();
      const row = selectRow(name);
      return row && toRecord(row);
    },
    async list() {
      assertOpen();
      return all<Row>('SELECT * FROM chronicle_projections ORDER BY name').map(toRecord);
    },
    apply(name, generation, work: ApplyWork<SqliteReadTx> | undefined, checkpoint, after) {
      if (after !== undefined && !(checkpoint >= after)) {
        return Promise.reject(
          new ChronicleError('INVALID_ARGUMENT', `projection ${name}: checkpoint ${checkpoint} is before ${after}`),
        );
      }
      return exclusive(() => {
        setCheckpoint(name, generation, checkpoint, after);
        if (work) return work(txFor(name, generation));
      });
    },
    async beginGeneration(name, version, setup) {
      assertReadModelName('projection', name);
      return exclusive(() => {
        ensureRow(name);
        const row = selectRow(name)!;
        if (row.rebuild_generation !== null) dropGeneration(name, row.rebuild_generation);
        const generation = row.last_generation + 1;
        const record = () => {
          run(
            `UPDATE chronicle_projections
             SET last_generation = @generation, rebuild_generation = @generation, rebuild_version = @version, rebuild_position = 0
             WHERE name = @name`,
            { name, generation, version },
          );
          return generation;
        };
        // A portable setup awaits its statements: the generation is recorded, and committed, only once it is done.
        const ran = setup?.(txFor(name, generation));
        return isThenable(ran) ? ran.then(record) : record();
      });
    },
    swapGeneration(name, generation, replacing) {
      return exclusive(() => {
        const row = selectRow(name);
        if (!row || row.rebuild_generation !== generation) {
          throw new ChronicleError('CONCURRENCY_CONFLICT', `projection ${name}: generation ${generation} is not being rebuilt`, {
            details: { projection: name, generation },
          });
        }
        if (replacing !== undefined && row.generation !== replacing) {
          throw new ChronicleError(
            'CONCURRENCY_CONFLICT',
            `projection ${name}: generation ${row.generation} is active, not ${replacing}`,
            {
              details: { projection: name, generation, expected: replacing, actual: row.generation },
            },
          );
        }
        if (row.position > row.rebuild_position!) {
          throw new ChronicleError(
            'CONCURRENCY_CONFLICT',
            `projection ${name}: the active checkpoint ${row.position} is past the rebuild's ${row.rebuild_position}`,
            { details: { projection: name, generation, active: row.position, rebuild: row.rebuild_position } },
          );
        }
        generations.delete(name);
        if (row.generation > 0) dropGeneration(name, row.generation);
        run(
          `UPDATE chronicle_projections
           SET generation = rebuild_generation, version = rebuild_version, position = rebuild_position,
               rebuild_generation = NULL, rebuild_version = NULL, rebuild_position = NULL, failure = NULL
           WHERE name = ?`,
          [name],
        );
      });
    },
    setFailure(name, failure) {
      return exclusive(() => {
        ensureRow(name);
        run('UPDATE chronicle_projections SET failure = ? WHERE name = ?', [failure ? JSON.stringify(failure) : null, name]);
      });
    },
    skip(name, generation, failure) {
      const { eventId, position, type } = failure;
      if (eventId === undefined || position === undefined || type === undefined) {
        return Promise.reject(new ChronicleError('INVALID_ARGUMENT', `projection ${name}: the failure names no event to skip`));
      }
      return exclusive(() => {
        setCheckpoint(name, generation, position, position - 1);
        run(
          `INSERT INTO chronicle_projection_skips (name, position, event_id, type, message, failed_at, skipped_at)
           VALUES (?, ?, ?, ?, ?, ?, ?)`,
          [name, position, eventId, type, failure.message, failure.at, new Date().toISOString()],
        );
        run('UPDATE chronicle_projections SET failure = NULL WHERE name = ?', [name]);
      });
    },
    async skipped(name): Promise<SkippedEvent[]> {
      assertOpen();
      return all<SkipRow>('SELECT * FROM chronicle_projection_skips WHERE name = ? ORDER BY id', [name]).map((r) => ({
        message: r.message,
        eventId: r.event_id,
        position: r.position,
        type: r.type,
        at: r.failed_at,
        skippedAt: r.skipped_at,
      }));
    },
    reader(name) {
      const readOnly = <R>(
        sql: string,
        params: SqliteParams | undefined,
        call: (s: Database.Statement, a: unknown[]) => R,
      ): R => {
        assertOpen();
        if (!prepare(sql).readonly)
          throw new ChronicleError('INVALID_ARGUMENT', 'a reader runs read-only statements only', { details: { sql } });
        return exec(sql, params, call);
      };
      return {
        dialect: 'sqlite',
        get: <T>(sql: string, params?: SqliteParams) => readOnly(sql, params, (s, a) => s.get(...a) as T | undefined),
        all: <T>(sql: string, params?: SqliteParams) => readOnly(sql, params, (s, a) => s.all(...a) as T[]),
        table(table) {
          assertOpen();
          assertReadModelName('table', table);
          const generation = activeGeneration(name);
          if (!generation) {
            throw new ChronicleError('NOT_FOUND', `projection ${name} has no tables yet`, { details: { projection: name } });
          }
          return physicalTable(name, table, generation);
        },
      };
    },
    async close() {
      if (closed) return;
      while (busy) await busy;
      closed = true;
      forget(() => true);
      forgetGenerations();
      db.close();
    },
  };
}
