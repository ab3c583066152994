// What the process managers and the scheduler share about a command that did not go through: whether a business rule
// refused it (recorded, never retried) or it failed for a reason that may pass (retried with backoff), the retry
// settings' checks, and a wait that ends early when its work is stopped.
import { ChronicleError, isChronicleError } from '../errors.js';
import type { RetryOptions } from './workflow-types.js';

/**
 * Codes that mean the command was refused on its merits: a business rule (DOMAIN_RULE), its payload (VALIDATION_FAILED),
 * or the entity it names (NOT_FOUND, STREAM_DELETED). Sending it again would be refused again. Everything else —
 * conflicts, store errors, and configuration faults such as UNKNOWN_MESSAGE (a worker whose bus lacks the handler,
 * mid-deploy) or FORBIDDEN (a policy that does not admit the workflows' principal) — is retried and, if it persists,
 * stops the process on its event (or holds the schedule) for an operator, rather than being recorded as the business's
 * answer.
 */
export const REFUSAL_CODES: ReadonlySet<string> = new Set(['DOMAIN_RULE', 'VALIDATION_FAILED', 'NOT_FOUND', 'STREAM_DELETED']);

/** Whether `err` is a refusal (see REFUSAL_CODES) rather than a failure that may pass. */
export function isRefusal(err: unknown): err is ChronicleError {
  return isChronicleError(err) && REFUSAL_CODES.has(err.code);
}

/** Longest timer Node keeps (a longer one fires at once). */
export const MAX_DELAY_MS = 2 ** 31 - 1;

/** `options` with defaults filled in. @throws INVALID_ARGUMENT (naming `what`) attempts not a positive integer, delays not within 0…2^31-1 ms, or maxDelayMs below initialDelayMs */
export function retrySettings(what: string, options: RetryOptions | undefined): Required<RetryOptions> {
  const retry = {
    attempts: options?.attempts ?? 5,
    initialDelayMs: options?.initialDelayMs ?? 50,
    maxDelayMs: options?.maxDelayMs ?? 2000,
  };
  const bad = (why: string) => new ChronicleError('INVALID_ARGUMENT', `${what}: ${why}`);
  if (!Number.isSafeInteger(retry.attempts) || retry.attempts < 1) throw bad('retry.attempts must be a positive integer');
  const inRange = (ms: number) => typeof ms === 'number' && ms >= 0 && ms <= MAX_DELAY_MS;
  if (!inRange(retry.initialDelayMs) || !inRange(retry.maxDelayMs) || retry.maxDelayMs < retry.initialDelayMs) {
    throw bad(`retry delays must be between 0 and ${MAX_DELAY_MS} ms, maxDelayMs ≥ initialDelayMs`);
  }
  return retry;
}

/** The wait before try `attempt + 1` (attempt counts from 1): doubling from initialDelayMs, capped at maxDelayMs. */
export function backoffDelay(retry: Required<RetryOptions>, attempt: number): number {
  return Math.min(retry.maxDelayMs, retry.initialDelayMs * 2 ** (attempt - 1));
}

/** Resolves true after `ms`, or false at once when `signal` aborts (or had). */
export function pause(ms: number, signal?: AbortSignal): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const done = (completed: boolean) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      resolve(completed);
    };
    const onAbort = () => done(false);
    const timer = setTimeout(() => done(true), Math.min(ms, MAX_DELAY_MS));
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
