// The projector: one checkpointed loop per projection, applying batches of events to a read store with each
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
  lastError?: { message: string; eventId?: string; position?: number; type?: string };
  /** Progress of a rebuild into fresh tables; it swaps in once `position` reaches `target`. */
  rebuild?: { version: number; position: number; target: number };
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
   * CLOSED when the projector stops; NOT_FOUND unknown projection; INVALID_ARGUMENT bad position or timeout
   */
  waitForPosition(position: number, options?: WaitForPositionOptions): Promise<void>;
  /**
   * Replays every event into a fresh generation while the current one keeps serving, then swaps them.
   * Until the swap the served tables stay at the position the rebuild started from, so a waitForPosition
   * (minPosition) on this projection for a later position waits for the swap and may time out on a long rebuild.
   * Resolves after the swap. @throws NOT_FOUND, CLOSED (not running or stopped meanwhile), PROJECTION_FAILED
   */
  rebuild(name: string): Promise<void>;
  /** Restarts a failed projection from its failing event; no-op unless failed. @throws NOT_FOUND, CLOSED */
  retry(name: string): Promise<void>;
  /** Records a failed projection's failing event as skipped and continues after it. @throws NOT_FOUND, CLOSED, INVALID_ARGUMENT (not failed on an event) */
  skip(name: string): Promise<void>;
  /** Calls `listener` after each committed change; returns the unsubscribe function. */
  onChange(listener: (change: ProjectionChange) => void): () => void;
}

// A projection's read-apply loop; stopping it lets the batch in flight finish.
type Loop = { stopped: boolean; wake: () => void; done: Promise<void> };

type Runner<Tx> = {
  def: Projection<Tx>;
  types: ReadonlySet<string>;
  record: ProjectionRecord | undefined;
  state: ProjectionState;
  loop: Loop | undefined;
  /** The generation the loop writes: the active one, or the rebuild's. */
  writing: number;
  /** A rebuild swaps in once its checkpoint reaches this. */
  target: number;
  knownHead: number;
  failure: ProjectionFailure | undefined;
  ops: Promise<void>;
  rebuildWaiters: Array<{ resolve: () => void; reject: (err: Error) => void }>;
};

// Thrown out of a batch to end a failed projection's loop.
const STOPPED = new ChronicleError('PROJECTION_FAILED', 'projection stopped on a failure');
// Reloads in a row that may each lose a race to another projector before this one gives up.
const MAX_RELOADS = 10;

// The store's checkpoint moved or its generation changed under us: another projector sharing the store got there first.
const isConflict = (err: unknown) => isChronicleError(err, 'CONCURRENCY_CONFLICT');

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

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
      state: 'stopped',
      loop: undefined,
      writing: 0,
      target: 0,
      knownHead: 0,
      failure: undefined,
      ops: Promise.resolve(),
      rebuildWaiters: [],
    });
  }
  const pages = new LogPages(eventStore, batchSize, pollIntervalMs, () => {
    let low = Number.POSITIVE_INFINITY;
    for (const r of runners.values()) if (r.loop && r.state !== 'failed') low = Math.min(low, checkpointOf(r) + 1);
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

  // Control operations on one projection run one at a time; batches run inside its loop.
  function serial(r: Runner<Tx>, op: () => Promise<void>): Promise<void> {
    const next = r.ops.then(op);
    r.ops = next.catch(() => {});
    return next;
  }

  function projectionFailed(r: Runner<Tx>): ChronicleError {
    return new ChronicleError('PROJECTION_FAILED', `projection ${r.def.name} failed: ${r.failure?.message ?? 'unknown error'}`, {
      details: { projection: r.def.name, position: r.record?.position ?? 0, lastError: r.failure },
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

  async function fail(r: Runner<Tx>, failure: ProjectionFailure): Promise<void> {
    r.failure = failure;
    r.state = 'failed';
    try {
      await readStore.setFailure(r.def.name, failure);
    } catch {
      // The store may be what failed; the failure is still reported through status().
    }
    waiters.failed(r.def.name, () => projectionFailed(r));
    settleRebuild(r, projectionFailed(r));
  }

  const failureOf = (err: unknown, event?: RecordedEvent): ProjectionFailure => ({
    message: message(err),
    ...(event && { eventId: event.id, position: event.position, type: event.type }),
    at: new Date().toISOString(),
  });

  const rebuilding = (r: Runner<Tx>) => r.record?.rebuild !== undefined && r.writing === r.record.rebuild.generation;
  // The stored checkpoint of the generation being written, as this projector last saw it.
  const checkpointOf = (r: Runner<Tx>) => (rebuilding(r) ? r.record!.rebuild!.position : r.record!.position);

  async function swap(r: Runner<Tx>): Promise<void> {
    const record = r.record!;
    const rebuild = record.rebuild!;
    await readStore.swapGeneration(r.def.name, rebuild.generation, record.generation);
    r.record = { name: record.name, version: rebuild.version, generation: rebuild.generation, position: rebuild.position };
    r.knownHead = await eventStore.headPosition();
    r.state = rebuild.position >= r.knownHead ? 'live' : 'catching_up';
    served(r, rebuild.position);
    settleRebuild(r);
  }

  async function committed(r: Runner<Tx>, checkpoint: number): Promise<void> {
    const record = r.record!;
    if (rebuilding(r)) {
      record.rebuild!.position = checkpoint;
      if (checkpoint >= r.target) await swap(r);
      return;
    }
    record.position = checkpoint;
    if (r.state === 'catching_up' && checkpoint >= r.knownHead) {
      r.knownHead = await eventStore.headPosition();
      if (checkpoint >= r.knownHead) r.state = 'live';
    }
    served(r, checkpoint);
  }

  // Commits the events before the one that failed, so only the culprit is left to retry or skip.
  async function isolate(
    r: Runner<Tx>,
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
          r.writing,
          k === 0 ? undefined : (tx) => runHandlers(handlers, before, tx),
          checkpoint,
          after,
        );
        await committed(r, checkpoint);
        return failureOf(failure.error, events[k]);
      } catch (err) {
        // A handler that fails earlier on the second run (not deterministic) is the culprit instead.
        if (err instanceof HandlerFailure && err.index < k) failure = err;
        else throw err;
      }
    }
  }

  async function onBatch(r: Runner<Tx>, events: readonly RecordedEvent[], checkpoint: number): Promise<void> {
    const { name, handlers } = r.def;
    const after = checkpointOf(r);
    try {
      await readStore.apply(
        name,
        r.writing,
        events.length === 0 ? undefined : (tx) => runHandlers(handlers, events, tx),
        checkpoint,
        after,
      );
    } catch (err) {
      let failure: ProjectionFailure;
      try {
        if (isConflict(err)) throw err;
        failure = err instanceof HandlerFailure ? await isolate(r, events, err, after) : failureOf(err);
      } catch (inner) {
        if (isConflict(inner)) return resync(r);
        failure = failureOf(inner);
      }
      await fail(r, failure);
      throw STOPPED;
    }
    try {
      await committed(r, checkpoint);
    } catch (err) {
      if (isConflict(err)) return resync(r);
      await fail(r, failureOf(err));
      throw STOPPED;
    }
  }

  // Another projector on the same store applied this batch (or swapped generations) first: not a failure. Take up
  // the stored state, which settles the waits it satisfies; the loop goes on after its checkpoint.
  async function resync(r: Runner<Tx>): Promise<void> {
    try {
      await adopt(r, false);
    } catch (err) {
      await fail(r, failureOf(err));
      throw STOPPED;
    }
  }

  function follow(r: Runner<Tx>): void {
    const loop: Loop = { stopped: false, wake: () => {}, done: Promise.resolve() };
    loop.done = (async () => {
      while (!loop.stopped) {
        // Read afresh each time: a batch, a swap or a reload after a conflict may have moved it.
        const from = checkpointOf(r) + 1;
        const page = await pages.read(from);
        if (loop.stopped) break;
        if (!page) {
          const waiting = pages.wait(from);
          loop.wake = waiting.cancel;
          await waiting.promise;
          continue;
        }
        // The page is every event; the checkpoint still moves past those this projection does not handle.
        const events = page.events.filter((e) => r.types.has(e.type));
        await onBatch(r, events, page.checkpoint);
      }
    })();
    r.loop = loop;
    loop.done.catch((err: unknown) => {
      // Reading the event store failed (a handler's failure is already recorded).
      if (r.loop === loop && err !== STOPPED && r.state !== 'failed') void fail(r, failureOf(err));
    });
  }

  // Makes a stored record the runner's state: picks the generation to write, starting a rebuild if the defined
  // version is newer, and swaps a finished rebuild in.
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
    if (rebuild) {
      r.writing = rebuild.generation;
      r.target = Math.max(r.knownHead, record.position);
      r.state = 'rebuilding';
      if (rebuild.position >= r.target) await swap(r);
    } else {
      r.writing = record.generation;
      r.state = record.position >= r.knownHead ? 'live' : 'catching_up';
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
    if (!running || r.loop) return;
    try {
      r.failure = undefined;
      await adopt(r, true);
      follow(r);
    } catch (err) {
      r.loop = undefined;
      await fail(r, failureOf(err));
    }
  }

  async function stopRunner(r: Runner<Tx>): Promise<void> {
    const loop = r.loop;
    r.loop = undefined;
    if (loop) {
      loop.stopped = true;
      loop.wake();
      await loop.done.catch(() => {});
    }
    r.state = 'stopped';
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
      await Promise.all([...runners.values()].map((r) => serial(r, () => stopRunner(r))));
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
            state: running ? r.state : 'stopped',
          };
          const failure = running ? r.failure : (record?.failure ?? r.failure);
          if (failure) {
            const { message, eventId, position: at, type } = failure;
            status.lastError = { message, ...(eventId !== undefined && { eventId, position: at, type }) };
          }
          if (record?.rebuild) {
            const target = running && rebuilding(r) ? r.target : Math.max(head, position);
            status.rebuild = { version: record.rebuild.version, position: record.rebuild.position, target };
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
        if (!Number.isFinite(timeoutMs) || timeoutMs < 0) {
          throw new ChronicleError('INVALID_ARGUMENT', 'timeoutMs must be a non-negative number');
        }
        const names = options.projections ?? [...runners.keys()];
        for (const name of names) {
          const r = runnerOf(name);
          if (r.state === 'failed' && (r.record?.position ?? 0) < position) throw projectionFailed(r);
        }
        return waiters.wait(names, position, timeoutMs);
      } catch (err) {
        return Promise.reject(err);
      }
    },

    async rebuild(name) {
      const r = runnerOf(name);
      assertRunning();
      const done = new Promise<void>((resolve, reject) => r.rebuildWaiters.push({ resolve, reject }));
      await serial(r, async () => {
        if (!running) return settleRebuild(r, new ChronicleError('CLOSED', 'projector stopped'));
        await stopRunner(r);
        try {
          await readStore.beginGeneration(name, r.def.version, r.def.setup);
        } catch (err) {
          return fail(r, failureOf(err));
        }
        // The new generation carries the defined version, so starting picks it up as the rebuild to run.
        await startRunner(r);
      });
      return done;
    },

    async retry(name) {
      const r = runnerOf(name);
      assertRunning();
      await serial(r, async () => {
        if (r.state !== 'failed' || !running) return;
        await stopRunner(r);
        await startRunner(r);
      });
    },

    async skip(name) {
      const r = runnerOf(name);
      assertRunning();
      await serial(r, async () => {
        const failure = r.failure;
        if (r.state !== 'failed' || failure?.eventId === undefined) {
          throw new ChronicleError('INVALID_ARGUMENT', `projection ${name} is not stopped on a failed event`);
        }
        try {
          await readStore.skip(name, r.writing, failure);
        } catch (err) {
          // Another projector moved past the event meanwhile; starting again continues from where it got to.
          if (!isConflict(err)) throw err;
        }
        await stopRunner(r);
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
