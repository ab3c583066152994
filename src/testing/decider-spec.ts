// Given/When/Then for deciders: given past events, when a command, then these events (or this refusal).
import assert from 'node:assert/strict';
import { type ChronicleErrorCode, type Decider, fold, isChronicleError } from 'chronicle-es';

type EventLike = { type: string; data: unknown };

export type DeciderThen<E> = {
  /** Asserts the command produced exactly these events (type and data), in order. */
  then(expected: readonly E[]): void;
  /** Asserts the command was refused with a ChronicleError of `code` (and a message matching `message`, if given). */
  thenThrows(code: ChronicleErrorCode, message?: string | RegExp): void;
};

/** Starts a decider scenario: `deciderSpec(order).given([...]).when(cmd).then([...])`. Runner-agnostic (node:assert). */
export function deciderSpec<C, E extends EventLike, S>(decider: Decider<C, E, S>) {
  return {
    given(history: readonly E[] = []) {
      return {
        when(command: C): DeciderThen<E> {
          const run = () => decider.decide(command, fold(decider, history));
          return {
            // biome-ignore lint/suspicious/noThenProperty: the Given/When/Then vocabulary is the API; the scenario is synchronous and never awaited.
            then(expected) {
              const actual = run().map((e) => ({ type: e.type, data: e.data }));
              assert.deepStrictEqual(
                actual,
                expected.map((e) => ({ type: e.type, data: e.data })),
              );
            },
            thenThrows(code, message) {
              let thrown: unknown;
              let produced: readonly E[] | undefined;
              try {
                produced = run();
              } catch (err) {
                thrown = err;
              }
              if (thrown === undefined) assert.fail(`expected ${code}, but the command produced ${JSON.stringify(produced)}`);
              assert.ok(isChronicleError(thrown, code), `expected ChronicleError ${code}, got ${String(thrown)}`);
              if (typeof message === 'string') assert.equal((thrown as Error).message, message);
              else if (message) assert.match((thrown as Error).message, message);
            },
          };
        },
      };
    },
  };
}
