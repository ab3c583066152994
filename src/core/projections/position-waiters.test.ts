import { describe, expect, it } from 'vitest';
import { assertWaitArguments, PositionWaiters } from './position-waiters.js';

describe('position waiters', () => {
  it('resolves a wait once every named checkpoint reached the position', async () => {
    const positions = new Map([
      ['a', 0],
      ['b', 0],
    ]);
    const waiters = new PositionWaiters((n) => positions.get(n) ?? 0);
    let done = false;
    const waiting = waiters.wait(['a', 'b'], 5, 10_000).then(() => {
      done = true;
    });
    expect(waiters.waitsFor((n) => n === 'b')).toBe(true);
    expect(waiters.waitsFor((n) => n === 'c')).toBe(false);
    positions.set('a', 7);
    waiters.changed('a');
    await Promise.resolve();
    expect(done).toBe(false);
    positions.set('b', 5);
    waiters.changed('b');
    await waiting;
    expect(waiters.waitsFor(() => true)).toBe(false);
    await waiters.wait(['a'], 7, 0);
  });

  it('times out with what is behind, fails only the waits a stuck projection cannot reach, and rejects all on demand', async () => {
    const positions = new Map([['a', 3]]);
    const waiters = new PositionWaiters((n) => positions.get(n) ?? 0);
    await expect(waiters.wait(['a'], 9, 10)).rejects.toMatchObject({
      code: 'TIMEOUT',
      details: { position: 9, timeoutMs: 10, behind: { a: 3 } },
    });
    const far = waiters.wait(['a'], 9, 10_000);
    const other = waiters.wait(['b'], 1, 10_000);
    waiters.failed('a', () => new Error('a failed'));
    await expect(far).rejects.toThrow('a failed');
    waiters.rejectAll(() => new Error('closed'));
    await expect(other).rejects.toThrow('closed');
  });

  it('checks a wait’s position and timeout', () => {
    expect(() => assertWaitArguments(-1, 10)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => assertWaitArguments(1.5, 10)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => assertWaitArguments(1, 2 ** 31)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => assertWaitArguments(1, Number.NaN)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => assertWaitArguments(0, 0)).not.toThrow();
  });
});
