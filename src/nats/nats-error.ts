// Translates NATS and JetStream failures into ChronicleError, keeping the client's error as `cause`: the one place
// this folder's driver errors become Chronicle codes.
import { ChronicleError, isChronicleError } from 'chronicle-es';

/** The JetStream API error code (e.g. 10058 stream name in use, 10071 wrong last sequence), when the error has one. */
export function jetStreamCode(err: unknown): number | undefined {
  const e = err as { code?: unknown; api_error?: { err_code?: unknown } } | null;
  const code = e?.api_error?.err_code ?? e?.code;
  return typeof code === 'number' ? code : undefined;
}

/** JetStream's code for "stream not found". */
export const STREAM_NOT_FOUND = 10059;
/** JetStream's code for "consumer not found". */
export const CONSUMER_NOT_FOUND = 10014;

/** NOT_FOUND for a stream that does not exist (yet), keeping the client's error as `cause`. */
export function streamMissing(stream: string, cause: unknown): ChronicleError {
  return new ChronicleError('NOT_FOUND', `JetStream stream ${stream} does not exist (is the relay running?)`, {
    cause,
    details: { stream },
  });
}

/** Wraps a client error as STORE_ERROR with `cause` and `details` (operation, JetStream code); a ChronicleError passes through. */
export function natsError(err: unknown, what: string): ChronicleError {
  if (isChronicleError(err)) return err;
  const driver = err as { message?: unknown; name?: unknown } | null;
  const message = typeof driver?.message === 'string' ? driver.message : String(err);
  const details: Record<string, unknown> = { operation: what };
  const code = jetStreamCode(err);
  if (code !== undefined) details.jetStreamCode = code;
  if (typeof driver?.name === 'string') details.natsError = driver.name;
  return new ChronicleError('STORE_ERROR', `nats: ${what}: ${message}`, { cause: err, details });
}
