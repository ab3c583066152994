// The fire loop: on the worker where the scheduler's projection runs, read what is due, oldest first, and fire it
// concurrently; sleep until the next due time or the poll interval, woken early when the projection applies a
// schedule due sooner or when a full round's firings free room for more.
import type { AlongsideContext } from '../projections/define-projection.js';
import { errorOf, type Firing, type FiringError, fireSchedule } from './schedule-firing.js';
import type { PendingSchedule, ScheduleTable } from './schedule-table.js';
import { pause } from './workflow-failures.js';
import type { RetryOptions, WorkflowDeps } from './workflow-types.js';

export type FireLoopOptions = {
  pollIntervalMs: number;
  batchSize: number;
  /** Longest wait on stop for the firings in flight. */
  stopTimeoutMs: number;
  retry: Required<RetryOptions>;
};

/** A schedule whose command failed transiently through every attempt; it is tried again after `retryAt`. */
export type FailingSchedule = { key: string; version: number; error: FiringError; at: string; retryAt: string };

/** The latest failure of the loop: a schedule's (with its key and version) or the read store's (without). */
export type ScheduleError = FiringError & { key?: string; version?: number; at: string };

// A hinted schedule may be read before the batch that applied it commits (PostgreSQL commits after the handlers):
// look again a few times, sooner than the poll interval, before leaving it to the poll.
const HINT_TRIES = 5;
const HINT_RETRY_MS = 10;

const idOf = (s: PendingSchedule) => `${s.version}\n${s.key}`;

type Turn = { reader: unknown; signal: AbortSignal };

export class FireLoop {
  private turn: Turn | undefined;
  // The one loop running at a time (a scheduler's projection given to two projectors in one process runs twice).
  private queue: Promise<void> = Promise.resolve();
  private readonly inFlight = new Map<string, Promise<Firing>>();
  // Fired but still in the table until the projection applies what the log says.
  private readonly handled = new Set<string>();
  // Found no longer pending in the log (cancelled, replaced or fired elsewhere, the stream deleted, a foreign event
  // last), still in the table: left out of the counts here, and dropped by the projection's next batch (a row whose
  // stream was deleted or ends in a foreign event has no event of its own to remove it).
  private readonly stale = new Map<string, PendingSchedule>();
  private readonly holds = new Map<string, FailingSchedule & { until: number }>();
  private lastFailure: ScheduleError | undefined;
  private sleeper: { timer: NodeJS.Timeout; wakeAt: number; done: () => void } | undefined;
  // Set while a round runs: the next sleep is cut short.
  private soon = false;
  private hint: number | undefined;
  private hintTries = 0;
  // The last round left due rows behind (no room, or it read as many rows as it asked for).
  private more = false;
  // When the last round began, on the workflows clock and in real time: a clock that stood still while real time
  // passed (a test's hand-moved clock) says nothing about how long to sleep.
  private lastRound: { clock: number; real: number } | undefined;

  constructor(
    private readonly deps: WorkflowDeps,
    private readonly table: ScheduleTable,
    private readonly options: FireLoopOptions,
  ) {}

  /** Whether the projection runs here (the loop has a turn). */
  get running(): boolean {
    return this.turn !== undefined;
  }

  /** Schedules that failed through every attempt and wait for a later round, and the latest such failure. */
  failures(): { failing: FailingSchedule[]; lastError?: ScheduleError } {
    const failing = [...this.holds.values()].map(({ until: _until, ...f }) => f);
    return this.lastFailure ? { failing, lastError: this.lastFailure } : { failing };
  }

  /** The projection's `alongside`: loops until `signal` aborts, then waits for the firings in flight. */
  async run({ signal, reader }: AlongsideContext): Promise<void> {
    const previous = this.queue;
    let release!: () => void;
    const mine = new Promise<void>((resolve) => {
      release = resolve;
    });
    this.queue = previous.then(() => mine);
    try {
      await untilEither(previous, signal);
      if (signal.aborted) return;
      await this.loop({ reader, signal });
    } finally {
      release();
    }
  }

  /** Rows this worker found no longer pending in the log that the table still holds. */
  staleRows(): PendingSchedule[] {
    return [...this.stale.values()];
  }

  /** The projection applied a schedule due at `dueMs`: wake the loop then if it would sleep past it. */
  noteDue(dueMs: number): void {
    if (!this.turn) return;
    if (this.hint === undefined || dueMs < this.hint) {
      this.hint = dueMs;
      this.hintTries = 0;
    }
    this.rearm(Math.max(dueMs - this.deps.clock(), 0));
  }

  /**
   * One round now: fires what is due and waits for it, joining firings of due rows already in flight, so everything
   * due when it was called has been tried once it resolves (rows fired before and not yet gone from the table are
   * not tried again). Resolves with how many of the firings it waited for fired; 0 when the projection does not run here.
   */
  async fireDue(): Promise<number> {
    const turn = this.turn;
    if (!turn) return 0;
    const { started, joined } = await this.startDue(turn);
    const firings = await Promise.all([...started, ...joined]);
    return firings.filter((f) => f.fired).length;
  }

  private async loop(turn: Turn): Promise<void> {
    this.turn = turn;
    const { signal } = turn;
    try {
      while (!signal.aborted) {
        this.soon = false;
        let delay = this.options.pollIntervalMs;
        try {
          const now = this.deps.clock();
          const real = Date.now();
          const still = this.lastRound !== undefined && now === this.lastRound.clock && real > this.lastRound.real;
          this.lastRound = { clock: now, real };
          const { started } = await this.startDue(turn);
          delay = await this.plan(turn, now, started.length, still);
        } catch (err) {
          // The read store failed (the projection reports it too); the next poll tries again.
          this.lastFailure = { ...errorOf(err), at: new Date(this.deps.clock()).toISOString() };
        }
        if (this.soon) delay = 0;
        await this.sleep(delay, signal);
      }
    } finally {
      // A command that never answers must not hold the projector's stop: after the bound it is let go (its firing,
      // if it ever answers, is still recorded; if not, the next worker sends it again under the same key).
      const bound = new AbortController();
      await Promise.race([Promise.allSettled([...this.inFlight.values()]), pause(this.options.stopTimeoutMs, bound.signal)]);
      // The bound's timer must not keep the process alive once the firings have settled.
      bound.abort();
      this.turn = undefined;
      this.lastRound = undefined;
      // Another worker fires from here on; what it sees is the log and its own table.
      this.handled.clear();
      this.stale.clear();
      this.holds.clear();
      this.hint = undefined;
    }
  }

  // Starts firing the due rows not in flight, not fired yet and not held, up to the batch size in flight.
  private async startDue(turn: Turn): Promise<{ started: Promise<Firing>[]; joined: Promise<Firing>[] }> {
    const now = this.deps.clock();
    const room = this.options.batchSize - this.inFlight.size;
    if (room <= 0) return { started: [], joined: [...this.inFlight.values()] };
    const limit = room + this.inFlight.size + this.handled.size + this.stale.size + this.holds.size;
    const rows = await this.table.due(turn.reader, now, limit);
    this.more = rows.length >= limit;
    if (!this.more) {
      // Every due row was read: an id handled or held that is not among them has left the table.
      const present = new Set(rows.map(idOf));
      for (const id of this.handled) if (!present.has(id)) this.handled.delete(id);
      for (const id of this.stale.keys()) if (!present.has(id)) this.stale.delete(id);
      for (const id of this.holds.keys()) if (!present.has(id)) this.holds.delete(id);
    }
    const started: Promise<Firing>[] = [];
    const joined: Promise<Firing>[] = [];
    for (const row of rows) {
      const id = idOf(row);
      const inFlight = this.inFlight.get(id);
      if (inFlight) joined.push(inFlight);
      if (inFlight || this.handled.has(id) || this.stale.has(id) || (this.holds.get(id)?.until ?? now) > now) continue;
      if (turn.signal.aborted) continue;
      // Due but no room left this round: fetch it as soon as the firings in flight make room.
      if (started.length >= room) this.more = true;
      else started.push(this.start(id, row, turn));
    }
    return { started, joined };
  }

  private start(id: string, row: PendingSchedule, turn: Turn): Promise<Firing> {
    const firing = fireSchedule(row, { deps: this.deps, retry: this.options.retry, signal: turn.signal }).then((f) => {
      this.inFlight.delete(id);
      if (f.fired) {
        this.handled.add(id);
        this.holds.delete(id);
      } else if (f.reason === 'stale') {
        this.stale.set(id, row);
        this.holds.delete(id);
      } else if (f.reason === 'failed') {
        const now = this.deps.clock();
        const until = now + this.options.retry.maxDelayMs;
        const at = new Date(now).toISOString();
        this.holds.set(id, {
          key: row.key,
          version: row.version,
          error: f.error,
          at,
          retryAt: new Date(until).toISOString(),
          until,
        });
        this.lastFailure = { ...f.error, key: row.key, version: row.version, at };
      }
      // A full round left rows behind: fetch them once there is room, not a poll interval later.
      if (this.more && this.inFlight.size <= this.options.batchSize / 2) this.rearm(0);
      return f;
    });
    this.inFlight.set(id, firing);
    return firing;
  }

  // How long to sleep after a round that started at `now`: until the next due time, a hint, a hold's end or the poll.
  // Times ahead are in clock ms, slept in real ms; under a clock that stands still (`still`) only the poll wakes it.
  private async plan(turn: Turn, now: number, started: number, still: boolean): Promise<number> {
    let delay = this.options.pollIntervalMs;
    if (this.more && this.inFlight.size < this.options.batchSize) delay = 0;
    const ahead = (at: number) => {
      if (!still) delay = Math.min(delay, Math.max(at - now, 1));
    };
    const next = await this.table.nextDueAfter(turn.reader, now);
    if (next !== undefined) ahead(next);
    for (const hold of this.holds.values()) {
      if (hold.until > now) ahead(hold.until);
      else if (this.inFlight.size < this.options.batchSize) delay = 0;
    }
    if (this.hint !== undefined) {
      if (this.hint > now) ahead(this.hint);
      else if (started > 0 || this.hintTries >= HINT_TRIES) this.hint = undefined;
      else delay = Math.min(delay, HINT_RETRY_MS * 2 ** this.hintTries++);
    }
    return Math.ceil(delay);
  }

  private sleep(ms: number, signal: AbortSignal): Promise<void> {
    if (signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(this.sleeper?.timer);
        this.sleeper = undefined;
        signal.removeEventListener('abort', done);
        resolve();
      };
      signal.addEventListener('abort', done, { once: true });
      this.sleeper = { timer: setTimeout(done, ms), wakeAt: Date.now() + ms, done };
    });
  }

  // Wakes the loop in `ms` if it sleeps longer than that; during a round, the next sleep is cut short instead.
  private rearm(ms: number): void {
    const sleeper = this.sleeper;
    if (!sleeper) {
      if (ms === 0) this.soon = true;
      return;
    }
    if (Date.now() + ms >= sleeper.wakeAt) return;
    clearTimeout(sleeper.timer);
    sleeper.timer = setTimeout(sleeper.done, ms);
    sleeper.wakeAt = Date.now() + ms;
  }
}

// Resolves when `promise` settles or `signal` aborts, whichever comes first.
function untilEither(promise: Promise<unknown>, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      signal.removeEventListener('abort', done);
      resolve();
    };
    signal.addEventListener('abort', done, { once: true });
    promise.then(done, done);
  });
}
