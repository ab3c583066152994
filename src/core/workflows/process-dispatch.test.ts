import { describe, expect, it } from 'vitest';
import { ChronicleError } from '../errors.js';
import { backoffDelay, isRefusal, MAX_IN_FLIGHT, runChains, withRetry } from './process-dispatch.js';

const retry = { attempts: 4, initialDelayMs: 1, maxDelayMs: 3 };

describe('process dispatch', () => {
  it('tells refusals from transient failures by code', () => {
    for (const code of ['DOMAIN_RULE', 'VALIDATION_FAILED', 'FORBIDDEN', 'NOT_FOUND', 'IDEMPOTENCY_MISMATCH'] as const) {
      expect(isRefusal(new ChronicleError(code, 'no'))).toBe(true);
    }
    for (const code of ['CONCURRENCY_CONFLICT', 'STORE_ERROR', 'TIMEOUT', 'CLOSED'] as const) {
      expect(isRefusal(new ChronicleError(code, 'later'))).toBe(false);
    }
    expect(isRefusal(new Error('ECONNRESET'))).toBe(false);
  });

  it('doubles the wait from the initial delay up to the cap', () => {
    const r = { attempts: 9, initialDelayMs: 50, maxDelayMs: 300 };
    expect([1, 2, 3, 4, 5].map((a) => backoffDelay(r, a))).toEqual([50, 100, 200, 300, 300]);
  });

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

  it('runs chains concurrently up to the limit, each one in order, and starts none after a failure', async () => {
    let running = 0;
    let most = 0;
    const log: string[] = [];
    const chain = (name: string, steps: number) => async () => {
      running++;
      most = Math.max(most, running);
      for (let s = 0; s < steps; s++) {
        await new Promise((r) => setTimeout(r, 1));
        log.push(`${name}${s}`);
      }
      running--;
    };
    expect(await runChains([chain('a', 3), chain('b', 3), chain('c', 3)], 2)).toEqual([]);
    expect(most).toBe(2);
    for (const name of ['a', 'b', 'c'])
      expect(log.filter((l) => l.startsWith(name))).toEqual([0, 1, 2].map((s) => `${name}${s}`));
    expect(MAX_IN_FLIGHT).toBeGreaterThanOrEqual(64);

    const started: number[] = [];
    const failures = await runChains(
      Array.from({ length: 10 }, (_, i) => async () => {
        started.push(i);
        if (i === 1) throw new Error('second fails');
        await new Promise((r) => setTimeout(r, 5));
      }),
      2,
    );
    expect(failures).toHaveLength(1);
    expect(started).toEqual([0, 1]);
  });
});
