// The read-store port the projector drives: per-projection state, generations of tables, and
// batches applied together with their checkpoint in one transaction.

/** Why a projection stopped; the event fields are absent when no single event was to blame (e.g. the store failed). */
export type ProjectionFailure = {
  message: string;
  /** The ChronicleError code of what failed, when it was one (e.g. READ_STORE_CORRUPT: the store, not an event). */
  code?: string;
  /** The generation that failed (the active one or a rebuild's); absent when the projection could not start. */
  generation?: number;
  eventId?: string;
  position?: number;
  type?: string;
  /** ISO-8601 time of the failure. */
  at: string;
};

/** An event an operator skipped, with the failure that stopped the projection on it. */
export type SkippedEvent = ProjectionFailure & { eventId: string; position: number; type: string; skippedAt: string };

/** What a read store keeps about one projection. Generation 0 means no tables exist yet. */
export type ProjectionRecord = {
  name: string;
  /** Definition version the active generation was built with. */
  version: number;
  /** The generation serving queries. */
  generation: number;
  /** Checkpoint of the active generation: every matching event up to here is applied. */
  position: number;
  /** A generation being rebuilt alongside the active one. */
  rebuild?: { generation: number; version: number; position: number };
  failure?: ProjectionFailure;
};

/**
 * A worker's hold on one projection. `token` rises with every change of holder: a store that supports leases refuses
 * (LEASE_LOST) a fenced write whose token is not the current one, so a worker that lost its lease (paused, partitioned,
 * presumed dead) can never commit again, whatever it believes about its lease.
 */
export type Lease = {
  projection: string;
  /** The worker id holding it. */
  owner: string;
  /** Fencing token: increases each time the lease passes to another worker. */
  token: number;
  /** ISO-8601 time (the store's clock) after which another worker may take it over unless renewed. */
  expiresAt: string;
};

/** What a fenced write carries: the lease it is made under. */
export type Fence = { owner: string; token: number };

/** A live worker, as its heartbeats show it. */
export type WorkerInfo = { id: string; lastSeen: string; expiresAt: string };

/**
 * Leases on projections, kept by the read store so the fence is checked in the same transaction as the write it
 * guards. Every time is the store's own clock, so workers' clocks never need to agree.
 */
export interface ProjectionLeases {
  /**
   * Records that `worker` is alive for `ttlMs`, and returns every worker alive now (itself included). The caller's own
   * entry has `lastSeen` = the store's clock now: workers judge lease expiry by it. A worker leaving heartbeats with a
   * ttl of 1 ms, so the others' share grows at once. @throws INVALID_ARGUMENT ttl not positive; STORE_ERROR, CLOSED
   */
  heartbeat(worker: string, ttlMs: number): Promise<WorkerInfo[]>;
  /**
   * Takes the lease on `projection` for `ttlMs` if it is free, expired, or already `worker`'s (then it is renewed and
   * keeps its token); taking it from another worker or after a release raises the token. Returns the lease held, or
   * undefined when another worker holds it unexpired. @throws STORE_ERROR, CLOSED
   */
  acquire(projection: string, worker: string, ttlMs: number): Promise<Lease | undefined>;
  /**
   * Gives the lease up now if `fence` still holds it (so another worker need not wait for it to expire); `list` then
   * shows it expired, or not at all.
   */
  release(projection: string, fence: Fence): Promise<void>;
  /** Every lease, held or expired. */
  list(): Promise<Lease[]>;
}

/** What an operator can ask of a projection from outside the process that runs it. */
export type ControlAction = 'rebuild' | 'retry' | 'skip';

/** Where a control request is: waiting for a projector, carried out by one, settled, or withdrawn. */
export type ControlState = 'pending' | 'taken' | 'done' | 'failed' | 'cancelled';

/** An operator's request (from the CLI) that the projector currently running the projection carries out. */
export type ControlRequest = {
  id: string;
  projection: string;
  action: ControlAction;
  state: ControlState;
  /** ISO-8601 time it was made (the store's clock). */
  requestedAt: string;
  /** ISO-8601 time after which it can no longer be taken: no projector took it in time, so it is void. */
  expiresAt: string;
  /** The projector (worker id) that took it. */
  takenBy?: string;
  /** Why it failed (state `failed`). */
  error?: { code?: string; message: string };
};

/**
 * Control requests kept by the read store, so a process that does not run a projection (the CLI) can ask the one
 * that does to rebuild, retry or skip it: the request is durable, taken by exactly one projector (compare-and-set),
 * and void if none takes it before it expires. Times are the store's clock.
 */
export interface ProjectionControl {
  /**
   * Records a pending request that expires unless taken within `ttlMs`; settled requests older than a week are
   * dropped on the way. @throws INVALID_ARGUMENT bad action or ttl; STORE_ERROR, CLOSED
   */
  request(projection: string, action: ControlAction, ttlMs: number): Promise<ControlRequest>;
  /** One request; undefined when unknown. @throws STORE_ERROR, CLOSED */
  get(id: string): Promise<ControlRequest | undefined>;
  /** Pending, unexpired requests, oldest first. @throws STORE_ERROR, CLOSED */
  pending(): Promise<ControlRequest[]>;
  /** Moves a pending, unexpired request to `taken` by `worker`; false when it is not (any more). @throws STORE_ERROR, CLOSED */
  take(id: string, worker: string): Promise<boolean>;
  /** Settles a taken request: `done`, or `failed` with `error`. @throws STORE_ERROR, CLOSED */
  finish(id: string, error?: { code?: string; message: string }): Promise<void>;
  /** Withdraws a pending request; false when a projector took it first (or it is settled). @throws STORE_ERROR, CLOSED */
  cancel(id: string): Promise<boolean>;
}

/** Work done inside an apply transaction; may be async, though synchronous work keeps SQLite fastest. */
export type ApplyWork<Tx> = (tx: Tx) => void | Promise<void>;

/**
 * A read store: holds projections' tables in generations plus their checkpoints.
 * `Tx` is what handlers write with, `Reader` what queries read the active generation with.
 */
export interface ProjectionStore<Tx, Reader = unknown> {
  /** State of one projection; undefined if it never ran here. @throws STORE_ERROR, CLOSED */
  load(name: string): Promise<ProjectionRecord | undefined>;

  /** State of every projection this store knows. @throws STORE_ERROR, CLOSED */
  list(): Promise<ProjectionRecord[]>;

  /**
   * In one transaction: runs `work` against `generation`'s tables, then sets that generation's checkpoint.
   * Whatever `work` throws rolls everything back and is rethrown unchanged.
   *
   * `after` is the checkpoint the batch starts after, as the caller last saw it stored. The new checkpoint is a
   * compare-and-set: if the stored one no longer equals `after` (another projector sharing this store applied the
   * batch first), nothing is written and `work` may not run at all. `undefined` sets it unconditionally, which is
   * only safe when a single writer owns the projection. Required, so a wrapper cannot drop it by accident.
   * @throws CONCURRENCY_CONFLICT when `generation` is neither active nor being rebuilt, or its checkpoint is not `after`
   * @throws INVALID_ARGUMENT `checkpoint` is before `after`; STORE_ERROR, CLOSED
   */
  apply(
    name: string,
    generation: number,
    work: ApplyWork<Tx> | undefined,
    checkpoint: number,
    after: number | undefined,
    fence?: Fence,
  ): Promise<void>;

  /**
   * Allocates a fresh generation at checkpoint 0 as the projection's rebuild (dropping an unfinished earlier one),
   * runs `setup` in it, and returns its number. @throws STORE_ERROR, CLOSED; whatever `setup` throws
   */
  beginGeneration(name: string, version: number, setup?: (tx: Tx) => unknown, fence?: Fence): Promise<number>;

  /**
   * Atomically makes the rebuild generation active (with its version and checkpoint) and drops the old tables.
   * With `replacing` (the active generation the caller expects, 0 for none yet), a projector sharing the store that
   * swapped another generation in first makes this fail rather than drop that one. The active generation keeps
   * applying events during a rebuild, so the swap is refused while its checkpoint is past the rebuild's: served
   * data never moves back.
   * @throws CONCURRENCY_CONFLICT when `generation` is not the projection's rebuild, the active one is not
   * `replacing`, or the active checkpoint is past the rebuild's; STORE_ERROR, CLOSED
   */
  swapGeneration(name: string, generation: number, replacing?: number, fence?: Fence): Promise<void>;

  /** Records (or, with undefined, clears) why the projection stopped. @throws STORE_ERROR, CLOSED */
  setFailure(name: string, failure: ProjectionFailure | undefined, fence?: Fence): Promise<void>;

  /**
   * In one transaction: records the failed event as skipped, moves `generation`'s checkpoint to its position
   * and clears the failure. The checkpoint must stand just before the failed event, so a skip never moves it back.
   * @throws CONCURRENCY_CONFLICT (generation not written, or checkpoint elsewhere), INVALID_ARGUMENT (failure names
   * no event), STORE_ERROR, CLOSED
   */
  skip(name: string, generation: number, failure: ProjectionFailure, fence?: Fence): Promise<void>;

  /** Events skipped by operators, oldest first. @throws STORE_ERROR, CLOSED */
  skipped(name: string): Promise<SkippedEvent[]>;

  /** Read-only access to the projection's active generation, resolved on every `table()` call (which throws NOT_FOUND before the first generation exists). */
  reader(name: string): Reader;

  /**
   * Present when the store can coordinate several projector processes: then every write method above also takes a
   * trailing `fence` and refuses it with LEASE_LOST (writing nothing) unless that lease is the projection's current one.
   */
  readonly leases?: ProjectionLeases;

  /**
   * Present when the store keeps control requests: projectors then carry out the rebuild, retry and skip an operator
   * asks for from another process (the CLI).
   */
  readonly control?: ProjectionControl;

  /** Closes the store. */
  close(): Promise<void>;
}
