// One batch of events into the read store together with its checkpoint. When a handler fails, the events before the
// culprit are committed on their own, so only the culprit is left for an operator to retry or skip.
import type { RecordedEvent } from '../event-store.js';
import { projectionBatchChannel, traced } from '../telemetry/channels.js';
import type { ProjectionBatchTrace } from '../telemetry/trace-types.js';
import type { BatchContext, Projection } from './define-projection.js';
import { failureAt } from './projection-failure.js';
import type { Fence, ProjectionFailure, ProjectionStore } from './projection-store.js';
import { HandlerFailure, runHandlers } from './run-handlers.js';

/** The checkpoint committed, and the failure of the event just after it when a handler threw. */
export type BatchOutcome = { committed: number; failure?: ProjectionFailure };

/**
 * Applies `events` to `generation` and moves its checkpoint from `after` to `checkpoint`, all in one transaction.
 * `after` is the checkpoint the page was read from: the store's compare-and-set must find exactly that, or the batch
 * would be applied over a checkpoint another loop or projector has since moved.
 * @throws whatever the store throws except a handler's failure (CONCURRENCY_CONFLICT, LEASE_LOST, STORE_ERROR…)
 */
export function applyBatch<Tx>(
  store: ProjectionStore<Tx, unknown>,
  projection: Pick<Projection<Tx>, 'name' | 'handlers' | 'runBatch'>,
  generation: number,
  events: readonly RecordedEvent[],
  checkpoint: number,
  after: number,
  fence: Fence | undefined,
  context: BatchContext = { replayThrough: 0 },
): Promise<BatchOutcome> {
  const trace = (): ProjectionBatchTrace => ({
    projection: projection.name,
    generation,
    events: events.length,
    after,
    checkpoint,
    writers: writersOf(events),
  });
  return traced(projectionBatchChannel, trace, () =>
    applyUntraced(store, projection, generation, events, checkpoint, after, fence, context),
  );
}

// Links are bounded: a batch of thousands of events from as many commands links to the first 128 writers.
const MAX_LINKS = 128;

function writersOf(events: readonly RecordedEvent[]): string[] {
  const writers = new Set<string>();
  for (const e of events) {
    const t = e.metadata?.traceparent;
    if (typeof t === 'string') writers.add(t);
    if (writers.size === MAX_LINKS) break;
  }
  return [...writers];
}

async function applyUntraced<Tx>(
  store: ProjectionStore<Tx, unknown>,
  projection: Pick<Projection<Tx>, 'name' | 'handlers' | 'runBatch'>,
  generation: number,
  events: readonly RecordedEvent[],
  checkpoint: number,
  after: number,
  fence: Fence | undefined,
  context: BatchContext = { replayThrough: 0 },
): Promise<BatchOutcome> {
  const { name, handlers, runBatch } = projection;
  const run = runBatch
    ? (batch: readonly RecordedEvent[], tx: Tx) => runBatch(batch, tx, context)
    : (batch: readonly RecordedEvent[], tx: Tx) => runHandlers(handlers, batch, tx);
  try {
    await store.apply(name, generation, events.length === 0 ? undefined : (tx) => run(events, tx), checkpoint, after, fence);
    return { committed: checkpoint };
  } catch (err) {
    if (!(err instanceof HandlerFailure)) throw err;
    let failure = err;
    for (;;) {
      const k = failure.index;
      const before = events.slice(0, k);
      const committed = events[k].position - 1;
      try {
        await store.apply(name, generation, k === 0 ? undefined : (tx) => run(before, tx), committed, after, fence);
        return { committed, failure: failureAt(failure.error, events[k]) };
      } catch (again) {
        // A handler that fails earlier on the second run (not deterministic) is the culprit instead.
        if (again instanceof HandlerFailure && again.index < k) failure = again;
        else throw again;
      }
    }
  }
}
