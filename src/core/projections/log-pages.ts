// One reader of the global log for all of a projector's projections. Projections at the same checkpoint ask for
// the same page, so each page is read and parsed once and served from a small cache to every projection
// positioned in it; projections caught up at the head wait on one shared doorbell instead of polling each.
import type { EventSource, RecordedEvent, Subscription } from '../event-store.js';

/** Every event of the log from the position asked for up to `checkpoint`, in position order. */
export type Page = { events: readonly RecordedEvent[]; checkpoint: number };

type Cached = { from: number; events: readonly RecordedEvent[]; checkpoint: number };

// Enough for projections a few batches apart (handlers of different cost) to keep sharing reads.
const MAX_PAGES = 8;

// Thrown out of the doorbell's handler to end its subscription once it has rung.
const RANG = new Error('doorbell rang');

export class LogPages {
  // Oldest first.
  private readonly cache: Cached[] = [];
  private readonly reading = new Map<number, Promise<Page | undefined>>();
  // Highest position any read has seen: a waiter behind it has events to read and must not wait.
  private seen = 0;
  private doorbell: Subscription | undefined;
  private readonly waiters = new Set<() => void>();

  /** `lowWater` is the lowest position a reader still needs: pages wholly before it are dropped. */
  constructor(
    private readonly store: EventSource,
    private readonly batchSize: number,
    private readonly pollIntervalMs: number,
    private readonly lowWater: () => number,
  ) {}

  /** At most one batch of events from `from` (inclusive) on; undefined when there are none yet. */
  read(from: number): Promise<Page | undefined> {
    this.prune();
    const hit = this.cached(from);
    if (hit) return Promise.resolve(hit);
    let pending = this.reading.get(from);
    if (!pending) {
      pending = this.store.readAll({ from, limit: this.batchSize }).then(
        (events) => {
          this.reading.delete(from);
          if (events.length === 0) {
            // Whatever was seen past `from` is not readable (yet): waiting must not return at once, or it would spin.
            this.seen = Math.min(this.seen, from - 1);
            return undefined;
          }
          const page = { from, events, checkpoint: events[events.length - 1].position };
          this.remember(page);
          return page;
        },
        (err: unknown) => {
          this.reading.delete(from);
          throw err;
        },
      );
      this.reading.set(from, pending);
    }
    return pending;
  }

  /**
   * Resolves once events at or after `from` may exist (or at `cancel`). One doorbell subscription, started at the
   * position the first waiter needs, rings for all of them; each then reads again.
   */
  wait(from: number): { promise: Promise<void>; cancel: () => void } {
    if (this.seen >= from) return { promise: Promise.resolve(), cancel: () => {} };
    if (!this.doorbell) this.ring(from);
    let wake!: () => void;
    const promise = new Promise<void>((resolve) => {
      wake = () => {
        this.waiters.delete(wake);
        resolve();
      };
    });
    this.waiters.add(wake);
    return { promise, cancel: wake };
  }

  /** Stops the doorbell and wakes every waiter. */
  stop(): void {
    const doorbell = this.doorbell;
    this.doorbell = undefined;
    void doorbell?.stop();
    this.wakeAll();
    this.cache.length = 0;
  }

  private ring(from: number): void {
    // One event is enough to know the head moved; waiters then read whole pages through the cache.
    const doorbell = this.store.subscribe({ from, batchSize: 1, pollIntervalMs: this.pollIntervalMs }, (_events, checkpoint) => {
      this.seen = Math.max(this.seen, checkpoint);
      throw RANG;
    });
    this.doorbell = doorbell;
    doorbell.done.then(
      () => {},
      (err: unknown) => {
        if (this.doorbell !== doorbell) return;
        this.doorbell = undefined;
        // A failed read: waiters read again after a pause and meet the error themselves if it persists.
        if (err === RANG) this.wakeAll();
        else setTimeout(() => this.wakeAll(), this.pollIntervalMs).unref?.();
      },
    );
  }

  private wakeAll(): void {
    for (const wake of [...this.waiters]) wake();
  }

  private cached(from: number): Page | undefined {
    for (const page of this.cache) {
      if (page.from > from || page.checkpoint < from) continue;
      if (page.from === from) return page;
      // A page read from earlier covers every event from `from` to its end too.
      let lo = 0;
      let hi = page.events.length - 1;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (page.events[mid].position < from) lo = mid + 1;
        else hi = mid;
      }
      return { events: page.events.slice(lo), checkpoint: page.checkpoint };
    }
    return undefined;
  }

  // Pages die young this way, as they did with one reader per projection, instead of aging into the old generation.
  private prune(): void {
    if (this.cache.length === 0) return;
    const low = this.lowWater();
    for (let i = this.cache.length - 1; i >= 0; i--) if (this.cache[i].checkpoint < low) this.cache.splice(i, 1);
  }

  private remember(page: Cached): void {
    this.seen = Math.max(this.seen, page.checkpoint);
    this.cache.push(page);
    if (this.cache.length > MAX_PAGES) {
      // Drop the page furthest behind: the projections still needing it are the ones lagging most anyway.
      let oldest = 0;
      for (let i = 1; i < this.cache.length; i++) if (this.cache[i].checkpoint < this.cache[oldest].checkpoint) oldest = i;
      this.cache.splice(oldest, 1);
    }
  }
}
