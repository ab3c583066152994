// Catch-up-then-live subscription over any store's readAll: the one loop every adapter shares.
import type { AppendSignal } from './append-signal.js';
import { ChronicleError } from './errors.js';
import type { EventStore, SubscribeOptions, Subscription, SubscriptionHandler } from './event-store.js';
import { matchesFilter, normalizeReadAll } from './store-kit.js';

/**
 * Reads pages of the global log after the last delivered position and hands them to `handler`,
 * waiting on `signal` (in-process appends) or `pollIntervalMs` (other processes) when caught up.
 * Pages are read unfiltered so the checkpoint can advance past events a filter drops.
 */
export function createPollingSubscription(
  readAll: EventStore['readAll'],
  signal: AppendSignal,
  options: SubscribeOptions,
  handler: SubscriptionHandler,
): Subscription {
  const { from, filter } = normalizeReadAll({ from: options.from, filter: options.filter });
  const batchSize = options.batchSize ?? 500;
  const pollIntervalMs = options.pollIntervalMs ?? 200;
  if (!Number.isSafeInteger(batchSize) || batchSize <= 0) {
    throw new ChronicleError('INVALID_ARGUMENT', 'batchSize must be a positive integer');
  }
  let stopped = false;
  // Wakes the current idle wait. A fresh promise per wait: racing every poll against one long-lived
  // "stop" promise would pile a reaction onto it per poll for the subscription's whole life.
  let wakeIdle: (() => void) | undefined;
  const idle = () =>
    new Promise<void>((resolve) => {
      wakeIdle = resolve;
      signal.wait(pollIntervalMs).then(resolve);
    });

  const run = async () => {
    let next = from;
    while (!stopped) {
      const page = await readAll({ from: next, limit: batchSize });
      if (stopped) break;
      if (page.length === 0) {
        await idle();
        wakeIdle = undefined;
        continue;
      }
      const checkpoint = page[page.length - 1].position;
      const events = filter ? page.filter((e) => matchesFilter(e, filter)) : page;
      await handler(events, checkpoint);
      next = checkpoint + 1;
    }
  };

  const done = run();
  // Keep an unobserved failure from crashing the process; callers observe it through `done`.
  done.catch(() => {});
  return {
    done,
    async stop() {
      stopped = true;
      wakeIdle?.();
      await done.catch(() => {});
    },
  };
}
