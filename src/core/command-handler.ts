// Runs a decider against the event store: load, decide, append with the version read, retry on conflict.

import { runIdempotent } from './command-idempotency.js';
import { commandMetadata, withMetadata } from './command-metadata.js';
import type { Decider, StreamModel } from './decider.js';
import { ChronicleError, isChronicleError } from './errors.js';
import type { AppendResult, EventStore, NewEvent, RecordedEvent } from './event-store.js';
import type { Principal } from './messages.js';
import { type SnapshotOptions, snapshotPolicy } from './snapshots/snapshot-policy.js';

/** What every command returns: a status, never read-model data. */
export type CommandResult = {
  streamId: string;
  version: number;
  /** Global position of the last event written; pass it as `minPosition` to read your writes. */
  position: number;
};

/** Per-dispatch context a command handler receives. */
export type CommandContext = {
  principal?: Principal;
  /** The tenant the command is sent for (the principal's); stored in the events' `metadata.tenantId`. */
  tenantId?: string;
  idempotencyKey?: string;
  correlationId?: string;
  causationId?: string;
  /** W3C trace context of the dispatch, stored in the events' metadata so what reads them can link back. */
  traceparent?: string;
};

export type Command<Type extends string = string, Data = unknown> = { type: Type; data: Data };

/** Handles one command type; returns its status. */
export type CommandHandler<C extends Command = Command> = (command: C, context: CommandContext) => Promise<CommandResult>;

export type CommandHandlerOptions<C extends Command, E extends { type: string; data: unknown }, S> = {
  store: EventStore;
  decider: Decider<C, E, S>;
  /** The stream a command targets, e.g. `c => \`order-${c.data.orderId}\``. */
  streamId: (command: C) => string;
  /** Conflicts retried before CONCURRENCY_CONFLICT is raised. Default 3. */
  maxRetries?: number;
  /** Streams whose folded state is kept in memory (see MultiStreamHandlerOptions.cacheSize). Default 1000; 0 turns it off. */
  cacheSize?: number;
  /** Save the stream's state every `every` events, and load from the latest snapshot plus the tail (see SnapshotOptions). */
  snapshot?: SnapshotOptions;
};

/**
 * A handler for commands that touch one stream. @throws INVALID_ARGUMENT (at once) malformed `snapshot` options
 * @throws DOMAIN_RULE (from the decider), CONCURRENCY_CONFLICT after the retries, IDEMPOTENCY_MISMATCH, STREAM_DELETED,
 *   STORE_ERROR
 */
export function createCommandHandler<C extends Command, E extends { type: string; data: unknown }, S>(
  options: CommandHandlerOptions<C, E, S>,
): CommandHandler<C> {
  const { store, decider, streamId } = options;
  return createMultiStreamHandler({
    store,
    maxRetries: options.maxRetries,
    cacheSize: options.cacheSize,
    snapshot: options.snapshot,
    streams: (command: C) => ({ stream: { streamId: streamId(command), model: decider } }),
    decide: (command, { stream }) => [{ streamId: streamId(command), events: decider.decide(command, stream) }],
  });
}

/** A stream a command reads, and the model its history folds with. */
export type StreamSpec<S = any> = { streamId: string; model: StreamModel<S, any> };

/**
 * The streams a command reads, by role: one stream, or a map of them (e.g. each product of an order, keyed by id).
 * The first stream of the first role is the one the command's status reports.
 */
export type StreamRoles = { readonly [role: string]: StreamSpec | ReadonlyMap<string, StreamSpec> };

/** The folded states `decide` receives: each role's state, typed by its model (a map of states for a map role). */
export type StatesOf<R extends StreamRoles> = {
  readonly [K in keyof R]: R[K] extends ReadonlyMap<infer Key, StreamSpec<infer S>>
    ? ReadonlyMap<Key, S>
    : R[K] extends StreamSpec<infer S>
      ? S
      : never;
};

/** Reads a stream's current state (through the handler's cache) while choosing which streams a command needs. */
export type LoadState = <S>(streamId: string, model: StreamModel<S, any>) => Promise<S>;

/** Events a decision appends, per stream. */
export type StreamEvents = ReadonlyArray<{ streamId: string; events: readonly NewEvent[] }>;

export type MultiStreamHandlerOptions<C extends Command, R extends StreamRoles> = {
  store: EventStore;
  /**
   * The streams a command reads, by role. It may read state first through `load` (e.g. an order, to find the
   * products whose stock it moves). Streams read that way are version-checked at append like the others, and this
   * runs again on every retry, so a choice made on stale state is redone.
   */
  streams: (command: C, load: LoadState) => R | Promise<R>;
  /** Pure: the events to append per stream, from every role's state. Throw DOMAIN_RULE to refuse. */
  decide: (command: C, states: NoInfer<StatesOf<R>>, context: CommandContext) => StreamEvents;
  maxRetries?: number;
  /**
   * Streams whose folded state the handler keeps in memory, so a command reads only the events appended since
   * (the store stays the truth: every load asks it for newer events). Default 1000; 0 turns the cache off.
   * Requires `evolve` to return new state rather than mutate the state it is given.
   */
  cacheSize?: number;
  /**
   * Snapshots of every stream it loads: a stream's state is saved (out of band) once `every` events were folded since
   * the last one, and a load not served by the cache starts from the latest snapshot of this `name` and `version`.
   */
  snapshot?: SnapshotOptions;
};

type Loaded = {
  streamId: string;
  model: StreamModel<unknown, unknown>;
  state: unknown;
  version: number;
  position: number;
  /** The stream version of its latest snapshot (saved, or being saved); 0 for none. */
  snapshotAt: number;
};

/**
 * A handler for commands whose rule spans several streams (e.g. an order reserving stock on each
 * product). Every loaded stream is checked at the version read, so the decision holds atomically.
 * @throws DOMAIN_RULE, CONCURRENCY_CONFLICT after the retries, IDEMPOTENCY_MISMATCH, INVALID_ARGUMENT, STREAM_DELETED,
 *   STORE_ERROR
 */
export function createMultiStreamHandler<C extends Command, R extends StreamRoles>(
  options: MultiStreamHandlerOptions<C, R>,
): CommandHandler<C> {
  const { store } = options;
  const maxRetries = options.maxRetries ?? 3;
  const cacheSize = options.cacheSize ?? 1000;
  // Map order is recency order: the least recently loaded stream is evicted first.
  const cache = new Map<string, Loaded>();
  const snapshots = snapshotPolicy(options.snapshot, store);

  async function loadStream(streamId: string, model: StreamModel<unknown, unknown>): Promise<Loaded> {
    const cached = cache.get(streamId);
    let base = cached?.model === model ? cached : { state: model.initialState, version: 0, position: 0, snapshotAt: 0 };
    let events: RecordedEvent[];
    try {
      const snapshot = base === cached || !snapshots ? undefined : await snapshots.load(streamId);
      if (snapshot) {
        // Read from the snapshot's own version: its event must still be there for the snapshot to be trusted.
        events = await store.readStream(streamId, { from: snapshot.version });
        if (snapshots?.vouches(snapshot, events)) {
          base = { ...snapshot, snapshotAt: snapshot.version };
          events = events.slice(1);
        } else {
          // Replaced by this load's state at once: left in place, it would cost every load a second read.
          base = { ...base, snapshotAt: Number.NEGATIVE_INFINITY };
          events = await store.readStream(streamId);
        }
      } else {
        events = await store.readStream(streamId, { from: base.version + 1 });
      }
    } catch (err) {
      cache.delete(streamId);
      throw err;
    }
    let state = base.state;
    for (const event of events) state = model.evolve(state, event);
    const last = events[events.length - 1];
    const loaded: Loaded = {
      streamId,
      model,
      state,
      version: last?.version ?? base.version,
      position: last?.position ?? base.position,
      snapshotAt: base.snapshotAt,
    };
    if (snapshots) loaded.snapshotAt = snapshots.afterLoad(streamId, loaded, loaded.snapshotAt);
    // An empty stream saves no read when cached, and new streams (every new order) would evict the ones that do.
    if (cacheSize > 0 && loaded.version > 0) {
      // Concurrent loads of one stream can finish out of order; keep the furthest.
      const current = cache.get(streamId);
      if (current?.model !== model || current.version <= loaded.version) {
        cache.delete(streamId);
        cache.set(streamId, loaded);
        if (cache.size > cacheSize) cache.delete(cache.keys().next().value as string);
      }
    }
    return loaded;
  }

  // One attempt: choose the streams, load each once, and return them (the reported one first) with every stream read
  // along the way, and the states by role.
  async function loadAll(command: C): Promise<{ loaded: Loaded[]; states: StatesOf<R> }> {
    const loads = new Map<string, Promise<Loaded>>();
    const load = (streamId: string, model: StreamModel<unknown, unknown>) => {
      let loading = loads.get(streamId);
      if (!loading) {
        loading = loadStream(streamId, model);
        // Observed below; this only keeps a failure unhandled-free if streams() throws first.
        loading.catch(() => {});
        loads.set(streamId, loading);
      }
      return loading;
    };
    const roles = await options.streams(command, async (streamId, model) => (await load(streamId, model)).state as never);
    const specs: StreamSpec[] = [];
    const entries = typeof roles === 'object' && roles !== null ? Object.entries(roles) : [];
    for (const [name, role] of entries) {
      const list = role instanceof Map ? [...role.values()] : [role];
      for (const spec of list as unknown[]) {
        const s = spec as Partial<StreamSpec> | undefined;
        if (typeof s?.streamId !== 'string' || typeof s.model?.evolve !== 'function') {
          throw new ChronicleError('INVALID_ARGUMENT', `${command.type}: role ${name} is not a stream ({ streamId, model })`);
        }
        specs.push(s as StreamSpec);
      }
      // The status names the first stream of the first role: an empty first role would silently name another.
      if (specs.length === 0)
        throw new ChronicleError('INVALID_ARGUMENT', `${command.type}: its first role ${name} names no stream`);
    }
    if (specs.length === 0) throw new ChronicleError('INVALID_ARGUMENT', `${command.type} names no stream`);
    const loaded = await Promise.all(specs.map((s) => load(s.streamId, s.model)));
    for (let i = 0; i < loaded.length; i++) {
      if (loaded[i].model !== specs[i].model) {
        throw new ChronicleError(
          'INVALID_ARGUMENT',
          `${command.type} reads stream ${specs[i].streamId} with two different models`,
        );
      }
    }
    const byId = new Map(loaded.map((l) => [l.streamId, l.state]));
    const states: Record<string, unknown> = {};
    for (const [name, role] of Object.entries(roles)) {
      states[name] =
        role instanceof Map
          ? new Map([...role].map(([key, spec]: [string, StreamSpec]) => [key, byId.get(spec.streamId)]))
          : byId.get((role as StreamSpec).streamId);
    }
    // A stream named by two roles is read and written once.
    const unique = [...new Map(loaded.map((l) => [l.streamId, l])).values()];
    // Streams read only to choose the others are checked at append too, so a stale choice conflicts and is redone.
    for (const [streamId, loading] of loads) if (!byId.has(streamId)) unique.push(await loading);
    return { loaded: unique, states: states as StatesOf<R> };
  }

  // One command: load, decide and append, again after each conflict up to maxRetries.
  async function attempt(
    command: C,
    context: CommandContext,
    key: string | undefined,
    fingerprint?: string,
  ): Promise<CommandResult> {
    const metadata = commandMetadata(command, context);

    for (let tries = 0; ; tries++) {
      const { loaded, states } = await loadAll(command);
      const decided = options.decide(command, states, context);
      const byStream = new Map(decided.map((d) => [d.streamId, d.events]));
      if (byStream.size !== decided.length) {
        throw new ChronicleError(
          'INVALID_ARGUMENT',
          `${command.type} decided events for one stream twice; give each stream one list`,
        );
      }
      const loadedIds = new Set(loaded.map((l) => l.streamId));
      for (const id of byStream.keys()) {
        if (!loadedIds.has(id))
          throw new ChronicleError('INVALID_ARGUMENT', `${command.type} decided events for unloaded stream ${id}`);
      }
      const primary = loaded[0];
      // A no-op with a key still goes to the store (as empty writes): that records the key, so a replay after
      // the state has moved on writes nothing, and checks the versions the no-op was decided on.
      if (key === undefined && [...byStream.values()].every((events) => events.length === 0)) {
        return { streamId: primary.streamId, version: primary.version, position: primary.position };
      }
      const writes = loaded.map((s) => ({
        streamId: s.streamId,
        expectedVersion: s.version,
        events: withMetadata(byStream.get(s.streamId) ?? [], metadata),
      }));
      try {
        const results =
          writes.length === 1
            ? [
                await store.append(writes[0].streamId, writes[0].events, {
                  expectedVersion: writes[0].expectedVersion,
                  idempotencyKey: key,
                  idempotencyFingerprint: fingerprint,
                }),
              ]
            : await store.appendMany(writes, { idempotencyKey: key, idempotencyFingerprint: fingerprint });
        return toResult(results);
      } catch (err) {
        // Someone else wrote first: the next attempt catches up on what they wrote and decides again.
        if (!isChronicleError(err, 'CONCURRENCY_CONFLICT') || tries >= maxRetries) throw err;
      }
    }
  }

  return (command, context) =>
    runIdempotent(store, command, context, (key, fingerprint) => attempt(command, context, key, fingerprint), toResult);
}

// The first stream is the one the status names; the position is the last event written anywhere,
// so a caller reading with minPosition sees every stream the command touched.
function toResult(results: readonly AppendResult[]): CommandResult {
  const [first] = results;
  return { streamId: first.streamId, version: first.version, position: Math.max(...results.map((r) => r.position)) };
}
