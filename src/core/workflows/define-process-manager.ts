// A process manager (saga): per event type, a step that reads the process's state for the event's correlation key and
// returns the commands to send, the commands to schedule and the new state. It runs as a projection: its state and
// checkpoint commit together, and every command it sends carries a key derived from the event, so a replay after a
// crash sends nothing twice in effect. A step must therefore ask for the same things whenever it runs on the same
// event and state: a replay whose command payload differs (it read context.now or a query that changed since) is taken
// as already sent under its key — the first payload is the one that took effect.
import type { Command } from '../command-handler.js';
import { ChronicleError } from '../errors.js';
import type { RecordedEvent } from '../event-store.js';
import type { CommandDefinition, EventDefinition, InputOf } from '../messages.js';
import type { RecordedEventOf } from '../projections/define-projection.js';
import { assertReadModelName } from '../projections/read-model-name.js';
import { MAX_DELAY_MS, retrySettings } from './workflow-failures.js';
import type { ProcessContext, ProcessStep, Refusal, RetryOptions } from './workflow-types.js';

/** How long a batch starts sending for by default (see ProcessManagerDefinition.batchBudgetMs). */
export const DEFAULT_BATCH_BUDGET_MS = 1000;

/**
 * One step of a process: what an event of its type makes the process do. May be async (e.g. to read a query). It may
 * run again on the same event (a replay after a crash, a rebuild): what it sends must depend on the event and the
 * state only, as a replay's commands are matched to the first run's by their keys, not by their payloads.
 */
export type ProcessHandler<S, Ev> = (
  event: Ev,
  context: ProcessContext<S>,
) => ProcessStep<S> | undefined | Promise<ProcessStep<S> | undefined>;

/** Steps keyed by the types of `E`: each gets its own event's data typed. */
export type ProcessHandlers<S, E extends EventDefinition<string, any>> = {
  readonly [K in E['type']]?: ProcessHandler<S, RecordedEventOf<Extract<E, { type: K }>>>;
};

export type ProcessManagerDefinition<S, E extends EventDefinition<string, any> = EventDefinition> = {
  /** Identifier: letters, digits and single underscores, starting with a letter (it names its projection). */
  name: string;
  /**
   * Positive integer; raising it rebuilds the state from the log: up to where the previous version got, the steps run
   * for their state only (nothing is sent, scheduled, cancelled or recorded; refusals recorded then are handed to
   * onRefused again for its state), and from there on the new version acts.
   */
  version: number;
  /** The event definitions the handlers are keyed by; with them each handler's event data is typed. */
  events?: readonly E[];
  /** The correlation key an event belongs to; undefined skips the event. Default: its stream id. */
  correlate?: (event: RecordedEvent) => string | undefined;
  /** One step per event type; the process subscribes to exactly these types. Typed by `events`, never inferred from. */
  handlers: NoInfer<ProcessHandlers<S, E>>;
  /**
   * A command it sent was refused on its merits (DOMAIN_RULE, VALIDATION_FAILED, NOT_FOUND, STREAM_DELETED; any
   * other failure is retried, then stops the process on its event): its own rule decides what follows (compensate,
   * schedule a retry, or give up by returning nothing). Runs in the same transaction, for the key of the event that
   * sent it, with that key's state as the batch's steps left it. Every refusal is first recorded as a
   * `chronicle.CommandRefused` event on `chronicle.process-<name>-<key>` (once, whatever replays); without onRefused
   * that is all that happens. A replay finds the record and does not send the command again: onRefused runs again
   * instead, and what it sends goes under the same keys as the first time (no second effect). When what it sends is
   * refused again, it runs again: at most 3 times along one chain, then refusals are only recorded.
   */
  onRefused?: (refusal: Refusal, context: ProcessContext<S>) => ProcessStep<S> | undefined | Promise<ProcessStep<S> | undefined>;
  /** How transient failures of its commands are retried before the process stops on the event. */
  retry?: RetryOptions;
  /**
   * How long (ms, default 1000) a batch goes on starting to send: once spent, no further event's requests start and
   * the batch commits through the last event whose requests all went out; the rest go in the next batch. A batch
   * holds the read store's transaction open while it sends (on SQLite its write lock), so this plus one event's
   * sends (with `retry`'s waits) bounds it: keep both well under PostgreSQL's idle_in_transaction_session_timeout.
   * The sends need connections besides the one the transaction holds: an event store and a read store sharing one
   * PostgreSQL pool need it larger than the number of process managers, or their batches wait on each other for good.
   */
  batchBudgetMs?: number;
  /**
   * Where it starts on a read store it never ran on: `'beginning'` (default) reacts to the whole log, `'head'` only to
   * what comes after it first starts — for a process added to a running system, which must not act on its history.
   * A raised version rebuilds from the beginning either way, acting only after where the previous version got.
   */
  firstRun?: 'beginning' | 'head';
};

/**
 * A checked process manager definition, ready for `createWorkflows`; its handlers take any stored event. `E` (the
 * definitions it was declared with) types its scenarios in chronicle/testing.
 */
export type ProcessManager<S = unknown, E extends EventDefinition<string, any> = EventDefinition> = {
  readonly kind: 'process-manager';
  readonly name: string;
  readonly version: number;
  readonly correlate: (event: RecordedEvent) => string | undefined;
  readonly handlers: Readonly<Record<string, ProcessHandler<S, RecordedEvent>>>;
  readonly onRefused?: (
    refusal: Refusal,
    context: ProcessContext<S>,
  ) => ProcessStep<S> | undefined | Promise<ProcessStep<S> | undefined>;
  readonly retry: Required<RetryOptions>;
  /** See ProcessManagerDefinition.batchBudgetMs. */
  readonly batchBudgetMs: number;
  /** The event types it handles (the keys of `handlers`). */
  readonly eventTypes: readonly string[];
  /** The event definitions it was declared with, if any. */
  readonly events?: readonly E[];
  /** Where its first run on a read store starts (see ProcessManagerDefinition.firstRun). */
  readonly firstRun?: 'beginning' | 'head';
};

/**
 * Declares a process manager. Give `events` to type its handlers (and its scenarios in chronicle/testing); for a typed
 * state, give both type arguments: `defineProcessManager<State, typeof A | typeof B>({ events: [A, B], … })`.
 * @throws INVALID_ARGUMENT bad name, version, events, handlers, retry, batchBudgetMs, firstRun, or a handler for a type
 * not in `events`
 */
export function defineProcessManager<S, E extends EventDefinition<string, any> = EventDefinition>(
  definition: ProcessManagerDefinition<S, E>,
): ProcessManager<S, E> {
  const { name, version, events } = definition;
  const what = `process manager ${name}`;
  assertReadModelName('projection', name);
  if (!Number.isSafeInteger(version) || version < 1) {
    throw new ChronicleError('INVALID_ARGUMENT', `${what}: version must be a positive integer`);
  }
  // Typed per event at the definition; the runtime hands each handler only events of its own type.
  const handlers = definition.handlers as unknown as Record<string, ProcessHandler<S, RecordedEvent>>;
  if (typeof handlers !== 'object' || handlers === null) {
    throw new ChronicleError('INVALID_ARGUMENT', `${what}: handlers must be an object of functions`);
  }
  const eventTypes = Object.keys(handlers);
  if (eventTypes.length === 0) throw new ChronicleError('INVALID_ARGUMENT', `${what}: at least one handler is required`);
  if (events !== undefined && !Array.isArray(events)) {
    throw new ChronicleError('INVALID_ARGUMENT', `${what}: events must be an array of event definitions`);
  }
  const known = events === undefined ? undefined : new Set(events.map((e) => e?.type));
  for (const type of eventTypes) {
    if (typeof handlers[type] !== 'function') {
      throw new ChronicleError('INVALID_ARGUMENT', `${what}: handler for ${type} is not a function`);
    }
    if (known && !known.has(type)) {
      throw new ChronicleError('INVALID_ARGUMENT', `${what}: handler for ${type}, which is not among its events`);
    }
  }
  for (const [field, fn] of [
    ['correlate', definition.correlate],
    ['onRefused', definition.onRefused],
  ] as const) {
    if (fn !== undefined && typeof fn !== 'function') {
      throw new ChronicleError('INVALID_ARGUMENT', `${what}: ${field} must be a function`);
    }
  }
  const firstRun = definition.firstRun ?? 'beginning';
  if (firstRun !== 'beginning' && firstRun !== 'head') {
    throw new ChronicleError('INVALID_ARGUMENT', `${what}: firstRun must be 'beginning' or 'head'`);
  }
  const retry = retrySettings(what, definition.retry);
  const batchBudgetMs = definition.batchBudgetMs ?? DEFAULT_BATCH_BUDGET_MS;
  if (typeof batchBudgetMs !== 'number' || !(batchBudgetMs > 0) || batchBudgetMs > MAX_DELAY_MS) {
    throw new ChronicleError('INVALID_ARGUMENT', `${what}: batchBudgetMs must be a positive number of ms`);
  }
  return Object.freeze({
    kind: 'process-manager' as const,
    name,
    version,
    correlate: definition.correlate ?? ((event: RecordedEvent) => event.streamId),
    handlers: Object.freeze({ ...handlers }),
    onRefused: definition.onRefused,
    retry: Object.freeze(retry),
    batchBudgetMs,
    eventTypes: Object.freeze(eventTypes),
    firstRun,
    ...(events && { events: Object.freeze([...events]) }),
  });
}

/** A command for a process step's `send`, its payload typed by the definition (validated when sent, not here). */
export function command<D extends CommandDefinition>(definition: D, payload: InputOf<D>): Command<D['name'], InputOf<D>> {
  return { type: definition.name, data: payload };
}
