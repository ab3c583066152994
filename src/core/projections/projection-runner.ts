// One projection inside a projector: attaches to its stored record, runs a lane on the active generation (and one on a
// rebuild's), swaps a finished rebuild in, takes up what another projector sharing the store did first, and carries out
// the operator's rebuild, retry and skip. Whether it runs at all (the projector is started, and with leases this
// worker holds the projection) is decided outside: start and stop.
import { ChronicleError, isChronicleError } from '../errors.js';
import type { EventSource, RecordedEvent } from '../event-store.js';
import { applyBatch } from './apply-batch.js';
import type { Projection } from './define-projection.js';
import { Lane, type LaneSource } from './lane.js';
import { failureAt, projectionFailed } from './projection-failure.js';
import type { ProjectionState, ProjectionView } from './projection-status.js';
import type { Fence, ProjectionFailure, ProjectionRecord, ProjectionStore } from './projection-store.js';

/** What a runner needs from the projector around it. */
export type RunnerContext<Tx> = {
  eventStore: Pick<EventSource, 'headPosition'>;
  readStore: ProjectionStore<Tx, unknown>;
  pages: LaneSource;
  /** The served checkpoint moved to `position` (a batch, a swap, or another projector's progress taken up). */
  served(name: string, position: number): void;
  /** The record was taken up again without the served checkpoint moving: waits may re-check. */
  changed(name: string): void;
  /** A batch of one of its loops (served or rebuild) committed with its checkpoint. */
  committed(): void;
  /** The served checkpoint cannot move any more (its loop failed): waits past it fail. */
  stuck(name: string): void;
  /** A write met a damaged read store (READ_STORE_CORRUPT): every projection on it fails. */
  damaged(failure: ProjectionFailure): void;
  /** A write was refused with LEASE_LOST: another worker holds the projection now; the runner has stopped itself. */
  leaseLost(name: string): void;
};

// Reloads in a row that may each lose a race to another projector before this one gives up.
const MAX_RELOADS = 10;

// The store's checkpoint moved or its generation changed under us: another projector sharing the store got there
// first (or, for a swap, the active generation moved past the rebuild meanwhile).
const isConflict = (err: unknown) => isChronicleError(err, 'CONCURRENCY_CONFLICT');
// Another worker took the projection's lease: not a failure of this projection, only the end of this worker's turn.
const isLeaseLost = (err: unknown) => isChronicleError(err, 'LEASE_LOST');

const closed = () => new ChronicleError('CLOSED', 'projector stopped');

export class ProjectionRunner<Tx> {
  /** The stored record as this runner last saw (or wrote) it. */
  record: ProjectionRecord | undefined;
  private readonly types: ReadonlySet<string>;
  // Whether it should run (between start and stop); set at once, while `started` follows it one operation at a time.
  private wanted = false;
  private started = false;
  // The lease every write is made under; undefined without leases.
  private fence: Fence | undefined;
  // Why rebuild() calls still waiting are rejected once the runner stops.
  private stopReason: () => ChronicleError = closed;
  /** The loop applying new events to the active generation; none while the active one is of an older version. */
  private serving: Lane | undefined;
  /** The loop catching a rebuild generation up. */
  private building: Lane | undefined;
  /** Every loop not yet ended, including retired ones finishing their batch. */
  private readonly lanes = new Set<Lane>();
  /** Whether the served checkpoint reached the head (live) or not yet (catching up). */
  private caughtUp = false;
  /** Without a serving loop, a rebuild swaps in once its checkpoint reaches this (the head when it started). */
  private target = 0;
  private knownHead = 0;
  /** Why the projection could not start (no loop runs); a loop's own failure is on its lane. */
  private failure: ProjectionFailure | undefined;
  private ops: Promise<void> = Promise.resolve();
  private rebuildWaiters: Array<{ resolve: () => void; reject: (err: Error) => void }> = [];
  /** The definition's `alongside` work while it runs here. */
  private companion: { abort: AbortController; done: Promise<void> } | undefined;

  constructor(
    readonly def: Projection<Tx>,
    private readonly ctx: RunnerContext<Tx>,
  ) {
    this.types = new Set(def.eventTypes);
  }

  get name(): string {
    return this.def.name;
  }

  /** Whether it is meant to run here now (started and not stopped since). */
  get active(): boolean {
    return this.wanted;
  }

  /** The served checkpoint as last seen here. */
  get position(): number {
    return this.record?.position ?? 0;
  }

  /**
   * Runs the projection (under `fence` when the store has leases): loads its checkpoint, creates its first generation
   * on a first run, starts a rebuild when the defined version is newer, and retries a failure stored before. Resolves
   * once its loops run (not when caught up); a projection that cannot start is marked failed.
   */
  start(fence?: Fence): Promise<void> {
    this.wanted = true;
    return this.serial(async () => {
      this.fence = fence;
      this.stopReason = closed;
      await this.startLoops();
      this.startCompanion();
    });
  }

  /** Stops its loops at once (the batch in flight finishes); resolves once none is left. `reason` rejects waiting rebuilds. */
  stop(reason: () => ChronicleError = closed): Promise<void> {
    if (this.wanted) this.stopReason = reason;
    this.wanted = false;
    for (const lane of this.lanes) lane.retire();
    this.settleRebuild(reason());
    const companion = this.companion;
    this.companion = undefined;
    companion?.abort.abort();
    return this.serial(async () => {
      await this.stopLoops();
      await companion?.done;
    });
  }

  /** See Projector.rebuild. @throws CLOSED or LEASE_LOST when it stops meanwhile; PROJECTION_FAILED */
  async rebuild(): Promise<void> {
    let done: Promise<void> | undefined;
    await this.serial(async () => {
      if (!this.wanted) return;
      await this.stopLoops();
      // Registered only now: a retry, skip or start queued before this step must not settle this rebuild.
      done = new Promise<void>((resolve, reject) => this.rebuildWaiters.push({ resolve, reject }));
      try {
        await this.ctx.readStore.beginGeneration(this.name, this.def.version, this.def.setup, this.fence);
      } catch (err) {
        if (isLeaseLost(err)) return this.lost();
        return this.fail(undefined, failureAt(err));
      }
      // The new generation carries the defined version, so starting picks it up as the rebuild to run.
      await this.startLoops();
    });
    if (!done) throw this.stopReason();
    return done;
  }

  /** Restarts a failed projection (or rebuild) from its failing event; no-op unless failed. */
  retry(): Promise<void> {
    return this.serial(async () => {
      if (!this.wanted || (this.state() !== 'failed' && !this.building?.failure)) return;
      await this.stopLoops();
      await this.startLoops();
    });
  }

  /** Records the failing event as skipped and continues after it. @throws INVALID_ARGUMENT not failed on an event; LEASE_LOST */
  skip(): Promise<void> {
    return this.serial(async () => {
      // The served generation's failure first: it is what queries wait on.
      const lane = this.serving?.failure ? this.serving : this.building?.failure ? this.building : undefined;
      const failure = lane?.failure;
      if (!lane || failure?.eventId === undefined) {
        throw new ChronicleError('INVALID_ARGUMENT', `projection ${this.name} is not stopped on a failed event`);
      }
      try {
        await this.ctx.readStore.skip(this.name, lane.generation, failure, this.fence);
      } catch (err) {
        if (isLeaseLost(err)) this.lost();
        // Another projector moved past the event meanwhile; starting again continues from where it got to.
        if (!isConflict(err)) throw err;
      }
      await this.stopLoops();
      await this.startLoops();
      // The skipped event counts as done: a source waiting to release it need not wait for the next batch.
      this.ctx.committed();
    });
  }

  state(): ProjectionState {
    if (!this.wanted || !this.started) return this.failure ? 'failed' : 'stopped';
    if (this.servedStuck()) return 'failed';
    if (this.building && !this.building.failure) return 'rebuilding';
    if (!this.serving) return 'stopped';
    return this.caughtUp ? 'live' : 'catching_up';
  }

  /** The failure to report: the served generation's first, then the rebuild's. */
  currentFailure(): ProjectionFailure | undefined {
    return this.failure ?? this.serving?.failure ?? this.building?.failure;
  }

  /** The PROJECTION_FAILED error of the failure to report (or of `failure`). */
  failedError(failure = this.currentFailure()): ChronicleError {
    return projectionFailed(this.name, this.position, failure);
  }

  /** Its status as this runner knows it (while it runs here). */
  view(): ProjectionView {
    const view: ProjectionView = {
      name: this.name,
      definedVersion: this.def.version,
      record: this.record,
      state: this.state(),
      failure: this.currentFailure(),
    };
    const rebuild = this.record?.rebuild;
    if (rebuild) {
      const building = this.wanted && this.building?.generation === rebuild.generation ? this.building : undefined;
      view.rebuild = { target: building ? this.goal() : undefined, failed: building?.failure !== undefined };
    }
    return view;
  }

  /** The lowest position one of its loops still has to read; Infinity when none reads. */
  lowWater(): number {
    let low = Number.POSITIVE_INFINITY;
    for (const lane of this.lanes) {
      const at = lane.failure || lane.stopped ? undefined : this.checkpointOf(lane);
      if (at !== undefined) low = Math.min(low, at + 1);
    }
    return low;
  }

  /**
   * The position through which the generation that serves (or, after a raised version, is about to serve) has
   * committed; a failed loop included, since its failing event is not applied. A rebuild beside a live generation is
   * left out: it reads behind the live point, which a source must be able to serve after acknowledging, so a rebuild
   * from 0 does not hold every other projection's acknowledgements back. After a raised version there is no live
   * loop (the old generation's handlers are gone) and the rebuild is the one to count: the stale served checkpoint
   * would hold a source back for good once more events are waiting than it may hold unacknowledged.
   */
  durableThrough(): number {
    const lane = this.serving && !this.serving.stopped ? this.serving : this.building;
    const at = lane && !lane.stopped ? this.checkpointOf(lane) : undefined;
    return at ?? this.position;
  }

  /**
   * Fails its loops because the read store is damaged: the other projections' tables are in the same file, and an
   * idle projection would otherwise go on reporting itself live.
   */
  damage({ message, code, at }: ProjectionFailure): void {
    for (const lane of [this.serving, this.building]) {
      if (!lane || lane.failure) continue;
      lane.failure = { message, code, at, generation: lane.generation };
      lane.retire();
      if (lane === this.building) this.settleRebuild(this.failedError(lane.failure));
    }
    if (this.servedStuck()) this.ctx.stuck(this.name);
  }

  // Runs the definition's `alongside` work from the first start until stop; a retry or rebuild leaves it running.
  private startCompanion(): void {
    const work = this.def.alongside;
    if (!work || !this.wanted || this.companion) return;
    const abort = new AbortController();
    const done = Promise.resolve()
      .then(() => work({ signal: abort.signal, reader: this.ctx.readStore.reader(this.name) }))
      // Its failures are its own to report (see Projection.alongside).
      .catch(() => {});
    this.companion = { abort, done };
  }

  // Control operations run one at a time; batches run inside the loops.
  private serial(op: () => Promise<void>): Promise<void> {
    const next = this.ops.then(op);
    this.ops = next.catch(() => {});
    return next;
  }

  private async startLoops(): Promise<void> {
    if (!this.wanted || this.started) return;
    this.failure = undefined;
    this.started = true;
    try {
      await this.adopt(true);
    } catch (err) {
      await this.stopLoops();
      if (isLeaseLost(err)) return this.lost();
      await this.fail(undefined, failureAt(err));
    }
  }

  private async stopLoops(): Promise<void> {
    this.started = false;
    const lanes = [...this.lanes];
    for (const lane of lanes) lane.retire();
    await Promise.all(lanes.map((lane) => lane.done));
    this.serving = undefined;
    this.building = undefined;
  }

  // Another worker holds the projection now: stop here, which is not a failure (it goes on there).
  private lost(): void {
    if (!this.wanted) return;
    this.failure = undefined;
    void this.stop(
      () =>
        new ChronicleError('LEASE_LOST', `projection ${this.name}: another worker took its lease over`, {
          details: { projection: this.name },
        }),
    );
    this.ctx.leaseLost(this.name);
  }

  // The stored checkpoint of the generation a loop writes, as last seen; undefined once that generation is neither
  // active nor rebuilding.
  private checkpointOf(lane: Lane): number | undefined {
    const record = this.record;
    if (!record) return undefined;
    if (record.generation === lane.generation) return record.position;
    if (record.rebuild?.generation === lane.generation) return record.rebuild.position;
    return undefined;
  }

  // Whether the served checkpoint cannot move: its own loop failed, or it has none and the rebuild that would swap
  // in failed (or it could not start at all).
  private servedStuck(): boolean {
    return (
      this.failure !== undefined || this.serving?.failure !== undefined || (!this.serving && this.building?.failure !== undefined)
    );
  }

  private settleRebuild(err?: Error): void {
    const pending = this.rebuildWaiters;
    this.rebuildWaiters = [];
    for (const w of pending) {
      if (err) w.reject(err);
      else w.resolve();
    }
  }

  // Records a failure of one loop (or, without a lane, of the whole projection) without stopping the other loop.
  private async fail(lane: Lane | undefined, failure: ProjectionFailure): Promise<void> {
    const stamped = lane ? { ...failure, generation: lane.generation } : failure;
    if (lane) lane.failure = stamped;
    else this.failure = stamped;
    try {
      await this.ctx.readStore.setFailure(this.name, stamped, this.fence);
    } catch (err) {
      // The failure is another worker's to find now, if it is one.
      if (isLeaseLost(err)) return this.lost();
      // The store may be what failed; the failure is still reported through status().
    }
    if (this.servedStuck()) this.ctx.stuck(this.name);
    // A rebuild that stopped (or cannot swap in any more) settles the rebuild() calls waiting for it.
    if (!lane || lane === this.building) this.settleRebuild(this.failedError(stamped));
    if (failure.code === 'READ_STORE_CORRUPT') this.ctx.damaged(failure);
  }

  // The checkpoint a rebuild swaps in at: the served one while a loop keeps it live, else the head when it started.
  private goal(): number {
    const position = this.record?.position ?? 0;
    return this.serving && !this.serving.failure ? position : Math.max(this.target, position);
  }

  private async maybeSwap(): Promise<void> {
    const record = this.record;
    const lane = this.building;
    const rebuild = record?.rebuild;
    if (!record || !rebuild || !lane || lane.failure || lane.generation !== rebuild.generation) return;
    if (rebuild.position < this.goal()) return;
    // Refused (a conflict) if the active generation moved past the rebuild meanwhile: the rebuild goes on after it.
    await this.ctx.readStore.swapGeneration(this.name, rebuild.generation, record.generation, this.fence);
    if (this.record !== record || this.building !== lane) {
      // Reloaded meanwhile, maybe from before the swap: load again.
      throw new ChronicleError('CONCURRENCY_CONFLICT', `projection ${this.name}: reloaded during a swap`);
    }
    this.record = { name: record.name, version: rebuild.version, generation: rebuild.generation, position: rebuild.position };
    const old = this.serving;
    // The rebuild's loop goes on as the active generation's; the old one ends once its generation is gone.
    this.serving = lane;
    this.building = undefined;
    old?.retire();
    this.knownHead = await this.ctx.eventStore.headPosition();
    this.caughtUp = rebuild.position >= this.knownHead;
    this.ctx.served(this.name, rebuild.position);
    this.settleRebuild();
  }

  private async committed(lane: Lane, checkpoint: number): Promise<void> {
    const record = this.record;
    if (!record) return;
    if (record.generation === lane.generation) {
      record.position = checkpoint;
      if (!this.caughtUp && checkpoint >= this.knownHead) {
        this.knownHead = await this.ctx.eventStore.headPosition();
        if (checkpoint >= this.knownHead) this.caughtUp = true;
      }
      this.ctx.served(this.name, checkpoint);
    } else if (record.rebuild?.generation === lane.generation) {
      record.rebuild.position = checkpoint;
      await this.maybeSwap();
    }
    this.ctx.committed();
  }

  // One page for a lane; false ends the lane (it failed, or the lease is gone).
  private async batch(lane: Lane, events: readonly RecordedEvent[], checkpoint: number, after: number): Promise<boolean> {
    try {
      // A rebuild's loop replays what the serving generation has already acted on (its checkpoint; with a raised
      // version, where the old generation stopped): a process manager re-derives its state there but sends nothing.
      const replayThrough = lane === this.serving ? 0 : (this.record?.position ?? 0);
      const outcome = await applyBatch(this.ctx.readStore, this.def, lane.generation, events, checkpoint, after, this.fence, {
        replayThrough,
      });
      await this.committed(lane, outcome.committed);
      if (!outcome.failure) return true;
      await this.fail(lane, outcome.failure);
      return false;
    } catch (err) {
      if (isLeaseLost(err)) {
        this.lost();
        return false;
      }
      if (isConflict(err)) return this.resync(lane);
      await this.fail(lane, failureAt(err));
      return false;
    }
  }

  // Another projector on the same store applied this batch (or swapped generations) first, or the active generation
  // moved past a rebuild about to swap: not a failure. Take up the stored state, which settles the waits it
  // satisfies; the loop goes on after its checkpoint, or ends if its generation is gone.
  private async resync(lane: Lane): Promise<boolean> {
    try {
      await this.adopt(false);
      return true;
    } catch (err) {
      if (isLeaseLost(err)) this.lost();
      else await this.fail(lane, failureAt(err));
      return false;
    }
  }

  private follow(generation: number): Lane {
    const lane = new Lane(generation, this.ctx.pages, this.types, {
      checkpoint: (l) => this.checkpointOf(l),
      batch: (l, events, checkpoint, after) => this.batch(l, events, checkpoint, after),
      // Reading the event store failed (a handler's failure is already recorded).
      readFailed: (l, err) => this.fail(l, failureAt(err)),
      ended: (l) => {
        this.lanes.delete(l);
        // A loop whose generation went away (swapped out or replaced) is no longer the projection's.
        if (this.serving === l && l.failure === undefined) this.serving = undefined;
        if (this.building === l && l.failure === undefined) this.building = undefined;
      },
    });
    this.lanes.add(lane);
    return lane;
  }

  // Makes a stored record the runner's state: starts a rebuild if the defined version is newer, keeps a loop on the
  // active generation when its version is the defined one (an older one's handlers are not here to apply), keeps a
  // loop on the rebuild, ends loops on generations that went away, and swaps a finished rebuild in.
  private async attach(record: ProjectionRecord): Promise<void> {
    const { def } = this;
    if (record.version > def.version) {
      throw new ChronicleError(
        'INVALID_ARGUMENT',
        `projection ${def.name}: the read store holds version ${record.version}, newer than the defined ${def.version}`,
      );
    }
    let rebuild = record.rebuild?.version === def.version ? record.rebuild : undefined;
    if (!rebuild && record.version < def.version) {
      const generation = await this.ctx.readStore.beginGeneration(def.name, def.version, def.setup, this.fence);
      rebuild = { generation, version: def.version, position: 0 };
    }
    const before = this.record?.position;
    this.record = { ...record, failure: undefined, rebuild };
    this.knownHead = await this.ctx.eventStore.headPosition();
    if (before !== undefined && record.position > before) this.ctx.served(def.name, record.position);
    else this.ctx.changed(def.name);
    const keepServing = record.version === def.version;
    const lanes = [this.serving, this.building];
    this.serving = undefined;
    this.building = undefined;
    for (const lane of lanes) {
      if (!lane) continue;
      if (keepServing && lane.generation === record.generation) this.serving = lane;
      else if (lane.generation === rebuild?.generation) this.building = lane;
      else lane.retire();
    }
    if (this.wanted && this.started) {
      if (keepServing && !this.serving) this.serving = this.follow(record.generation);
      if (rebuild && !this.building) this.building = this.follow(rebuild.generation);
    }
    this.caughtUp = record.position >= this.knownHead;
    if (rebuild) {
      this.target = Math.max(this.knownHead, record.position);
      await this.maybeSwap();
    } else {
      // No rebuild left to wait for: another projector swapped it in.
      this.settleRebuild();
    }
  }

  // Loads the stored record and attaches to it, creating the first generation on a first run. Losing a race to
  // another projector doing the same (CONCURRENCY_CONFLICT) just means loading again.
  private async adopt(clearFailure: boolean): Promise<void> {
    const { def } = this;
    const store = this.ctx.readStore;
    for (let reloads = 1; ; reloads++) {
      try {
        let record = await store.load(def.name);
        if (!record || record.generation === 0) {
          // First run against this store: build generation 1 and serve it while it catches up.
          const reused = record?.rebuild?.version === def.version;
          const generation = reused
            ? record!.rebuild!.generation
            : await store.beginGeneration(def.name, def.version, def.setup, this.fence);
          if (def.firstRun === 'head' && (!reused || record!.rebuild!.position === 0)) {
            // Committed before the swap, so the generation never serves from 0: no event before the head is applied.
            const head = await this.ctx.eventStore.headPosition();
            if (head > 0) await store.apply(def.name, generation, undefined, head, 0, this.fence);
          }
          await store.swapGeneration(def.name, generation, 0, this.fence);
          record = (await store.load(def.name))!;
        }
        // Starting again is how a failure is retried: clear it and resume from the failing event.
        if (clearFailure && record.failure) await store.setFailure(def.name, undefined, this.fence);
        await this.attach(record);
        return;
      } catch (err) {
        if (!isConflict(err) || reloads >= MAX_RELOADS) throw err;
      }
    }
  }
}
