// Translates ioredis failures into ChronicleError, keeping the client's error as `cause`: the one place this folder's
// driver errors become Chronicle codes.
import { ChronicleError, isChronicleError } from 'chronicle-es';

/**
 * Wraps a client error (a server reply error, a lost connection, retries given up) as STORE_ERROR with `cause` and
 * `details` (the operation, the client's error name, the Redis command); a ChronicleError passes through unchanged.
 */
export function redisError(err: unknown, operation: string): ChronicleError {
  if (isChronicleError(err)) return err;
  const driver = err as { message?: unknown; name?: unknown; command?: { name?: unknown } } | null;
  const message = typeof driver?.message === 'string' ? driver.message : String(err);
  const details: Record<string, unknown> = { operation };
  if (typeof driver?.name === 'string') details.redisError = driver.name;
  // Only the command's name: its arguments carry a whole batch of rows.
  if (typeof driver?.command?.name === 'string') details.command = driver.command.name;
  return new ChronicleError('STORE_ERROR', `redis: ${operation}: ${message}`, { cause: err, details });
}

/**
 * Parses JSON the store wrote; text that is not JSON (only something else writing under the store's prefix leaves
 * it) is STORE_ERROR naming `what`, with `details`. @throws STORE_ERROR
 */
export function parseStored<T>(json: string, what: string, details?: Record<string, unknown>): T {
  try {
    return JSON.parse(json) as T;
  } catch (err) {
    throw new ChronicleError('STORE_ERROR', `redis: ${what} is not JSON`, { cause: err, details });
  }
}

/** True when the server answered that it does not know a script's SHA1 (flushed, restarted, or a fresh replica). */
export function isNoScript(err: unknown): boolean {
  const message = (err as { message?: unknown } | null)?.message;
  return typeof message === 'string' && message.startsWith('NOSCRIPT');
}
