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

/** True for a UNIQUE/PRIMARY KEY violation reported by better-sqlite3. */
export function isUniqueViolation(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}
