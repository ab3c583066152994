// A small migration runner for the write tables of a state-stored model: plain SQL files, run in name order, each in
// its own transaction with its record, so a file is applied entirely or not at all.
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ChronicleError } from '../errors.js';
import { splitSql } from './split-sql.js';
import { andThen, type MaybePromise, type StateStoredStore, type WriteTx } from './state-stored-store.js';

/** One migration: a name (its order) and its SQL, one or more statements. */
export type SqlMigration = { name: string; sql: string };

export type RunMigrationsOptions = {
  store: StateStoredStore<WriteTx>;
  /** The migrations, in any order: they run in name order. */
  migrations: readonly SqlMigration[];
  /** The table recording applied migrations (created if missing). Default `write_migrations` (the event store keeps its own schema versions apart). */
  table?: string;
};

/** What a run did. */
export type MigrationsResult = {
  /** Names applied by this run, in order. */
  applied: string[];
  /** Names found already applied (by this runner or another). */
  skipped: string[];
};

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,199}$/;
const TABLE = /^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)?$|^"[a-z_][a-z0-9_]*"\.[A-Za-z_][A-Za-z0-9_]*$/;

/** The `.sql` files of a directory as migrations, named by file name. @throws STORE_ERROR when it cannot be read */
export async function sqlMigrationsIn(directory: string): Promise<SqlMigration[]> {
  try {
    const names = (await readdir(directory)).filter((n) => n.endsWith('.sql')).sort();
    return await Promise.all(names.map(async (name) => ({ name, sql: await readFile(join(directory, name), 'utf8') })));
  } catch (err) {
    throw new ChronicleError('STORE_ERROR', `cannot read migrations in ${directory}: ${(err as Error).message}`, { cause: err });
  }
}

const checksumOf = (sql: string) => createHash('sha256').update(sql).digest('hex');

/**
 * Applies the migrations not yet recorded, in name order, each in one transaction with its record (name, checksum,
 * time). Concurrent runners are serialised (PostgreSQL: a transaction-scoped advisory lock per record table; SQLite:
 * the write lock), so each file is applied once. Stops at the first failure: that file is rolled back, the ones
 * before it stay applied.
 * @throws INVALID_ARGUMENT malformed names or table, a name twice, an applied file whose checksum changed (nothing
 *   after it runs); STORE_ERROR from a failing statement (`details.migration` names the file)
 */
export async function runMigrations(options: RunMigrationsOptions): Promise<MigrationsResult> {
  const { store } = options;
  const table = options.table ?? 'write_migrations';
  if (typeof table !== 'string' || !TABLE.test(table)) {
    throw new ChronicleError('INVALID_ARGUMENT', `migration table must be an identifier, got ${JSON.stringify(table)}`);
  }
  if (!Array.isArray(options.migrations)) throw new ChronicleError('INVALID_ARGUMENT', 'migrations must be an array');
  const seen = new Set<string>();
  for (const m of options.migrations) {
    if (typeof m?.name !== 'string' || !NAME.test(m.name) || typeof m.sql !== 'string') {
      throw new ChronicleError('INVALID_ARGUMENT', `a migration needs a file-like name and SQL, got ${JSON.stringify(m?.name)}`);
    }
    if (seen.has(m.name)) throw new ChronicleError('INVALID_ARGUMENT', `migration ${m.name} is given twice`);
    seen.add(m.name);
  }
  const migrations = [...options.migrations].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

  // Every transaction of a run takes the same lock first: a second runner waits, then sees what the first recorded.
  const locked = <T>(tx: WriteTx, then: () => MaybePromise<T>): MaybePromise<T> =>
    tx.dialect === 'postgres'
      ? andThen(tx.run('SELECT pg_advisory_xact_lock(hashtext(?))', [`chronicle-migrations:${table}`]), then)
      : then();

  await store.transact((tx) =>
    locked(tx, () =>
      andThen(
        tx.run(`CREATE TABLE IF NOT EXISTS ${table} (name TEXT PRIMARY KEY, checksum TEXT NOT NULL, applied_at TEXT NOT NULL)`),
        () => [],
      ),
    ),
  );

  const result: MigrationsResult = { applied: [], skipped: [] };
  for (const migration of migrations) {
    const checksum = checksumOf(migration.sql);
    let applied = false;
    await store.transact((tx) =>
      locked(tx, () =>
        andThen(tx.get<{ checksum: string }>(`SELECT checksum FROM ${table} WHERE name = ?`, [migration.name]), (row) => {
          if (row !== undefined) {
            if (row.checksum !== checksum) {
              throw new ChronicleError(
                'INVALID_ARGUMENT',
                `migration ${migration.name} changed since it was applied (checksum ${row.checksum}, now ${checksum}): add a new file instead`,
                { details: { migration: migration.name } },
              );
            }
            return [];
          }
          applied = true;
          return andThen(runAll(tx, migration), () =>
            andThen(
              tx.run(`INSERT INTO ${table} (name, checksum, applied_at) VALUES (?, ?, ?)`, [
                migration.name,
                checksum,
                new Date().toISOString(),
              ]),
              () => [],
            ),
          );
        }),
      ),
    );
    (applied ? result.applied : result.skipped).push(migration.name);
  }
  return result;
}

// The statements one after another, synchronously where the store answers at once (SQLite's group commit).
function runAll(tx: WriteTx, migration: SqlMigration): MaybePromise<void> {
  const statements = splitSql(migration.sql);
  const step = (i: number): MaybePromise<void> => {
    if (i === statements.length) return;
    let ran: MaybePromise<unknown>;
    try {
      ran = tx.run(statements[i]);
    } catch (err) {
      throw failed(err, migration, i);
    }
    if (ran instanceof Promise) {
      return ran.then(
        () => step(i + 1),
        (err) => {
          throw failed(err, migration, i);
        },
      );
    }
    return step(i + 1);
  };
  return step(0);
}

function failed(err: unknown, migration: SqlMigration, statement: number): ChronicleError {
  const message = err instanceof Error ? err.message : String(err);
  return new ChronicleError('STORE_ERROR', `migration ${migration.name}, statement ${statement + 1}: ${message}`, {
    cause: err,
    details: { migration: migration.name, statement: statement + 1 },
  });
}
