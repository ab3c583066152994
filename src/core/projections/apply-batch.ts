// One batch of events into the read store together with its checkpoint. When a handler fails, the events before the
// culprit are committed on their own, so only the culprit is left for an operator to retry or skip; when a runBatch
// cuts its batch short, the events it acted on are committed on their own and the rest come in the next batch.
import type { RecordedEvent } from '../event-store.js';
import { projectionBatchChannel, traced } from '../telemetry/channels.js';
import type { ProjectionBatchTrace } from '../telemetry/trace-types.js';
import type { BatchContext, Projection } from './define-projection.js';
import { failureAt } from './projection-failure.js';
import type { Fence, ProjectionFailure, ProjectionStore } from './projection-store.js';
import { BatchCut, HandlerFailure, runHandlers } from './run-handlers.js';

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
  projection: Pick<Projection<Tx>, 'name' | 'handlers' | 'runBatch' | 'upcast'>,
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
  projection: Pick<Projection<Tx>, 'name' | 'handlers' | 'runBatch' | 'upcast'>,
  generation: number,
  events: readonly RecordedEvent[],
  checkpoint: number,
  after: number,
  fence: Fence | undefined,
  context: BatchContext,
): Promise<BatchOutcome> {
  const { name, handlers, runBatch, upcast } = projection;
  const handle = runBatch
    ? (batch: readonly RecordedEvent[], tx: Tx, batchContext: BatchContext) => runBatch(batch, tx, batchContext)
    : (batch: readonly RecordedEvent[], tx: Tx) => runHandlers(handlers, batch, tx);
  // Upcast inside the work, so an event that cannot be read as its current shape fails like its handler would.
  const run = upcast
    ? (batch: readonly RecordedEvent[], tx: Tx, batchContext: BatchContext) => handle(upcastAll(batch, upcast), tx, batchContext)
    : handle;
  try {
    await store.apply(
      name,
      generation,
      events.length === 0 ? undefined : (tx) => run(events, tx, context),
      checkpoint,
      after,
      fence,
    );
    return { committed: checkpoint };
  } catch (err) {
    if (!(err instanceof HandlerFailure || err instanceof BatchCut)) throw err;
    let stop: HandlerFailure | BatchCut = err;
    for (;;) {
      const k = stop.index;
      const before = events.slice(0, k);
      const committed = events[k].position - 1;
      // After a cut the events before it were acted on: they are applied again only to rebuild the same state.
      const again =
        stop instanceof BatchCut
          ? { replayThrough: Math.max(context.replayThrough, k === 0 ? 0 : events[k - 1].position) }
          : context;
      try {
        await store.apply(name, generation, k === 0 ? undefined : (tx) => run(before, tx, again), committed, after, fence);
        return stop instanceof HandlerFailure ? { committed, failure: failureAt(stop.error, events[k]) } : { committed };
      } catch (next) {
        // A handler that fails (or a batch cut) earlier on the second run (not deterministic) is the culprit instead.
        if ((next instanceof HandlerFailure || next instanceof BatchCut) && next.index < k) stop = next;
        else throw next;
      }
    }
  }
}

// The batch in its current shape. @throws HandlerFailure naming the first event that cannot be upcast
function upcastAll(events: readonly RecordedEvent[], upcast: (event: RecordedEvent) => RecordedEvent): RecordedEvent[] {
  return events.map((event, i) => {
    try {
      return upcast(event);
    } catch (err) {
      throw new HandlerFailure(i, err);
    }
  });
}
