// Translates node-postgres failures into ChronicleError, keeping the driver error and its SQLSTATE.
import { ChronicleError, isChronicleError } from 'chronicle-es';

/** SQLSTATE (`err.code`) of a driver error, if it has one. */
export function sqlState(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/** 23505: a unique or primary-key constraint was violated. */
export const isUniqueViolation = (err: unknown) => sqlState(err) === '23505';

/** 40001/40P01: serialization failure or deadlock, worth running the transaction again. */
export const isRetryable = (err: unknown) => {
  const code = sqlState(err);
  return code === '40001' || code === '40P01';
};

/** Wraps a driver error as STORE_ERROR with `cause` and `details.sqlState`; a ChronicleError passes through unchanged. */
export function storeError(err: unknown, what: string): ChronicleError {
  if (isChronicleError(err)) return err;
  const driver = err as { message?: unknown };
  const message = typeof driver?.message === 'string' ? driver.message : String(err);
  const details: Record<string, unknown> = { operation: what };
  const state = sqlState(err);
  if (state) details.sqlState = state;
  return new ChronicleError('STORE_ERROR', `postgres: ${what}: ${message}`, { cause: err, details });
}
