// Given/When/Then for decision handlers and models: given tagged events, when a command, then these events are
// appended (or this refusal, with nothing written). Runs the real handler over an in-memory store, so the reads and the
// append condition are the shipped ones.
import assert from 'node:assert/strict';
import {
  type ChronicleErrorCode,
  type Command,
  type CommandContext,
  type CommandHandler,
  type CommandResult,
  createDecisionHandler,
  createInMemoryEventStore,
  type DecisionHandlerOptions,
  type DecisionModel,
  type DecisionModels,
  type EventStore,
  fold,
  isChronicleError,
  type RecordedEvent,
  type SingleDecisionHandlerOptions,
  type TaggedEvent,
} from 'chronicle-es';

/** An event a scenario expects the command to append; `tags` defaults to none. */
export type ExpectedEvent = { streamId: string; type: string; data: unknown; tags?: readonly string[] };

export type DecisionThen = {
  /**
   * Asserts the command appended exactly these events (stream, type, data, tags), in order, and resolves with its
   * status. `then([])` asserts it wrote nothing.
   */
  then(expected: readonly ExpectedEvent[]): Promise<CommandResult>;
  /**
   * Asserts the command was refused with a ChronicleError of `code` (and a message matching `message`, if given), or
   * with any error whose message matches a RegExp, and that it wrote nothing.
   */
  thenFails(code: ChronicleErrorCode | RegExp, message?: string | RegExp): Promise<void>;
};

export type DecisionWhen<C> = {
  /** The command, with an optional dispatch context (principal, idempotency key, correlation). */
  when(command: C, context?: CommandContext): DecisionThen;
};

/** A handler for a scenario: built over the scenario's store. */
export type DecisionHandlerFactory<C extends Command> = (store: EventStore) => CommandHandler<C>;

type WithoutStore<T> = { [K in keyof T as K extends 'store' ? never : K]: T[K] };

/**
 * Starts a decision scenario: `decisionSpec(options).given([...]).when(command).then([...])`, where `options` are the
 * handler's options without `store` (or a function building the handler over a given store). Runner-agnostic
 * (node:assert); each scenario gets a fresh in-memory store.
 */
export function decisionSpec<C extends Command, M extends DecisionModels>(
  options: WithoutStore<DecisionHandlerOptions<C, M>>,
): { given(events?: readonly TaggedEvent[]): DecisionWhen<C> };
export function decisionSpec<C extends Command, S>(
  options: WithoutStore<SingleDecisionHandlerOptions<C, S>>,
): { given(events?: readonly TaggedEvent[]): DecisionWhen<C> };
export function decisionSpec<C extends Command>(
  factory: DecisionHandlerFactory<C>,
): { given(events?: readonly TaggedEvent[]): DecisionWhen<C> };
export function decisionSpec(options: object) {
  const build: DecisionHandlerFactory<Command> =
    typeof options === 'function'
      ? (options as DecisionHandlerFactory<Command>)
      : (store) => createDecisionHandler({ ...(options as DecisionHandlerOptions<Command, DecisionModels>), store });
  return {
    given(events: readonly TaggedEvent[] = []): DecisionWhen<Command> {
      return {
        when(command, context = {}) {
          // Each assertion runs its own scenario from scratch, so one spec can be asserted more than once.
          const run = async () => {
            const store = createInMemoryEventStore();
            await appendInOrder(store, events);
            const head = await store.headPosition();
            const handle = build(store);
            let outcome: { result: CommandResult } | { error: unknown };
            try {
              outcome = { result: await handle(command, context) };
            } catch (error) {
              outcome = { error };
            }
            const written = await store.readAll({ from: head + 1 });
            await store.close();
            return { outcome, written };
          };
          const expectEvents = async (expected: readonly ExpectedEvent[]) => {
            const { outcome, written } = await run();
            if ('error' in outcome) {
              assert.fail(`expected ${expected.length} event(s), but the command failed: ${describeError(outcome.error)}`);
            }
            assert.deepStrictEqual(written.map(shape), expected.map(expectedShape));
            return outcome.result;
          };
          return {
            // biome-ignore lint/suspicious/noThenProperty: the Given/When/Then vocabulary is the API; see the guard below.
            then(expected: readonly ExpectedEvent[], ...rest: unknown[]) {
              // Awaiting the scenario itself (instead of calling .then([...])) passes resolve and reject here: reject
              // with how to use it rather than leave the await hanging.
              if (typeof expected === 'function') {
                const misuse = new TypeError(
                  'decisionSpec: call .then(expectedEvents) or .thenFails(code); do not await .when()',
                );
                if (typeof rest[0] === 'function') rest[0](misuse);
                const failed = Promise.reject(misuse);
                failed.catch(() => {});
                return failed;
              }
              return expectEvents(expected);
            },
            async thenFails(code, message) {
              const { outcome, written } = await run();
              if (!('error' in outcome)) {
                assert.fail(`expected ${String(code)}, but the command appended ${JSON.stringify(written.map(shape))}`);
              }
              const error = outcome.error;
              if (code instanceof RegExp) {
                assert.match(error instanceof Error ? error.message : String(error), code);
              } else {
                assert.ok(isChronicleError(error, code), `expected ChronicleError ${code}, got ${describeError(error)}`);
              }
              if (typeof message === 'string') assert.equal((error as Error).message, message);
              else if (message) assert.match((error as Error).message, message);
              assert.deepStrictEqual(written.map(shape), [], 'a refused command must write nothing');
            },
          };
        },
      };
    },
  };
}

export type DecisionModelThen<S> = {
  /** Asserts the model folds the given events (those its query selects, in position order) into `expected`. */
  thenState(expected: S): Promise<void>;
};

/**
 * Starts a model scenario: `decisionModelSpec(model).given([...]).thenState(state)`. The events are stored and read back
 * with the model's query, so only the events it selects are folded, as the handler does.
 */
export function decisionModelSpec<S>(model: DecisionModel<S, any>) {
  return {
    given(events: readonly TaggedEvent[] = []): DecisionModelThen<S> {
      return {
        async thenState(expected) {
          const store = createInMemoryEventStore();
          await appendInOrder(store, events);
          const { events: selected } = await store.read(model.query);
          await store.close();
          assert.deepStrictEqual(fold(model, selected), expected);
        },
      };
    },
  };
}

const shape = (e: RecordedEvent) => ({ streamId: e.streamId, type: e.type, data: e.data, tags: [...e.tags] });

// What the store would hold for the expected event: data as JSON keeps it, tags once each.
const expectedShape = (e: ExpectedEvent) => ({
  streamId: e.streamId,
  type: e.type,
  data: e.data === undefined ? undefined : JSON.parse(JSON.stringify(e.data)),
  tags: [...new Set(e.tags ?? [])],
});

function describeError(error: unknown): string {
  if (isChronicleError(error)) return `ChronicleError ${error.code}: ${error.message}`;
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

// One tagged append groups its events by stream; a history that interleaves streams is written run by run instead,
// so positions follow the order the scenario gives.
async function appendInOrder(store: EventStore, events: readonly TaggedEvent[]): Promise<void> {
  for (let start = 0; start < events.length; ) {
    let end = start + 1;
    while (end < events.length && events[end].streamId === events[start].streamId) end++;
    await store.append(events.slice(start, end));
    start = end;
  }
}
