// Which NATS failures the JetStream source waits out (the server restarting, a reconnect in progress) rather than
// reports to the projector as a failed read, and how long it waits between attempts.
import { isChronicleError } from 'chronicle-es';

// Client errors that say "not now" rather than "never": the connection is down or reconnecting, a request timed out,
// or JetStream is not answering yet after a restart.
const TRANSIENT_NAMES = new Set(['TimeoutError', 'NoResponders', 'NoRespondersError', 'ConnectionError', 'RequestError']);

/** True when `err` is a NATS failure likely to pass by itself (a restart, a reconnect), so trying again later is right. */
export function isTransient(err: unknown): boolean {
  if (isChronicleError(err)) return isChronicleError(err, 'STORE_ERROR') && isTransient(err.cause);
  const e = err as { name?: unknown; message?: unknown; status?: unknown; cause?: unknown } | null;
  if (typeof e !== 'object' || e === null) return false;
  if (typeof e.name === 'string' && TRANSIENT_NAMES.has(e.name)) return true;
  // A pull that lost its heartbeats (the server went away mid-fetch), or JetStream saying it is not ready (5xx).
  if (e.name === 'JetStreamError' && typeof e.message === 'string' && /heartbeat|no responders/i.test(e.message)) return true;
  if (e.name === 'JetStreamStatusError' || e.name === 'JetStreamApiError') return typeof e.status === 'number' && e.status >= 500;
  return e.cause !== undefined && e.cause !== err && isTransient(e.cause);
}

/** Wait before attempt `attempt` (0-based) of something that failed: 100 ms doubling to 5 s, with ±20% jitter. */
export function backoffMs(attempt: number): number {
  const base = Math.min(5000, 100 * 2 ** Math.min(attempt, 10));
  return Math.round(base * (0.8 + Math.random() * 0.4));
}
