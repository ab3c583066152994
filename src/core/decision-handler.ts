// Runs a decision over queries instead of streams: read the events its models select, fold each, decide, and append on
// the condition that no event any model selects was written since; on a conflict catch up and decide again.
import type { Command, CommandContext, CommandHandler, CommandResult } from './command-handler.js';
import { runIdempotent } from './command-idempotency.js';
import { commandMetadata, withMetadata } from './command-metadata.js';
import { canonicalQuery, DecisionCache, type FoldedModel } from './decision-cache.js';
import { ChronicleError, isChronicleError } from './errors.js';
import { matchesQuery, normalizeQuery } from './event-query.js';
import type { AppendResult, EventStore, Query, QueryItem, RecordedEvent, TaggedEvent } from './event-store.js';

/** What a decision reads: the events matching `query`, folded from `initialState` by `evolve`. */
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
 *   (a malformed model or query, a decided event without a streamId, a no-op without reportStream), STREAM_DELETED,
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
type Resolved = { key: string; query: Query; model: AnyModel };
type Folded = Resolved & { state: unknown; head: number };

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
    return { key: cache.key(canonicalQuery(query), m.evolve), query, model: m as AnyModel };
  }

  // One read for a group of models, from just past the lowest position any of them has folded; each folds only the
  // events past its own position that match its own query.
  async function readGroup(group: readonly Resolved[]): Promise<Folded[]> {
    if (group.length === 0) return [];
    const bases = group.map((r) => cache.get(r.key));
    const from = Math.min(...bases.map((b) => b?.position ?? 0)) + 1;
    const { events, head } = await store.read(union(group.map((r) => r.query)), { from });
    return group.map((r, i) => {
      const base: FoldedModel = bases[i] ?? { state: r.model.initialState, position: 0 };
      const alone = group.length === 1;
      let state = base.state;
      let matched = bases[i] !== undefined;
      for (const event of events) {
        if (event.position <= base.position || !(alone || matchesQuery(event, r.query))) continue;
        state = r.model.evolve(state, event);
        matched = true;
      }
      // A model nothing matched saves no read when cached, and new ones (every new order) would evict those that do.
      if (matched) cache.set(r.key, { state, position: head });
      return { ...r, state, head };
    });
  }

  // One attempt's reading: the models chosen (after any loads), each folded once, and the states by role.
  async function readAll(command: Command): Promise<{ folded: Folded[]; states: Record<string, unknown> }> {
    const loads = new Map<string, Promise<Folded>>();
    const load: LoadDecision = async (model) => {
      const resolved = resolve(command, model, 'a loaded model');
      let loading = loads.get(resolved.key);
      if (!loading) {
        loading = readGroup([resolved]).then(([folded]) => folded);
        // Observed below; this only keeps a failure unhandled-free if models() throws first.
        loading.catch(() => {});
        loads.set(resolved.key, loading);
      }
      return (await loading).state as never;
    };
    const roles = await options.models(command, load);
    const keyOf = new Map<unknown, string>();
    const named = new Map<string, Resolved>();
    const entries = typeof roles === 'object' && roles !== null ? Object.entries(roles) : [];
    for (const [name, role] of entries) {
      const list = role instanceof Map ? [...role.values()] : [role];
      for (const model of list) {
        const resolved = resolve(command, model, `role ${name}`);
        keyOf.set(model, resolved.key);
        if (!named.has(resolved.key)) named.set(resolved.key, resolved);
      }
    }
    if (named.size === 0 && loads.size === 0) throw new ChronicleError('INVALID_ARGUMENT', `${command.type} reads no model`);
    // A model already loaded is not read again: its state is the one the choice of models was made on.
    const unread = [...named.values()].filter((r) => !loads.has(r.key));
    const [loaded, cached, fresh] = await Promise.all([
      Promise.all(loads.values()),
      readGroup(unread.filter((r) => cache.get(r.key) !== undefined)),
      readGroup(unread.filter((r) => cache.get(r.key) === undefined)),
    ]);
    const folded = [...loaded, ...cached, ...fresh];
    const byKey = new Map(folded.map((f) => [f.key, f.state]));
    const states: Record<string, unknown> = {};
    for (const [name, role] of entries) {
      states[name] =
        role instanceof Map
          ? new Map([...role].map(([key, model]) => [key, byKey.get(keyOf.get(model) as string)]))
          : byKey.get(keyOf.get(role) as string);
    }
    return { folded, states };
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
      }
      if (decided.length === 0 && options.reportStream === undefined) throw noReportStream(command);
      const heads = folded.map((f) => f.head);
      const readHead = Math.max(...heads);
      // A no-op with a key still goes to the store (as an empty append): that records the key, so a replay after the
      // state has moved on writes nothing, and checks the state the no-op was decided on.
      if (decided.length === 0 && key === undefined) return status(command, [], () => readHead);
      try {
        const results = await store.append(withMetadata(decided, metadata), {
          // The lowest head: every model has folded at least that far, so anything later that matches is news to one.
          condition: { failIfEventsMatch: union(folded.map((f) => f.query)), after: Math.min(...heads) },
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

// One query selecting what any of the queries selects, each distinct item once.
function union(queries: readonly Query[]): Query {
  if (queries.length === 1) return queries[0];
  const items = new Map<string, QueryItem>();
  for (const query of queries) for (const item of query) items.set(canonicalQuery([item]), item);
  return [...items.values()];
}
