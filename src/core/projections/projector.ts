// The projector: one checkpointed loop per projection (two during a rebuild), applying batches of events to a read store with each
// batch's checkpoint in the same transaction. The loops read the log through one shared reader, so projections
// at the same position read and parse each page once between them.
import { ChronicleError, isChronicleError } from '../errors.js';
import type { EventStore, RecordedEvent } from '../event-store.js';
import type { Projection } from './define-projection.js';
import { LogPages } from './log-pages.js';
import { PositionWaiters } from './position-waiters.js';
import type { ProjectionFailure, ProjectionRecord, ProjectionStore } from './projection-store.js';
import { HandlerFailure, runHandlers } from './run-handlers.js';

export type ProjectionState = 'live' | 'catching_up' | 'rebuilding' | 'failed' | 'stopped';

export type ProjectionStatus = {
  name: string;
  /** Version of the generation serving queries. */
  version: number;
  /** Checkpoint of the generation serving queries. */
  position: number;
  /** Global positions between the checkpoint and the store's head. */
  lagEvents: number;
  /** Age of the oldest event not yet past the checkpoint; 0 when caught up. */
  lagSeconds: number;
  state: ProjectionState;
  /** Why the projection is failed (kept, while stopped, from the read store). */
  lastError?: {
    message: string;
    /** The ChronicleError code, when the failure was one; READ_STORE_CORRUPT means the read store's file is damaged. */
    code?: string;
    eventId?: string;
    position?: number;
    type?: string;
    /** The generation that failed: the served one (`state` is failed) or the rebuild's (`rebuild.failed`). */
    generation?: number;
  };
  /**
   * Progress of a rebuild into fresh tables; it swaps in once `position` reaches `target` (the served checkpoint,
   * which keeps moving, or the head when it started if the served generation is of an older version). `failed`
   * when the rebuild stopped on a failure (see `lastError`) while the served generation may go on.
   */
  rebuild?: { version: number; position: number; target: number; failed?: boolean };
};

/** Sent after every committed batch (and swap) that moved a projection's served checkpoint. */
export type ProjectionChange = { projection: string; position: number };

export type WaitForPositionOptions = {
  /** Projections that must reach the position; default all. */
  projections?: readonly string[];
  /** Default 5000. */
  timeoutMs?: number;
};

export type ProjectorOptions<Tx> = {
  eventStore: EventStore;
  readStore: ProjectionStore<Tx, unknown>;
  projections: readonly Projection<Tx>[];
  /** Most events per batch (one transaction each). Default 1000. */
  batchSize?: number;
  /** How often to look for events appended by other processes. Default 200. */
  pollIntervalMs?: number;
};

export interface Projector {
  /**
   * Loads each projection's checkpoint and starts following the log from it: a new projection gets its first
   * generation, a raised version starts a rebuild, a projection that failed before is retried.
   * Resolves once every projection runs (not when caught up). A projection that cannot start is marked failed.
   */
  start(): Promise<void>;
  /** Stops every projection after its batch in flight; pending waits reject with CLOSED. */
  stop(): Promise<void>;
  /** Position, lag, state and last error of every projection (reads the event store's head, hence async). */
  status(): Promise<ProjectionStatus[]>;
  /**
   * Resolves once every named projection's served checkpoint is ≥ `position`.
   * @throws TIMEOUT after `timeoutMs`; PROJECTION_FAILED at once if a named projection is failed short of it;
   * CLOSED when the projector is not running or stops; NOT_FOUND unknown projection; INVALID_ARGUMENT bad position or timeout
   */
  waitForPosition(position: number, options?: WaitForPositionOptions): Promise<void>;
  /**
   * Replays every event into a fresh generation while the current one keeps serving, then swaps them.
   * The served generation stays live meanwhile: its own loop goes on applying new events (with its own checkpoint),
   * so queries and waitForPosition (minPosition) see them as before, while a second loop catches the new generation
   * up from 0. Once that one reaches the served checkpoint the two swap atomically; the store refuses a swap that
   * would move the served checkpoint back. A failure in either loop stops only that one (status says which
   * generation failed). A rebuild after a raised version is the exception: the served generation was built by the
   * older version's handlers, which are not here to apply, so it stays where it was until the swap.
   * Resolves after the swap. @throws NOT_FOUND, CLOSED (not running or stopped meanwhile), PROJECTION_FAILED (the
   * rebuild failed)
   */
  rebuild(name: string): Promise<void>;
  /** Restarts a failed projection from its failing event; no-op unless failed. @throws NOT_FOUND, CLOSED */
  retry(name: string): Promise<void>;
  /** Records a failed projection's failing event as skipped and continues after it. @throws NOT_FOUND, CLOSED, INVALID_ARGUMENT (not failed on an event) */
  skip(name: string): Promise<void>;
  /** Calls `listener` after each committed change; returns the unsubscribe function. */
  onChange(listener: (change: ProjectionChange) => void): () => void;
}

// A read-apply loop writing one generation of a projection: the active one (keeping the served tables live) or a
// rebuild's (catching up from 0). Stopping it lets the batch in flight finish; it ends by itself once its
// generation is neither active nor rebuilding any more (swapped out, or replaced by a newer rebuild).
type Lane = {
  generation: number;
  stopped: boolean;
  wake: () => void;
  done: Promise<void>;
  failure: ProjectionFailure | undefined;
};

type Runner<Tx> = {
  def: Projection<Tx>;
  types: ReadonlySet<string>;
  record: ProjectionRecord | undefined;
  /** Whether the projection should run (between start and stop). */
  started: boolean;
  /** The loop applying new events to the active generation; none while the active one is of an older version. */
  serving: Lane | undefined;
  /** The loop catching a rebuild generation up. */
  building: Lane | undefined;
  /** Every loop not yet ended, including retired ones finishing their batch. */
  lanes: Set<Lane>;
  /** Whether the served checkpoint reached the head (live) or not yet (catching up). */
  caughtUp: boolean;
  /** Without a serving loop, a rebuild swaps in once its checkpoint reaches this (the head when it started). */
  target: number;
  knownHead: number;
  /** Why the projection could not start (no loop runs); a loop's own failure is on its lane. */
  failure: ProjectionFailure | undefined;
  ops: Promise<void>;
  rebuildWaiters: Array<{ resolve: () => void; reject: (err: Error) => void }>;
};

// Thrown out of a batch to end a failed loop.
const STOPPED = new ChronicleError('PROJECTION_FAILED', 'projection stopped on a failure');
// Reloads in a row that may each lose a race to another projector before this one gives up.
const MAX_RELOADS = 10;

// The store's checkpoint moved or its generation changed under us: another projector sharing the store got there
// first (or, for a swap, the active generation moved past the rebuild meanwhile).
const isConflict = (err: unknown) => isChronicleError(err, 'CONCURRENCY_CONFLICT');

const MAX_TIMER_MS = 2 ** 31 - 1;

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

// With a synchronous store every step of a catch-up resolves at once: without a turn of the event loop between
// batches, catching up (a rebuild from 0) would keep I/O, and an HTTP server beside it, waiting until the head.
const nextTurn = () =>
  new Promise<void>((resolve) => (typeof setImmediate === 'function' ? setImmediate(resolve) : setTimeout(resolve, 0)));

/** Creates a projector over an event store and a read store. @throws INVALID_ARGUMENT bad options or duplicate names */
export function createProjector<Tx>(options: ProjectorOptions<Tx>): Projector {
  const { eventStore, readStore, projections } = options;
  const batchSize = options.batchSize ?? 1000;
  const pollIntervalMs = options.pollIntervalMs ?? 200;
  if (!eventStore || !readStore || !Array.isArray(projections)) {
    throw new ChronicleError('INVALID_ARGUMENT', 'createProjector needs eventStore, readStore and projections');
  }
  if (!Number.isSafeInteger(batchSize) || batchSize < 1)
    throw new ChronicleError('INVALID_ARGUMENT', 'batchSize must be a positive integer');
  if (!(pollIntervalMs > 0)) throw new ChronicleError('INVALID_ARGUMENT', 'pollIntervalMs must be positive');

  const runners = new Map<string, Runner<Tx>>();
  for (const def of projections) {
    if (runners.has(def.name)) throw new ChronicleError('INVALID_ARGUMENT', `projection ${def.name} is registered twice`);
    runners.set(def.name, {
      def,
      types: new Set(def.eventTypes),
      record: undefined,
      started: false,
      serving: undefined,
      building: undefined,
      lanes: new Set(),
      caughtUp: false,
      target: 0,
      knownHead: 0,
      failure: undefined,
      ops: Promise.resolve(),
      rebuildWaiters: [],
    });
  }
  const pages = new LogPages(eventStore, batchSize, pollIntervalMs, () => {
    let low = Number.POSITIVE_INFINITY;
    for (const r of runners.values()) {
      for (const lane of r.lanes) {
        const at = lane.failure || lane.stopped ? undefined : checkpointOf(r, lane);
        if (at !== undefined) low = Math.min(low, at + 1);
      }
    }
    return low;
  });
  const listeners = new Set<(change: ProjectionChange) => void>();
  const waiters = new PositionWaiters((name) => runners.get(name)?.record?.position ?? 0);
  let running = false;

  const runnerOf = (name: string): Runner<Tx> => {
    const r = runners.get(name);
    if (!r)
      throw new ChronicleError('NOT_FOUND', `no projection named ${JSON.stringify(name)}`, { details: { projection: name } });
    return r;
  };
  const assertRunning = () => {
    if (!running) throw new ChronicleError('CLOSED', 'projector is not running');
  };

  // The stored checkpoint of the generation a loop writes, as this projector last saw it; undefined once that
  // generation is neither active nor rebuilding.
  function checkpointOf(r: Runner<Tx>, lane: Lane): number | undefined {
    const record = r.record;
    if (!record) return undefined;
    if (record.generation === lane.generation) return record.position;
    if (record.rebuild?.generation === lane.generation) return record.rebuild.position;
    return undefined;
  }

  // Whether the served checkpoint cannot move: its own loop failed, or it has none and the rebuild that would swap
  // in failed (or it could not start at all).
  const servedStuck = (r: Runner<Tx>) =>
    r.failure !== undefined || r.serving?.failure !== undefined || (!r.serving && r.building?.failure !== undefined);

  function stateOf(r: Runner<Tx>): ProjectionState {
    if (!running || !r.started) return r.failure ? 'failed' : 'stopped';
    if (servedStuck(r)) return 'failed';
    if (r.building && !r.building.failure) return 'rebuilding';
    if (!r.serving) return 'stopped';
    return r.caughtUp ? 'live' : 'catching_up';
  }

  // The failure to report: the served generation's first, then the rebuild's.
  const failureOf = (r: Runner<Tx>) => r.failure ?? r.serving?.failure ?? r.building?.failure;

  // Control operations on one projection run one at a time; batches run inside its loops.
  function serial(r: Runner<Tx>, op: () => Promise<void>): Promise<void> {
    const next = r.ops.then(op);
    r.ops = next.catch(() => {});
    return next;
  }

  function projectionFailed(r: Runner<Tx>, failure = failureOf(r)): ChronicleError {
    return new ChronicleError('PROJECTION_FAILED', `projection ${r.def.name} failed: ${failure?.message ?? 'unknown error'}`, {
      details: { projection: r.def.name, position: r.record?.position ?? 0, lastError: failure },
    });
  }

  function settleRebuild(r: Runner<Tx>, err?: Error): void {
    const pending = r.rebuildWaiters;
    r.rebuildWaiters = [];
    for (const w of pending) {
      if (err) w.reject(err);
      else w.resolve();
    }
  }

  function served(r: Runner<Tx>, position: number): void {
    waiters.changed(r.def.name);
    const change = { projection: r.def.name, position };
    for (const listener of listeners) {
      try {
        listener(change);
      } catch {
        // A listener's failure is its own; projecting goes on.
      }
    }
  }

  // Records a failure of one loop (or, without a lane, of the whole projection) without stopping the other loop.
  async function fail(r: Runner<Tx>, lane: Lane | undefined, failure: ProjectionFailure): Promise<void> {
    const stamped = lane ? { ...failure, generation: lane.generation } : failure;
    if (lane) lane.failure = stamped;
    else r.failure = stamped;
    try {
      await readStore.setFailure(r.def.name, stamped);
    } catch {
      // The store may be what failed; the failure is still reported through status().
    }
    if (servedStuck(r)) waiters.failed(r.def.name, () => projectionFailed(r));
    // A rebuild that stopped (or cannot swap in any more) settles the rebuild() calls waiting for it.
    if (!lane || lane === r.building) settleRebuild(r, projectionFailed(r, stamped));
    if (failure.code === 'READ_STORE_CORRUPT') damaged(failure);
  }

  // A damaged read store fails every projection on it, not only the one whose statement met the damage: the
  // others' tables are in the same file, and an idle projection would otherwise go on reporting itself live.
  function damaged({ message, code, at }: ProjectionFailure): void {
    for (const r of runners.values()) {
      for (const lane of [r.serving, r.building]) {
        if (!lane || lane.failure) continue;
        lane.failure = { message, code, at, generation: lane.generation };
        retire(lane);
        if (lane === r.building) settleRebuild(r, projectionFailed(r, lane.failure));
      }
      if (servedStuck(r)) waiters.failed(r.def.name, () => projectionFailed(r));
    }
  }

  const failureAt = (err: unknown, event?: RecordedEvent): ProjectionFailure => ({
    message: message(err),
    ...(isChronicleError(err) && { code: err.code }),
    ...(event && { eventId: event.id, position: event.position, type: event.type }),
    at: new Date().toISOString(),
  });

  // The checkpoint a rebuild swaps in at: the served one while a loop keeps it live, else the head when it started.
  function goalOf(r: Runner<Tx>): number {
    const position = r.record?.position ?? 0;
    return r.serving && !r.serving.failure ? position : Math.max(r.target, position);
  }

  async function maybeSwap(r: Runner<Tx>): Promise<void> {
    const record = r.record;
    const lane = r.building;
    const rebuild = record?.rebuild;
    if (!record || !rebuild || !lane || lane.failure || lane.generation !== rebuild.generation) return;
    if (rebuild.position < goalOf(r)) return;
    // Refused (a conflict) if the active generation moved past the rebuild meanwhile: the rebuild goes on after it.
    await readStore.swapGeneration(r.def.name, rebuild.generation, record.generation);
    if (r.record !== record || r.building !== lane) {
      // Reloaded meanwhile, maybe from before the swap: load again.
      throw new ChronicleError('CONCURRENCY_CONFLICT', `projection ${r.def.name}: reloaded during a swap`);
    }
    r.record = { name: record.name, version: rebuild.version, generation: rebuild.generation, position: rebuild.position };
    const old = r.serving;
    // The rebuild's loop goes on as the active generation's; the old one ends once its generation is gone.
    r.serving = lane;
    r.building = undefined;
    if (old) retire(old);
    r.knownHead = await eventStore.headPosition();
    r.caughtUp = rebuild.position >= r.knownHead;
    served(r, rebuild.position);
    settleRebuild(r);
  }

  async function committed(r: Runner<Tx>, lane: Lane, checkpoint: number): Promise<void> {
    const record = r.record;
    if (!record) return;
    if (record.generation === lane.generation) {
      record.position = checkpoint;
      if (!r.caughtUp && checkpoint >= r.knownHead) {
        r.knownHead = await eventStore.headPosition();
        if (checkpoint >= r.knownHead) r.caughtUp = true;
      }
      served(r, checkpoint);
    } else if (record.rebuild?.generation === lane.generation) {
      record.rebuild.position = checkpoint;
      await maybeSwap(r);
    }
  }

  // Commits the events before the one that failed, so only the culprit is left to retry or skip.
  async function isolate(
    r: Runner<Tx>,
    lane: Lane,
    events: readonly RecordedEvent[],
    first: HandlerFailure,
    after: number,
  ): Promise<ProjectionFailure> {
    const { name, handlers } = r.def;
    let failure = first;
    for (;;) {
      const k = failure.index;
      const before = events.slice(0, k);
      const checkpoint = events[k].position - 1;
      try {
        await readStore.apply(
          name,
          lane.generation,
          k === 0 ? undefined : (tx) => runHandlers(handlers, before, tx),
          checkpoint,
          after,
        );
        await committed(r, lane, checkpoint);
        return failureAt(failure.error, events[k]);
      } catch (err) {
        // A handler that fails earlier on the second run (not deterministic) is the culprit instead.
        if (err instanceof HandlerFailure && err.index < k) failure = err;
        else throw err;
      }
    }
  }

  // `after` is the checkpoint the page was read from: the compare-and-set must hold exactly that, or the
  // batch would be applied over a checkpoint another loop or projector has since moved.
  async function onBatch(
    r: Runner<Tx>,
    lane: Lane,
    events: readonly RecordedEvent[],
    checkpoint: number,
    after: number,
  ): Promise<void> {
    const { name, handlers } = r.def;
    try {
      await readStore.apply(
        name,
        lane.generation,
        events.length === 0 ? undefined : (tx) => runHandlers(handlers, events, tx),
        checkpoint,
        after,
      );
    } catch (err) {
      let failure: ProjectionFailure;
      try {
        if (isConflict(err)) throw err;
        failure = err instanceof HandlerFailure ? await isolate(r, lane, events, err, after) : failureAt(err);
      } catch (inner) {
        if (isConflict(inner)) return resync(r, lane);
        failure = failureAt(inner);
      }
      await fail(r, lane, failure);
      throw STOPPED;
    }
    try {
      await committed(r, lane, checkpoint);
    } catch (err) {
      if (isConflict(err)) return resync(r, lane);
      await fail(r, lane, failureAt(err));
      throw STOPPED;
    }
  }

  // Another projector on the same store applied this batch (or swapped generations) first, or the active generation
  // moved past a rebuild about to swap: not a failure. Take up the stored state, which settles the waits it
  // satisfies; the loop goes on after its checkpoint, or ends if its generation is gone.
  async function resync(r: Runner<Tx>, lane: Lane): Promise<void> {
    try {
      await adopt(r, false);
    } catch (err) {
      await fail(r, lane, failureAt(err));
      throw STOPPED;
    }
  }

  function retire(lane: Lane): void {
    lane.stopped = true;
    lane.wake();
  }

  function follow(r: Runner<Tx>, generation: number): Lane {
    const lane: Lane = { generation, stopped: false, wake: () => {}, done: Promise.resolve(), failure: undefined };
    r.lanes.add(lane);
    lane.done = (async () => {
      while (!lane.stopped) {
        // Read afresh each time: a batch, a swap or a reload after a conflict may have moved it.
        const at = checkpointOf(r, lane);
        if (at === undefined) break;
        const page = await pages.read(at + 1);
        if (lane.stopped) break;
        // A reload while the page was read (another projector advanced it) makes the page start in the wrong place.
        if (checkpointOf(r, lane) !== at) continue;
        if (!page) {
          const waiting = pages.wait(at + 1);
          lane.wake = waiting.cancel;
          if (lane.stopped) break;
          await waiting.promise;
          continue;
        }
        // The page is every event; the checkpoint still moves past those this projection does not handle.
        const events = page.events.filter((e) => r.types.has(e.type));
        await onBatch(r, lane, events, page.checkpoint, at);
        await nextTurn();
      }
    })();
    lane.done
      .catch((err: unknown) => {
        // Reading the event store failed (a handler's failure is already recorded).
        if (!lane.stopped && err !== STOPPED && !lane.failure) return fail(r, lane, failureAt(err));
      })
      .finally(() => {
        r.lanes.delete(lane);
        // A loop whose generation went away (swapped out or replaced) is no longer the projection's.
        if (r.serving === lane && lane.failure === undefined) r.serving = undefined;
        if (r.building === lane && lane.failure === undefined) r.building = undefined;
      });
    return lane;
  }

  // Makes a stored record the runner's state: starts a rebuild if the defined version is newer, keeps a loop on the
  // active generation when its version is the defined one (an older one's handlers are not here to apply), keeps a
  // loop on the rebuild, ends loops on generations that went away, and swaps a finished rebuild in.
  async function attach(r: Runner<Tx>, record: ProjectionRecord): Promise<void> {
    const { def } = r;
    if (record.version > def.version) {
      throw new ChronicleError(
        'INVALID_ARGUMENT',
        `projection ${def.name}: the read store holds version ${record.version}, newer than the defined ${def.version}`,
      );
    }
    let rebuild = record.rebuild?.version === def.version ? record.rebuild : undefined;
    if (!rebuild && record.version < def.version) {
      const generation = await readStore.beginGeneration(def.name, def.version, def.setup);
      rebuild = { generation, version: def.version, position: 0 };
    }
    const before = r.record?.position;
    r.record = { ...record, failure: undefined, rebuild };
    r.knownHead = await eventStore.headPosition();
    if (before !== undefined && record.position > before) served(r, record.position);
    else waiters.changed(def.name);
    const keepServing = record.version === def.version;
    const lanes = [r.serving, r.building];
    r.serving = undefined;
    r.building = undefined;
    for (const lane of lanes) {
      if (!lane) continue;
      if (keepServing && lane.generation === record.generation) r.serving = lane;
      else if (lane.generation === rebuild?.generation) r.building = lane;
      else retire(lane);
    }
    if (running && r.started) {
      if (keepServing && !r.serving) r.serving = follow(r, record.generation);
      if (rebuild && !r.building) r.building = follow(r, rebuild.generation);
    }
    r.caughtUp = record.position >= r.knownHead;
    if (rebuild) {
      r.target = Math.max(r.knownHead, record.position);
      await maybeSwap(r);
    } else {
      // No rebuild left to wait for: another projector swapped it in.
      settleRebuild(r);
    }
  }

  // Loads the stored record and attaches to it, creating the first generation on a first run. Losing a race to
  // another projector doing the same (CONCURRENCY_CONFLICT) just means loading again.
  async function adopt(r: Runner<Tx>, clearFailure: boolean): Promise<void> {
    const { def } = r;
    for (let reloads = 1; ; reloads++) {
      try {
        let record = await readStore.load(def.name);
        if (!record || record.generation === 0) {
          // First run against this store: build generation 1 and serve it while it catches up.
          const generation =
            record?.rebuild?.version === def.version
              ? record.rebuild.generation
              : await readStore.beginGeneration(def.name, def.version, def.setup);
          await readStore.swapGeneration(def.name, generation, 0);
          record = (await readStore.load(def.name))!;
        }
        // Starting again is how a failure is retried: clear it and resume from the failing event.
        if (clearFailure && record.failure) await readStore.setFailure(def.name, undefined);
        await attach(r, record);
        return;
      } catch (err) {
        if (!isConflict(err) || reloads >= MAX_RELOADS) throw err;
      }
    }
  }

  async function startRunner(r: Runner<Tx>): Promise<void> {
    if (!running || r.started) return;
    r.failure = undefined;
    r.started = true;
    try {
      await adopt(r, true);
    } catch (err) {
      await stopLoops(r);
      await fail(r, undefined, failureAt(err));
    }
  }

  async function stopLoops(r: Runner<Tx>): Promise<void> {
    r.started = false;
    const lanes = [...r.lanes];
    for (const lane of lanes) retire(lane);
    await Promise.all(lanes.map((lane) => lane.done.catch(() => {})));
    r.serving = undefined;
    r.building = undefined;
  }

  async function age(position: number, now: number): Promise<number> {
    const [next] = await eventStore.readAll({ from: position, limit: 1 });
    const at = next ? Date.parse(next.metadata.timestamp) : Number.NaN;
    return Number.isFinite(at) ? Math.max(0, (now - at) / 1000) : 0;
  }

  return {
    async start() {
      if (running) return;
      running = true;
      await Promise.all([...runners.values()].map((r) => serial(r, () => startRunner(r))));
    },

    async stop() {
      if (!running) return;
      running = false;
      await Promise.all([...runners.values()].map((r) => serial(r, () => stopLoops(r))));
      pages.stop();
      const closed = () => new ChronicleError('CLOSED', 'projector stopped');
      waiters.rejectAll(closed);
      for (const r of runners.values()) settleRebuild(r, closed());
    },

    async status() {
      const head = await eventStore.headPosition();
      const now = Date.now();
      return Promise.all(
        [...runners.values()].map(async (r): Promise<ProjectionStatus> => {
          const record = running ? r.record : ((await readStore.load(r.def.name)) ?? r.record);
          const position = record?.position ?? 0;
          const lagEvents = Math.max(0, head - position);
          const status: ProjectionStatus = {
            name: r.def.name,
            version: record?.version || r.def.version,
            position,
            lagEvents,
            lagSeconds: lagEvents > 0 ? await age(position + 1, now) : 0,
            state: running ? stateOf(r) : 'stopped',
          };
          const failure = running ? failureOf(r) : (record?.failure ?? failureOf(r));
          if (failure) {
            const { message, code, eventId, position: at, type, generation } = failure;
            status.lastError = {
              message,
              ...(code !== undefined && { code }),
              ...(eventId !== undefined && { eventId, position: at, type }),
              ...(generation !== undefined && { generation }),
            };
          }
          if (record?.rebuild) {
            const { version, position: at, generation } = record.rebuild;
            const building = running && r.building?.generation === generation ? r.building : undefined;
            const target = building ? goalOf(r) : Math.max(head, position);
            status.rebuild = { version, position: at, target };
            if (building?.failure || (!running && failure?.generation === generation)) status.rebuild.failed = true;
          }
          return status;
        }),
      );
    },

    waitForPosition(position, options = {}) {
      const timeoutMs = options.timeoutMs ?? 5000;
      try {
        if (!Number.isSafeInteger(position) || position < 0) {
          throw new ChronicleError('INVALID_ARGUMENT', 'position must be a non-negative integer');
        }
        // Node turns a timer above 2^31-1 ms into 1 ms.
        if (!Number.isFinite(timeoutMs) || timeoutMs < 0 || timeoutMs > MAX_TIMER_MS) {
          throw new ChronicleError('INVALID_ARGUMENT', `timeoutMs must be between 0 and ${MAX_TIMER_MS}`);
        }
        const names = options.projections ?? [...runners.keys()];
        for (const name of names) {
          const r = runnerOf(name);
          const reached = (r.record?.position ?? 0) >= position;
          if (stateOf(r) === 'failed' && !reached) throw projectionFailed(r);
          // Nothing will move a stopped projector: say so now rather than at the timeout.
          if (!running && !reached) throw new ChronicleError('CLOSED', `projector is not running; ${name} is not at ${position}`);
        }
        return waiters.wait(names, position, timeoutMs);
      } catch (err) {
        return Promise.reject(err);
      }
    },

    async rebuild(name) {
      const r = runnerOf(name);
      assertRunning();
      let done: Promise<void> | undefined;
      await serial(r, async () => {
        if (!running) return;
        await stopLoops(r);
        // Registered only now: a retry, skip or start queued before this step must not settle this rebuild.
        done = new Promise<void>((resolve, reject) => r.rebuildWaiters.push({ resolve, reject }));
        try {
          await readStore.beginGeneration(name, r.def.version, r.def.setup);
        } catch (err) {
          return fail(r, undefined, failureAt(err));
        }
        // The new generation carries the defined version, so starting picks it up as the rebuild to run.
        await startRunner(r);
      });
      if (!done) throw new ChronicleError('CLOSED', 'projector stopped');
      return done;
    },

    async retry(name) {
      const r = runnerOf(name);
      assertRunning();
      await serial(r, async () => {
        if (!running || (stateOf(r) !== 'failed' && !r.building?.failure)) return;
        await stopLoops(r);
        await startRunner(r);
      });
    },

    async skip(name) {
      const r = runnerOf(name);
      assertRunning();
      await serial(r, async () => {
        // The served generation's failure first: it is what queries wait on.
        const lane = r.serving?.failure ? r.serving : r.building?.failure ? r.building : undefined;
        const failure = lane?.failure;
        if (!lane || failure?.eventId === undefined) {
          throw new ChronicleError('INVALID_ARGUMENT', `projection ${name} is not stopped on a failed event`);
        }
        try {
          await readStore.skip(name, lane.generation, failure);
        } catch (err) {
          // Another projector moved past the event meanwhile; starting again continues from where it got to.
          if (!isConflict(err)) throw err;
        }
        await stopLoops(r);
        await startRunner(r);
      });
    },

    onChange(listener) {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },
  };
}
