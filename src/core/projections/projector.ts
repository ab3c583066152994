// The projector: one runner per projection, each applying batches of events to a read store with each batch's
// checkpoint in the same transaction. The runners read the log through one shared reader, so projections at the same
// position read and parse each page once between them. When the read store keeps leases, the projector is one worker
// among those sharing the store: it runs only the projections it holds a lease on, fencing every write with it.
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { ChronicleError } from '../errors.js';
import type { EventSource } from '../event-store.js';
import { CheckpointPoll } from './checkpoint-poll.js';
import { ControlPoll } from './control-poll.js';
import type { Projection } from './define-projection.js';
import { LeaseKeeper } from './lease-keeper.js';
import { LogPages } from './log-pages.js';
import { assertWaitArguments, PositionWaiters } from './position-waiters.js';
import { projectionFailed, servedFailure } from './projection-failure.js';
import { ProjectionRunner, type RunnerContext } from './projection-runner.js';
import { type ProjectionStatus, type ProjectionView, reportStatus, storedState } from './projection-status.js';
import type { ProjectionRecord, ProjectionStore } from './projection-store.js';

export type { ProjectionState, ProjectionStatus } from './projection-status.js';

/** Sent after every committed batch (and swap) that moved a projection's served checkpoint here. */
export type ProjectionChange = { projection: string; position: number };

export type WaitForPositionOptions = {
  /** Projections that must reach the position; default all. */
  projections?: readonly string[];
  /** Default 5000. */
  timeoutMs?: number;
};

/** How the projector takes part among the workers sharing a read store with leases. */
export type ProjectorWorkerOptions = {
  /** This worker's id in leases and status; unique per process. Default `<host>-<pid>-<random>`. */
  id?: string;
  /**
   * How long a lease lasts unless renewed (every third of it). Default 3000: a dead worker's projections move to
   * another within about that long. Renewals slower than two thirds of it lose the lease.
   */
  leaseTtlMs?: number;
};

export type ProjectorOptions<Tx> = {
  /**
   * The log the projections are built from: an event store, or another reader of the same log (a JetStream source
   * in a service without access to the event store). A source with `settled` is told how far every projection here
   * has committed, so it can acknowledge what it delivered.
   */
  eventStore: EventSource;
  readStore: ProjectionStore<Tx, unknown>;
  projections: readonly Projection<Tx>[];
  /** Most events per batch (one transaction each). Default 1000. */
  batchSize?: number;
  /**
   * How often to look for events appended by other processes, and to read the stored checkpoints of projections
   * another worker holds while someone waits on them. Default 200.
   */
  pollIntervalMs?: number;
  /** Used when the read store has `leases` (and then the projector is a worker); ignored otherwise. */
  worker?: ProjectorWorkerOptions;
  /** How long an append may stay open, holding the log's readers back, before status reports it. Default 5000. */
  stalledThresholdMs?: number;
  /**
   * How often to look for control requests (rebuild, retry, skip asked from another process, e.g. the CLI) when the
   * read store keeps them (`readStore.control`). Default 500.
   */
  controlPollIntervalMs?: number;
};

export interface Projector {
  /** This worker's id when the read store has leases; undefined otherwise. */
  readonly worker: string | undefined;
  /**
   * Loads each projection's checkpoint and starts following the log from it: a new projection gets its first
   * generation, a raised version starts a rebuild, a projection that failed before is retried.
   * Resolves once every projection runs (not when caught up). A projection that cannot start is marked failed.
   * With leases, only the projections this worker takes in its first round start here; the rest follow as they free up.
   */
  start(): Promise<void>;
  /** Stops every projection after its batch in flight (and with leases releases them); pending waits reject with CLOSED. */
  stop(): Promise<void>;
  /**
   * Position, lag, state and last error of every projection (reads the event store's head, hence async); with leases
   * also who holds each, and the stalled append holding the log's readers back when the event store reports one.
   */
  status(): Promise<ProjectionStatus[]>;
  /**
   * Resolves once every named projection's served checkpoint is ≥ `position`. A projection another worker holds is
   * waited on through its stored checkpoint, read every `pollIntervalMs`.
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
   * rebuild failed), LEASE_LOST (another worker holds the projection, or took it over meanwhile: the rebuild goes on there)
   */
  rebuild(name: string): Promise<void>;
  /** Restarts a failed projection from its failing event; no-op unless failed. @throws NOT_FOUND, CLOSED, LEASE_LOST (held elsewhere) */
  retry(name: string): Promise<void>;
  /**
   * Records a failed projection's failing event as skipped and continues after it.
   * @throws NOT_FOUND, CLOSED, INVALID_ARGUMENT (not failed on an event), LEASE_LOST (held elsewhere)
   */
  skip(name: string): Promise<void>;
  /** Calls `listener` after each change committed here; returns the unsubscribe function. */
  onChange(listener: (change: ProjectionChange) => void): () => void;
}

const MAX_TIMER_MS = 2 ** 31 - 1;
const DEFAULT_LEASE_TTL_MS = 3000;

const closed = () => new ChronicleError('CLOSED', 'projector stopped');

/** Creates a projector over an event store and a read store. @throws INVALID_ARGUMENT bad options or duplicate names */
export function createProjector<Tx>(options: ProjectorOptions<Tx>): Projector {
  const { eventStore, readStore, projections } = options;
  const batchSize = options.batchSize ?? 1000;
  const pollIntervalMs = options.pollIntervalMs ?? 200;
  const stalledThresholdMs = options.stalledThresholdMs ?? 5000;
  const controlPollIntervalMs = options.controlPollIntervalMs ?? 500;
  if (!eventStore || !readStore || !Array.isArray(projections)) {
    throw new ChronicleError('INVALID_ARGUMENT', 'createProjector needs eventStore, readStore and projections');
  }
  if (!Number.isSafeInteger(batchSize) || batchSize < 1)
    throw new ChronicleError('INVALID_ARGUMENT', 'batchSize must be a positive integer');
  if (!(pollIntervalMs > 0)) throw new ChronicleError('INVALID_ARGUMENT', 'pollIntervalMs must be positive');
  if (!(stalledThresholdMs >= 0)) throw new ChronicleError('INVALID_ARGUMENT', 'stalledThresholdMs must not be negative');
  if (!(controlPollIntervalMs > 0 && controlPollIntervalMs <= MAX_TIMER_MS)) {
    throw new ChronicleError('INVALID_ARGUMENT', `controlPollIntervalMs must be between 1 and ${MAX_TIMER_MS}`);
  }
  const leases = readStore.leases;
  const workerId = leases ? (options.worker?.id ?? `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`) : undefined;
  const leaseTtlMs = options.worker?.leaseTtlMs ?? DEFAULT_LEASE_TTL_MS;
  if (workerId === '') throw new ChronicleError('INVALID_ARGUMENT', 'worker.id must not be empty');
  if (!(leaseTtlMs >= 30 && leaseTtlMs <= MAX_TIMER_MS)) {
    throw new ChronicleError('INVALID_ARGUMENT', `worker.leaseTtlMs must be between 30 and ${MAX_TIMER_MS}`);
  }

  const runners = new Map<string, ProjectionRunner<Tx>>();
  // The stored records of projections not running here, as last polled for the waits on them.
  const stored = new Map<string, ProjectionRecord>();
  const listeners = new Set<(change: ProjectionChange) => void>();
  // Both are lower bounds of a checkpoint that only moves forward, so the higher one is the best known.
  const positionOf = (name: string) => Math.max(runners.get(name)?.position ?? 0, stored.get(name)?.position ?? 0);
  const waiters = new PositionWaiters(positionOf);
  let running = false;

  // The position every projection running here has committed through, as last told to the source.
  let settledAt = -1;
  const settle = () => {
    if (!eventStore.settled || !running) return;
    let low = Number.POSITIVE_INFINITY;
    for (const r of runners.values()) if (r.active) low = Math.min(low, r.durableThrough());
    if (low === Number.POSITIVE_INFINITY || low <= settledAt) return;
    try {
      eventStore.settled(low);
      settledAt = low;
    } catch {
      // The source's bookkeeping failing must not stop the batch that triggered it; the next commit tells it again
      // (never lower than what it was last told, since settledAt only moves on success).
    }
  };

  const pages = new LogPages(eventStore, batchSize, pollIntervalMs, () => {
    let low = Number.POSITIVE_INFINITY;
    for (const r of runners.values()) low = Math.min(low, r.lowWater());
    return low;
  });

  const poll = new CheckpointPoll(
    readStore,
    pollIntervalMs,
    () => running && waiters.waitsFor((name) => runners.get(name)?.active === false),
    (records) => {
      for (const record of records) {
        if (runners.get(record.name)?.active !== false) continue;
        stored.set(record.name, record);
        waiters.changed(record.name);
        const failure = servedFailure(record);
        if (failure) waiters.failed(record.name, () => projectionFailed(record.name, record.position, failure));
      }
    },
  );

  const context: RunnerContext<Tx> = {
    eventStore,
    readStore,
    pages,
    served(name, position) {
      waiters.changed(name);
      const change = { projection: name, position };
      for (const listener of listeners) {
        try {
          listener(change);
        } catch {
          // A listener's failure is its own; projecting goes on.
        }
      }
    },
    changed: (name) => waiters.changed(name),
    committed: settle,
    stuck: (name) => waiters.failed(name, () => runnerOf(name).failedError()),
    damaged(failure) {
      for (const r of runners.values()) r.damage(failure);
    },
    leaseLost(name) {
      keeper?.dropped(name);
      // Waits on it go on through the stored checkpoint.
      poll.kick();
    },
  };

  for (const def of projections) {
    if (runners.has(def.name)) throw new ChronicleError('INVALID_ARGUMENT', `projection ${def.name} is registered twice`);
    if (def.firstRun !== undefined && def.firstRun !== 'beginning' && def.firstRun !== 'head') {
      throw new ChronicleError('INVALID_ARGUMENT', `projection ${def.name}: firstRun must be 'beginning' or 'head'`);
    }
    runners.set(def.name, new ProjectionRunner(def, context));
  }

  const leaseLost = (name: string) => () =>
    new ChronicleError('LEASE_LOST', `projection ${name}: this worker no longer holds its lease`, {
      details: { projection: name, worker: workerId },
    });
  const keeper =
    leases &&
    new LeaseKeeper({
      leases,
      worker: workerId!,
      projections: [...runners.keys()],
      ttlMs: leaseTtlMs,
      acquired: (name, fence) => runnerOf(name).start(fence),
      async lost(name) {
        await runnerOf(name).stop(running ? leaseLost(name) : closed);
        poll.kick();
      },
    });

  function runnerOf(name: string): ProjectionRunner<Tx> {
    const r = runners.get(name);
    if (!r)
      throw new ChronicleError('NOT_FOUND', `no projection named ${JSON.stringify(name)}`, { details: { projection: name } });
    return r;
  }

  // Operations on a projection run where it runs: with leases, on the worker holding it.
  function operable(name: string): ProjectionRunner<Tx> {
    const r = runnerOf(name);
    if (!running) throw new ChronicleError('CLOSED', 'projector is not running');
    if (!r.active) {
      throw new ChronicleError(
        'LEASE_LOST',
        `projection ${name} is held by another worker, not by ${workerId}; operate on it there`,
        {
          details: { projection: name, worker: workerId },
        },
      );
    }
    return r;
  }

  // Requests from other processes are carried out here only for projections running here, by the operations below.
  const control =
    readStore.control &&
    new ControlPoll(readStore.control, controlPollIntervalMs, {
      worker: workerId ?? `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`,
      runsHere: (name) => running && runners.get(name)?.active === true,
      run: (action, name) => operable(name)[action](),
    });

  async function status(): Promise<ProjectionStatus[]> {
    const head = await eventStore.headPosition();
    const all = [...runners.values()];
    const fromStore = !running || all.some((r) => !r.active);
    const [records, leaseList] = await Promise.all([fromStore ? readStore.list() : undefined, leases?.list()]);
    const recordOf = new Map(records?.map((record) => [record.name, record]));
    const now = keeper?.storeNow() ?? Date.now();
    const owners = new Map(leaseList?.filter((l) => Date.parse(l.expiresAt) > now).map((l) => [l.projection, l.owner]));
    const views = all.map((r): ProjectionView => {
      if (running && r.active) return { ...r.view(), ...(keeper && { owner: workerId, held: true }) };
      const record = recordOf.get(r.name) ?? r.record;
      const owner = owners.get(r.name);
      return {
        name: r.name,
        definedVersion: r.def.version,
        record,
        // Another worker holds it: its stored record tells how it goes there.
        state: running && owner !== undefined && owner !== workerId ? storedState(record, head) : 'stopped',
        failure: record?.failure ?? r.currentFailure(),
        ...(keeper && { held: false, ...(owner !== undefined && { owner }) }),
      };
    });
    return reportStatus(views, { eventStore, head, stalledThresholdMs });
  }

  return {
    worker: workerId,

    async start() {
      if (running) return;
      running = true;
      if (keeper) await keeper.start();
      else await Promise.all([...runners.values()].map((r) => r.start()));
      control?.start();
      // Redeliveries of what the stored checkpoints already cover can be released before any batch runs.
      settle();
    },

    async stop() {
      if (!running) return;
      running = false;
      // Stops taking requests now; the ones being carried out settle (failed: CLOSED) once the runners stop below.
      const controlled = control?.stop();
      // First, so a round taking a lease right now hands it back instead of starting the projection.
      const leaving = keeper?.stop();
      const stopping = [...runners.values()].map((r) => r.stop(closed));
      await leaving;
      await Promise.all(stopping);
      poll.stop();
      pages.stop();
      waiters.rejectAll(closed);
      await controlled;
    },

    status,

    waitForPosition(position, options = {}) {
      const timeoutMs = options.timeoutMs ?? 5000;
      try {
        assertWaitArguments(position, timeoutMs);
        const names = options.projections ?? [...runners.keys()];
        for (const name of names) {
          const r = runnerOf(name);
          if (positionOf(name) >= position) continue;
          if (r.state() === 'failed') throw r.failedError();
          // Nothing will move a stopped projector: say so now rather than at the timeout.
          if (!running) throw new ChronicleError('CLOSED', `projector is not running; ${name} is not at ${position}`);
        }
        const waiting = waiters.wait(names, position, timeoutMs);
        poll.kick();
        return waiting;
      } catch (err) {
        return Promise.reject(err);
      }
    },

    async rebuild(name) {
      return operable(name).rebuild();
    },

    async retry(name) {
      await operable(name).retry();
    },

    async skip(name) {
      await operable(name).skip();
    },

    onChange(listener) {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },
  };
}
