// One read-apply loop over the global log for one generation of a projection: the active one (keeping the served
// tables live) or a rebuild's (catching up from 0). What a batch does to the store is the caller's; the lane only
// walks the log from the generation's checkpoint, one page at a time, and waits at the head.
import type { RecordedEvent } from '../event-store.js';
import type { Page } from './log-pages.js';
import type { ProjectionFailure } from './projection-store.js';

/** Where a lane reads pages of the log (the projector's shared LogPages). */
export type LaneSource = {
  read(from: number): Promise<Page | undefined>;
  wait(from: number): { promise: Promise<void>; cancel: () => void };
};

/** What a lane's owner does for it. */
export type LaneWork = {
  /** The generation's stored checkpoint as last seen; undefined once it is neither active nor rebuilding (ends the lane). */
  checkpoint(lane: Lane): number | undefined;
  /** Applies one page's matching events (maybe none), moving the checkpoint from `after` to `checkpoint`; false ends the lane. */
  batch(lane: Lane, events: readonly RecordedEvent[], checkpoint: number, after: number): Promise<boolean>;
  /** Reading the log failed (the lane ends). */
  readFailed(lane: Lane, err: unknown): Promise<void>;
  /** The lane ended, whatever the reason; called once. */
  ended(lane: Lane): void;
};

// With a synchronous store every step of a catch-up resolves at once: without a turn of the event loop between
// batches, catching up (a rebuild from 0) would keep I/O, and an HTTP server beside it, waiting until the head.
const nextTurn = () =>
  new Promise<void>((resolve) => (typeof setImmediate === 'function' ? setImmediate(resolve) : setTimeout(resolve, 0)));

/**
 * A running loop. Retiring it lets the batch in flight finish; it also ends by itself once its generation is gone
 * (swapped out, or replaced by a newer rebuild) or a batch says so (the projection failed or lost its lease).
 */
export class Lane {
  /** Retired: it starts no further batch. */
  stopped = false;
  /** Why it stopped on a failure; the owner sets it. */
  failure: ProjectionFailure | undefined;
  /** Settles (never rejects) once the loop and its bookkeeping are over. */
  readonly done: Promise<void>;
  private wake: () => void = () => {};

  constructor(
    readonly generation: number,
    source: LaneSource,
    types: ReadonlySet<string>,
    work: LaneWork,
  ) {
    this.done = this.run(source, types, work)
      .catch(async (err: unknown) => {
        if (!this.stopped && !this.failure) await work.readFailed(this, err);
      })
      .finally(() => work.ended(this));
  }

  /** Stops after the batch in flight; wakes it if it waits at the head. */
  retire(): void {
    this.stopped = true;
    this.wake();
  }

  private async run(source: LaneSource, types: ReadonlySet<string>, work: LaneWork): Promise<void> {
    while (!this.stopped) {
      // Read afresh each time: a batch, a swap or a reload after a conflict may have moved it.
      const at = work.checkpoint(this);
      if (at === undefined) return;
      const page = await source.read(at + 1);
      if (this.stopped) return;
      // A reload while the page was read (another projector advanced it) makes the page start in the wrong place.
      if (work.checkpoint(this) !== at) continue;
      if (!page) {
        const waiting = source.wait(at + 1);
        this.wake = waiting.cancel;
        if (this.stopped) return;
        await waiting.promise;
        continue;
      }
      // The page is every event; the checkpoint still moves past those this projection does not handle.
      const events = page.events.filter((e) => types.has(e.type));
      if (!(await work.batch(this, events, page.checkpoint, at))) return;
      await nextTurn();
    }
  }
}
