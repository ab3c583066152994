// How a process manager's requests go out: transient failures retried with backoff (refusals at once to the caller),
// at most so many chains in flight at once (enough for the SQLite store's group commit to turn them into a few
// transactions, bounded so a huge batch does not open thousands of appends at once), and no item started once the
// batch's time is spent, it is stopping, or an earlier item failed: what did not start is left for the next batch.

import { backoffDelay, isRefusal, pause } from './workflow-failures.js';
import type { RetryOptions } from './workflow-types.js';

/** A wait between retries ended because the work was stopped: the request did not go through, nor fail. */
export class SendStopped extends Error {
  constructor(readonly last: unknown) {
    super('stopped while waiting to retry');
    this.name = 'SendStopped';
  }
}

/**
 * Runs `send` until it succeeds, is refused, or has failed transiently `retry.attempts` times.
 * @throws the refusal at once; the last transient failure when the attempts ran out; SendStopped when `signal` aborts
 * a wait between tries
 */
export async function withRetry<T>(retry: Required<RetryOptions>, send: () => Promise<T>, signal?: AbortSignal): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await send();
    } catch (err) {
      if (isRefusal(err) || attempt >= retry.attempts) throw err;
      if (!(await pause(backoffDelay(retry, attempt), signal))) throw new SendStopped(err);
    }
  }
}

/** Most chains a process manager has in flight at once. */
export const MAX_IN_FLIGHT = 256;

/** One step of a chain: the place in the batch of the event it carries out, and the work. */
export type ChainItem = { index: number; run: () => Promise<void> };

/**
 * How the chains went: the earliest failure, and `cut`, the lowest index of an item that did not finish (not started,
 * or stopped by SendStopped); every item below `cut` finished unless it failed.
 */
export type ChainsOutcome = { failure?: { index: number; error: unknown }; cut?: number };

/**
 * Runs every chain (e.g. one process's items, in event order) concurrently, each chain's items one after the other,
 * at most `limit` chains at once. An item starts only if `mayStart(index)` and no item before it failed; a chain stops
 * at the first item that does not start, fails or is stopped.
 */
export async function runChains(
  chains: readonly (readonly ChainItem[])[],
  mayStart: (index: number) => boolean,
  limit = MAX_IN_FLIGHT,
): Promise<ChainsOutcome> {
  let failure: ChainsOutcome['failure'];
  let cut = Number.POSITIVE_INFINITY;
  let next = 0;
  const worker = async () => {
    while (next < chains.length) {
      for (const item of chains[next++]) {
        if ((failure && item.index > failure.index) || !mayStart(item.index)) {
          cut = Math.min(cut, item.index);
          break;
        }
        try {
          await item.run();
        } catch (error) {
          if (error instanceof SendStopped) cut = Math.min(cut, item.index);
          else if (!failure || item.index < failure.index) failure = { index: item.index, error };
          break;
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, chains.length) }, worker));
  return { ...(failure && { failure }), ...(cut !== Number.POSITIVE_INFINITY && { cut }) };
}
