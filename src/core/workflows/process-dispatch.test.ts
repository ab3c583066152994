import { describe, expect, it } from 'vitest';
import { ChronicleError } from '../errors.js';
import { type ChainItem, MAX_IN_FLIGHT, runChains, SendStopped, withRetry } from './process-dispatch.js';

const retry = { attempts: 4, initialDelayMs: 1, maxDelayMs: 3 };
const always = () => true;

describe('process dispatch', () => {
  it('retries transient failures up to the attempts, never a refusal', async () => {
    let calls = 0;
    await expect(
      withRetry(retry, async () => {
        calls++;
        throw new ChronicleError('CONCURRENCY_CONFLICT', 'busy');
      }),
    ).rejects.toMatchObject({ code: 'CONCURRENCY_CONFLICT' });
    expect(calls).toBe(4);
    calls = 0;
    await expect(
      withRetry(retry, async () => {
        calls++;
        throw new ChronicleError('DOMAIN_RULE', 'no');
      }),
    ).rejects.toMatchObject({ code: 'DOMAIN_RULE' });
    expect(calls).toBe(1);
    calls = 0;
    expect(await withRetry(retry, async () => (++calls < 3 ? Promise.reject(new Error('flaky')) : 'ok'))).toBe('ok');
    expect(calls).toBe(3);
  });

  it('retries what is no business refusal: an unknown command, a forbidden one, a bad argument', async () => {
    for (const code of ['UNKNOWN_MESSAGE', 'FORBIDDEN', 'UNAUTHENTICATED', 'INVALID_ARGUMENT', 'IDEMPOTENCY_MISMATCH'] as const) {
      let calls = 0;
      await expect(
        withRetry(retry, async () => {
          calls++;
          throw new ChronicleError(code, 'not the business answer');
        }),
      ).rejects.toMatchObject({ code });
      expect(calls).toBe(retry.attempts);
    }
  });

  it('ends a wait between tries at once when stopped: SendStopped, carrying the last failure', async () => {
    const abort = new AbortController();
    let calls = 0;
    const long = { attempts: 3, initialDelayMs: 60_000, maxDelayMs: 60_000 };
    const started = performance.now();
    const sending = withRetry(
      long,
      async () => {
        calls++;
        throw new ChronicleError('STORE_ERROR', 'down');
      },
      abort.signal,
    );
    setTimeout(() => abort.abort(), 10);
    const err = await sending.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SendStopped);
    expect((err as SendStopped).last).toMatchObject({ code: 'STORE_ERROR' });
    expect(calls).toBe(1);
    expect(performance.now() - started).toBeLessThan(30_000);
  });

  it('runs chains concurrently up to the limit, each one in order', async () => {
    let running = 0;
    let most = 0;
    const log: string[] = [];
    const chain = (name: string, from: number, steps: number): ChainItem[] =>
      Array.from({ length: steps }, (_, s) => ({
        index: from + s,
        run: async () => {
          running++;
          most = Math.max(most, running);
          await new Promise((r) => setTimeout(r, 1));
          log.push(`${name}${s}`);
          running--;
        },
      }));
    expect(await runChains([chain('a', 0, 3), chain('b', 3, 3), chain('c', 6, 3)], always, 2)).toEqual({});
    expect(most).toBe(2);
    for (const name of ['a', 'b', 'c'])
      expect(log.filter((l) => l.startsWith(name))).toEqual([0, 1, 2].map((s) => `${name}${s}`));
    expect(MAX_IN_FLIGHT).toBeGreaterThanOrEqual(64);
  });

  it('starts no item after an earlier failure, reports the earliest failure and the lowest item left undone', async () => {
    const started: number[] = [];
    const item = (index: number, fail = false): ChainItem => ({
      index,
      run: async () => {
        started.push(index);
        await new Promise((r) => setTimeout(r, 5));
        if (fail) throw new Error(`item ${index} fails`);
      },
    });
    // One at a time: the first chain fails at 3 (its 5 never starts); the next chain's 1 and 2 come before the failure
    // and run; the last chain's 4 comes after it and does not.
    const outcome = await runChains([[item(0), item(3, true), item(5)], [item(1), item(2)], [item(4)]], always, 1);
    expect(outcome.failure).toMatchObject({ index: 3, error: { message: 'item 3 fails' } });
    expect(outcome.cut).toBe(4);
    expect(started.sort()).toEqual([0, 1, 2, 3]);
  });

  it('leaves what mayStart refuses and what was stopped for later: the lowest such index is the cut', async () => {
    const done: number[] = [];
    const item = (index: number, stopped = false): ChainItem => ({
      index,
      run: async () => {
        if (stopped) throw new SendStopped(new Error('down'));
        done.push(index);
      },
    });
    const outcome = await runChains([[item(0), item(3)], [item(1), item(2, true)], [item(4)]], (i) => i !== 3);
    expect(outcome).toEqual({ cut: 2 });
    expect(done.sort()).toEqual([0, 1, 4]);
  });
});
