// What both conformance suites share: the runner they register with, one store per describe block, and the checks
// on error codes.
import assert from 'node:assert/strict';
import { type ChronicleErrorCode, isChronicleError } from 'chronicle-es';

/** The test-runner functions the suites register their cases with; vitest, jest, mocha and node:test all fit. */
export type ConformanceRunner = {
  describe: (name: string, fn: () => void) => unknown;
  it: (name: string, fn: () => Promise<void>) => unknown;
  beforeAll: (fn: () => Promise<void>) => unknown;
  afterAll: (fn: () => Promise<void>) => unknown;
};

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function assertCode(error: unknown, code: ChronicleErrorCode, what: string): void {
  assert.ok(
    isChronicleError(error, code),
    `${what}: expected a ChronicleError with code ${code}, got ${error instanceof Error ? `${error.name} ${(error as { code?: unknown }).code ?? ''}: ${error.message}` : String(error)}`,
  );
}

/** Runs `fn` (which may throw synchronously or reject) and asserts it fails with `code`; returns the error. */
export async function expectCode(fn: () => unknown, code: ChronicleErrorCode, what: string): Promise<Error> {
  try {
    await fn();
  } catch (error) {
    assertCode(error, code, what);
    return error as Error;
  }
  assert.fail(`${what}: expected ${code}, but it succeeded`);
}

/** Registers a `describe` block whose cases reach its one store through `store()`. */
export type StoreBlock<S> = (title: string, body: (store: () => S) => void) => unknown;

/**
 * A `describe` whose cases share one store, opened by `create` before them and closed after; `body` registers the
 * cases and reaches the store through the function it is given.
 */
export function storeBlocks<S extends { close(): Promise<void> }>(
  runner: ConformanceRunner,
  create: () => S | Promise<S>,
): StoreBlock<S> {
  const { describe, beforeAll, afterAll } = runner;
  return (title, body) =>
    describe(title, () => {
      let current: S | undefined;
      beforeAll(async () => {
        current = await create();
      });
      afterAll(async () => {
        await current?.close();
      });
      body(() => {
        assert.ok(current, 'the store was not created (did beforeAll run?)');
        return current;
      });
    });
}
