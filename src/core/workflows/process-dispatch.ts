// How a process manager's commands go out: refusals told apart from transient failures, the latter retried with
// exponential backoff, and at most so many in flight at once (enough for the SQLite store's group commit to turn
// them into a few transactions, bounded so a huge batch does not open thousands of appends at once).
import { isChronicleError } from '../errors.js';
import type { RetryOptions } from './workflow-types.js';

/** Codes that mean a business rule (or the command itself) refused it: retrying would only be refused again. */
export const REFUSAL_CODES: ReadonlySet<string> = new Set([
  'DOMAIN_RULE',
  'VALIDATION_FAILED',
  'FORBIDDEN',
  'UNAUTHENTICATED',
  'UNKNOWN_MESSAGE',
  'NOT_FOUND',
  'STREAM_DELETED',
  'IDEMPOTENCY_MISMATCH',
  'INVALID_ARGUMENT',
]);

/** Whether `err` is a refusal (see REFUSAL_CODES) rather than a transient failure. */
export function isRefusal(err: unknown): err is Error & { code: string } {
  return isChronicleError(err) && REFUSAL_CODES.has(err.code);
}

/** The wait before try `attempt + 1` (attempt counts from 1): doubling from initialDelayMs, capped at maxDelayMs. */
export function backoffDelay(retry: Required<RetryOptions>, attempt: number): number {
  return Math.min(retry.maxDelayMs, retry.initialDelayMs * 2 ** (attempt - 1));
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Runs `send` until it succeeds, is refused, or has failed transiently `retry.attempts` times.
 * @throws the refusal at once; the last transient failure when the attempts ran out
 */
export async function withRetry<T>(retry: Required<RetryOptions>, send: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await send();
    } catch (err) {
      if (isRefusal(err) || attempt >= retry.attempts) throw err;
      await sleep(backoffDelay(retry, attempt));
    }
  }
}

/** Most commands a process manager has in flight at once. */
export const MAX_IN_FLIGHT = 256;

/**
 * Runs every chain (an ordered list of steps, e.g. one process's commands) concurrently, each chain's steps one after
 * the other, with at most `limit` chains running at once. A chain whose step throws stops there; once one has, no
 * further chain starts. Resolves with every failure once the running chains are done.
 */
export async function runChains(chains: readonly (() => Promise<void>)[], limit = MAX_IN_FLIGHT): Promise<unknown[]> {
  const failures: unknown[] = [];
  let next = 0;
  const worker = async () => {
    while (failures.length === 0 && next < chains.length) {
      const chain = chains[next++];
      try {
        await chain();
      } catch (err) {
        failures.push(err);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, chains.length) }, worker));
  return failures;
}
