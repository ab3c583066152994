// Translates better-sqlite3 failures into ChronicleError, keeping the driver error and the statement.
import { ChronicleError, isChronicleError } from 'chronicle-es';

/** Wraps a driver error as STORE_ERROR with `cause` and `details.sql`; a ChronicleError passes through unchanged. */
export function storeError(err: unknown, sql: string): ChronicleError {
  if (isChronicleError(err)) return err;
  const driver = err as { message?: unknown; code?: unknown };
  const message = typeof driver?.message === 'string' ? driver.message : String(err);
  const details: Record<string, unknown> = { sql };
  if (typeof driver?.code === 'string') details.sqliteCode = driver.code;
  return new ChronicleError('STORE_ERROR', `sqlite: ${message}`, { cause: err, details });
}

/**
 * Like {@link storeError}, but a damaged file (SQLITE_CORRUPT and its extended codes, SQLITE_NOTADB) becomes
 * READ_STORE_CORRUPT: a read store is disposable and is rebuilt from the event log, which a client can wait for.
 * Only the read store uses this; a damaged event store stays a STORE_ERROR, since nothing can rebuild it.
 */
export function readStoreError(err: unknown, sql: string): ChronicleError {
  if (!isCorruption(err)) return storeError(err, sql);
  const driver = err as { message?: unknown; code: string };
  const message = typeof driver.message === 'string' ? driver.message : String(err);
  return new ChronicleError('READ_STORE_CORRUPT', `sqlite: ${message}`, {
    cause: err,
    details: { sql, sqliteCode: driver.code },
  });
}

/** True when better-sqlite3 reports the database file as damaged or not a database at all. */
export function isCorruption(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return (
    typeof code === 'string' && (code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT' || code.startsWith('SQLITE_CORRUPT_'))
  );
}

/** True for a UNIQUE/PRIMARY KEY violation reported by better-sqlite3. */
export function isUniqueViolation(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}
