// Runs a batch through a projection's handlers, staying synchronous until a handler returns a
// promise, so a synchronous read store can commit the whole batch without yielding.
import type { RecordedEvent } from '../event-store.js';
import type { ProjectionHandler } from './define-projection.js';

/** A handler threw; `index` is the failing event's place in the batch. */
export class HandlerFailure extends Error {
  constructor(
    readonly index: number,
    readonly error: unknown,
  ) {
    super(error instanceof Error ? error.message : String(error));
    this.name = 'HandlerFailure';
  }
}

/**
 * A projection's `runBatch` acted on the events before `index` only and left the rest for the next batch (it ran out
 * of time, or is stopping): not a failure. The batch is applied again with only those events, as a replay of what
 * was already acted on (`replayThrough` covers them), and the projection goes on after them.
 */
export class BatchCut extends Error {
  constructor(readonly index: number) {
    super(`batch cut before event ${index}`);
    this.name = 'BatchCut';
  }
}

/** Applies `events` in order; rejects or throws HandlerFailure naming the first event whose handler failed. */
export function runHandlers<Tx>(
  handlers: Readonly<Record<string, ProjectionHandler<Tx>>>,
  events: readonly RecordedEvent[],
  tx: Tx,
  from = 0,
): void | Promise<void> {
  for (let i = from; i < events.length; i++) {
    const event = events[i];
    let result: unknown;
    try {
      result = handlers[event.type](event, tx);
    } catch (err) {
      throw new HandlerFailure(i, err);
    }
    if (result !== undefined && typeof (result as Promise<void>).then === 'function') {
      return (result as Promise<void>).then(
        () => runHandlers(handlers, events, tx, i + 1),
        (err: unknown) => {
          throw new HandlerFailure(i, err);
        },
      );
    }
  }
}
