// Runs a decision over queries instead of streams: read the events its models select, fold each, decide, and append on
// the condition that no event any model selects was written since; on a conflict catch up and decide again.
import type { Command, CommandContext, CommandHandler, CommandResult } from './command-handler.js';
import { runIdempotent } from './command-idempotency.js';
import { commandMetadata, withMetadata } from './command-metadata.js';
import { DecisionCache, type FoldedModel, itemKey, queryKey } from './decision-cache.js';
import { ChronicleError, isChronicleError } from './errors.js';
import { matchesQuery, normalizeQuery } from './event-query.js';
import type { AppendResult, EventStore, Query, QueryItem, RecordedEvent, TaggedEvent } from './event-store.js';
import { assertScheduledCommand, COMMAND_SCHEDULED } from './workflows/schedule-events.js';

/**
 * What a decision reads: the events matching `query`, folded from `initialState` by `evolve`. `E` is what `evolve`
 * trusts the query to select, not checked at run time: a query by tag alone selects every type carrying the tag.
 * Folds are cached per (query, evolve, initial state as JSON).
 */
export type DecisionModel<S = any, E extends { type: string; data: unknown } = RecordedEvent> = {
  readonly query: Query;
  readonly initialState: S;
  /** Applies one matching event, in position order; returns new state (the cache keeps the states it is given). */
  evolve(state: S, event: E): S;
};

/** The models a command reads, by role: one model, or a map of them (e.g. each product of an order, by id). */
export type DecisionModels = {
  readonly [role: string]: DecisionModel<any, any> | ReadonlyMap<string, DecisionModel<any, any>>;
};

/** The folded states `decide` receives: each role's state, typed by its model (a map of states for a map role). */
export type DecisionStatesOf<M extends DecisionModels> = {
  readonly [K in keyof M]: M[K] extends ReadonlyMap<infer Key, DecisionModel<infer S, any>>
    ? ReadonlyMap<Key, S>
    : M[K] extends DecisionModel<infer S, any>
      ? S
      : never;
};

/** Folds a model now (through the cache), e.g. to find which products an order holds before naming their models. */
export type LoadDecision = <S>(model: DecisionModel<S, any>) => Promise<S>;

export type DecisionHandlerOptions<C extends Command, M extends DecisionModels> = {
  store: EventStore;
  /**
   * The models a command reads, by role. It may fold a model first through `load`; a model loaded that way is part
   * of the append condition like the others, and this runs again on every retry, so a choice made on stale state is
   * redone.
   */
  models: (command: C, load: LoadDecision) => M | Promise<M>;
  /** Pure: the events to append, each naming its stream, from every role's state. Throw DOMAIN_RULE to refuse. */
  decide: (command: C, states: NoInfer<DecisionStatesOf<M>>, context: CommandContext) => readonly TaggedEvent[];
  /** The stream the status names. Default: the stream of the first event decided (a decision that writes nothing then needs this). */
  reportStream?: (command: C) => string;
  /** Conflicts retried before CONCURRENCY_CONFLICT is raised. Default 3. */
  maxRetries?: number;
  /**
   * Models whose folded state the handler keeps in memory, keyed by query and `evolve`, so a command reads only the
   * events written since (the store stays the truth: every attempt reads what is newer). Default 1000; 0 turns it off.
   */
  cacheSize?: number;
};

/** The single-model form: one query per command, one fold. */
export type SingleDecisionHandlerOptions<C extends Command, S> = {
  store: EventStore;
  /** The events the command's decision depends on, e.g. `c => Query.tags(\`product:${c.data.productId}\`)`. */
  query: (command: C) => Query;
  model: { initialState: S; evolve(state: S, event: RecordedEvent): S };
  /** Pure: the events to append, each naming its stream. Throw DOMAIN_RULE to refuse. */
  decide: (command: C, state: S, context: CommandContext) => readonly TaggedEvent[];
  reportStream?: (command: C) => string;
  maxRetries?: number;
  cacheSize?: number;
};

/**
 * A handler whose consistency boundary is a set of queries: the append commits only if no event matching any of the
 * models' queries was written after the position read, so concurrent decisions over disjoint events never conflict.
 * @throws DOMAIN_RULE (from decide), CONCURRENCY_CONFLICT after the retries, IDEMPOTENCY_MISMATCH, INVALID_ARGUMENT
 *   (a malformed model or query, a decided event without a streamId, a malformed scheduled command, a no-op without
 *   reportStream), STREAM_DELETED,
 *   STORE_ERROR
 */
export function createDecisionHandler<C extends Command, M extends DecisionModels>(
  options: DecisionHandlerOptions<C, M>,
): CommandHandler<C>;
export function createDecisionHandler<C extends Command, S>(options: SingleDecisionHandlerOptions<C, S>): CommandHandler<C>;
export function createDecisionHandler(
  options: DecisionHandlerOptions<Command, DecisionModels> | SingleDecisionHandlerOptions<Command, unknown>,
): CommandHandler<Command> {
  return 'models' in options ? createHandler(options) : createHandler(fromSingle(options));
}

// The single form is the multi form with one role; its evolve is wrapped once, so the cache knows it across commands.
function fromSingle(options: SingleDecisionHandlerOptions<Command, unknown>): DecisionHandlerOptions<Command, DecisionModels> {
  const { model } = options;
  const evolve = (state: unknown, event: RecordedEvent) => model.evolve(state, event);
  return {
    store: options.store,
    models: (command) => ({ state: { query: options.query(command), initialState: model.initialState, evolve } }),
    decide: (command, states, context) => options.decide(command, states.state, context),
    reportStream: options.reportStream,
    maxRetries: options.maxRetries,
    cacheSize: options.cacheSize,
  };
}

type AnyModel = DecisionModel<unknown, RecordedEvent>;
// One distinct model in one attempt, keyed and normalized once; its read fills in `state` and `head`.
type Resolved = {
  key: string;
  query: Query;
  itemKeys: readonly string[];
  model: AnyModel;
  /** The cache entry when the attempt resolved the model (read from just past it), if any. */
  base: FoldedModel | undefined;
  state: unknown;
  head: number;
  /** An event folded into it in this read, or it came from the cache: worth a cache slot. */
  matched: boolean;
  /** Put in a read of this attempt already (a model named twice is read once). */
  picked: boolean;
};

function createHandler(options: DecisionHandlerOptions<Command, DecisionModels>): CommandHandler<Command> {
  const { store } = options;
  const maxRetries = options.maxRetries ?? 3;
  const cache = new DecisionCache(options.cacheSize ?? 1000);

  function resolve(command: Command, model: unknown, what: string): Resolved {
    const m = model as Partial<AnyModel> | undefined;
    if (typeof m !== 'object' || m === null || typeof m.evolve !== 'function' || !('initialState' in m)) {
      throw new ChronicleError(
        'INVALID_ARGUMENT',
        `${command.type}: ${what} is not a decision model ({ query, initialState, evolve })`,
      );
    }
    let query: Query;
    try {
      query = normalizeQuery(m.query);
    } catch (err) {
      throw new ChronicleError('INVALID_ARGUMENT', `${command.type}: ${what}: ${(err as Error).message}`, { cause: err });
    }
    const itemKeys = query.map(itemKey);
    const key = cache.key(queryKey(itemKeys), m.evolve, m.initialState);
    const base = cache.get(key);
    return {
      key,
      query,
      itemKeys,
      model: m as AnyModel,
      base,
      state: undefined,
      head: 0,
      matched: base !== undefined,
      picked: false,
    };
  }

  // One read for a group of models, from just past the lowest position any of them has folded; each folds only the
  // events past its own position that match its own query.
  async function readGroup(group: readonly Resolved[]): Promise<void> {
    if (group.length === 0) return;
    let lowest = Number.POSITIVE_INFINITY;
    for (const r of group) lowest = Math.min(lowest, r.base?.position ?? 0);
    const { events, head } = await store.read(union(group), { from: lowest + 1 });
    for (const r of group) {
      r.state = r.base === undefined ? r.model.initialState : r.base.state;
      r.head = head;
    }
    // One model: the read selected exactly its events. Several: each keeps those its own query matches.
    const alone = group.length === 1;
    for (const r of group) foldRead(r, events, alone);
    // A model nothing matched saves no read when cached, and new ones (every new order) would evict those that do.
    for (const r of group) if (r.matched) cache.set(r.key, { state: r.state, position: head });
  }

  // One attempt's reading: the models chosen (after any loads), each folded once, and the states by role.
  async function readAll(command: Command): Promise<{ folded: Resolved[]; states: Record<string, unknown> }> {
    // Each model object is resolved once, and models with the same key (query and evolve) are one fold.
    const byModel = new Map<unknown, Resolved>();
    const byKey = new Map<string, Resolved>();
    const once = (model: unknown, what: string): Resolved => {
      let resolved = byModel.get(model);
      if (resolved === undefined) {
        const fresh = resolve(command, model, what);
        resolved = byKey.get(fresh.key) ?? fresh;
        byKey.set(resolved.key, resolved);
        byModel.set(model, resolved);
      }
      return resolved;
    };
    const loads = new Map<string, Promise<Resolved>>();
    const load: LoadDecision = async (model) => {
      const resolved = once(model, 'a loaded model');
      let loading = loads.get(resolved.key);
      if (!loading) {
        loading = readGroup([resolved]).then(() => resolved);
        // Observed below; this only keeps a failure unhandled-free if models() throws first.
        loading.catch(() => {});
        loads.set(resolved.key, loading);
      }
      return (await loading).state as never;
    };
    const roles = await options.models(command, load);
    const entries = typeof roles === 'object' && roles !== null ? Object.entries(roles) : [];
    // A model already loaded is not read again: its state is the one the choice of models was made on.
    const cached: Resolved[] = [];
    const fresh: Resolved[] = [];
    const pick = (resolved: Resolved) => {
      if (loads.has(resolved.key) || resolved.picked) return;
      resolved.picked = true;
      (resolved.base === undefined ? fresh : cached).push(resolved);
    };
    for (const [name, role] of entries) {
      if (role instanceof Map) for (const model of role.values()) pick(once(model, `role ${name}`));
      else pick(once(role, `role ${name}`));
    }
    if (cached.length + fresh.length === 0 && loads.size === 0) {
      throw new ChronicleError('INVALID_ARGUMENT', `${command.type} reads no model`);
    }
    // The common cases (no loads; every model cached, or every one new) await one read, not three promises.
    const reading =
      cached.length === 0 || fresh.length === 0
        ? readGroup(cached.length === 0 ? fresh : cached)
        : Promise.all([readGroup(cached), readGroup(fresh)]);
    const [loaded] = loads.size === 0 ? [[], await reading] : await Promise.all([Promise.all(loads.values()), reading]);
    const states: Record<string, unknown> = {};
    for (const [name, role] of entries) {
      if (role instanceof Map) {
        const map = new Map<unknown, unknown>();
        for (const [key, model] of role) map.set(key, (byModel.get(model) as Resolved).state);
        states[name] = map;
      } else states[name] = (byModel.get(role) as Resolved).state;
    }
    return { folded: loaded.length === 0 ? [...cached, ...fresh] : [...loaded, ...cached, ...fresh], states };
  }

  // The status: the reported stream's version after the append, and the last position written (or `unwritten`).
  async function status(
    command: Command,
    results: readonly AppendResult[],
    unwritten: () => number | Promise<number>,
  ): Promise<CommandResult> {
    const streamId = options.reportStream?.(command) ?? results[0]?.streamId;
    if (streamId === undefined) throw noReportStream(command);
    const written = results.find((r) => r.streamId === streamId);
    const version = written ? written.version : (await store.streamInfo(streamId)).version;
    const position = results.length > 0 ? Math.max(...results.map((r) => r.position)) : await unwritten();
    return { streamId, version, position };
  }

  // One command: read, decide and append on the condition, again after each conflict up to maxRetries.
  async function attempt(
    command: Command,
    context: CommandContext,
    key: string | undefined,
    fingerprint: string | undefined,
  ): Promise<CommandResult> {
    const metadata = commandMetadata(command, context);
    for (let tries = 0; ; tries++) {
      const { folded, states } = await readAll(command);
      const decided = options.decide(command, states as never, context);
      if (!Array.isArray(decided)) throw new ChronicleError('INVALID_ARGUMENT', `${command.type} decided no event list`);
      for (const event of decided as readonly unknown[]) {
        const streamId = (event as Partial<TaggedEvent> | null)?.streamId;
        if (typeof streamId !== 'string' || streamId.length === 0) {
          throw new ChronicleError(
            'INVALID_ARGUMENT',
            `${command.type} decided an event without a streamId; each names its stream`,
          );
        }
        // A malformed schedule would commit and then stop the scheduler's projection on it, blocking every later one.
        if ((event as Partial<TaggedEvent>).type === COMMAND_SCHEDULED) assertScheduledCommand(event);
      }
      if (decided.length === 0 && options.reportStream === undefined) throw noReportStream(command);
      let readHead = 0;
      let lowestHead = Number.POSITIVE_INFINITY;
      for (const f of folded) {
        readHead = Math.max(readHead, f.head);
        lowestHead = Math.min(lowestHead, f.head);
      }
      // A no-op with a key still goes to the store (as an empty append): that records the key, so a replay after the
      // state has moved on writes nothing, and checks the state the no-op was decided on.
      if (decided.length === 0 && key === undefined) return status(command, [], () => readHead);
      try {
        const results = await store.append(withMetadata(decided, metadata), {
          // The lowest head: every model has folded at least that far, so anything later that matches is news to one.
          condition: { failIfEventsMatch: union(folded), after: lowestHead },
          idempotencyKey: key,
          idempotencyFingerprint: fingerprint,
        });
        return await status(command, results, () => readHead);
      } catch (err) {
        // Someone else wrote what we read: the next attempt catches up on it and decides again.
        if (!isChronicleError(err, 'CONCURRENCY_CONFLICT') || tries >= maxRetries) throw err;
      }
    }
  }

  return (command, context) =>
    runIdempotent(
      store,
      command,
      context,
      (key, fingerprint) => attempt(command, context, key, fingerprint),
      // A replayed no-op wrote nothing: the head now covers whatever it was decided on.
      (results) => status(command, results, () => store.headPosition()),
    );
}

function noReportStream(command: Command): ChronicleError {
  return new ChronicleError(
    'INVALID_ARGUMENT',
    `${command.type} decided no events and has no reportStream to name in its status`,
  );
}

// One query selecting what any of the models selects, each distinct item once.
function union(models: readonly Resolved[]): Query {
  if (models.length === 1) return models[0].query;
  const seen = new Set<string>();
  const items: QueryItem[] = [];
  for (const { query, itemKeys } of models) {
    for (let i = 0; i < query.length; i++) {
      if (seen.has(itemKeys[i])) continue;
      seen.add(itemKeys[i]);
      items.push(query[i]);
    }
  }
  return items;
}

// Folds the events of a read that are this model's and after its cached base; `alone` when the read was its own.
function foldRead(r: Resolved, events: readonly RecordedEvent[], alone: boolean): void {
  const after = r.base?.position ?? 0;
  for (const event of events) {
    if (event.position <= after || (!alone && !matchesQuery(event, r.query))) continue;
    r.state = r.model.evolve(r.state, event);
    r.matched = true;
  }
}
