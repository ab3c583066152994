// The write model: a decider is three pure functions over a stream's events.

/** What a stream's history folds into: an initial state and how each event moves it. */
export type StreamModel<S, E = { type: string; data: unknown }> = {
  readonly initialState: S;
  /** Applies one event; sets fields only, no rules. */
  evolve(state: S, event: E): S;
};

/**
 * An aggregate as a decider: `decide` is pure and either returns the events the command causes
 * (`[]` for an idempotent repeat) or throws a DOMAIN_RULE error to refuse it.
 */
export type Decider<C, E extends { type: string; data: unknown }, S> = StreamModel<S, E> & {
  decide(command: C, state: S): readonly E[];
  /** True once the stream accepts no more commands (e.g. an order shipped and archived). */
  isTerminal?(state: S): boolean;
};

/** Folds events into a state with a model's evolve. */
export function fold<S, E>(model: StreamModel<S, E>, events: readonly E[], state: S = model.initialState): S {
  let s = state;
  for (const event of events) s = model.evolve(s, event);
  return s;
}
