import { isChronicleError } from 'chronicle-es';
import { describe, expect, it } from 'vitest';
import { readConsistency } from './consistency.js';

const options = { defaultWaitMs: 5000, maxWaitMs: 30_000 };

describe('readConsistency', () => {
  it('reads minPosition from the query parameter or the header (the larger) and caps the wait', () => {
    expect(readConsistency(undefined, {}, options)).toEqual({ waitMs: 5000 });
    expect(readConsistency('7', {}, options)).toEqual({ minPosition: 7, waitMs: 5000 });
    expect(readConsistency(undefined, { 'chronicle-min-position': '9' }, options)).toEqual({ minPosition: 9, waitMs: 5000 });
    expect(readConsistency('12', { 'chronicle-min-position': '9', 'chronicle-wait-ms': '250' }, options)).toEqual({
      minPosition: 12,
      waitMs: 250,
    });
    expect(readConsistency(undefined, { 'chronicle-wait-ms': '999999' }, options).waitMs).toBe(30_000);
  });

  it.each([['-1'], ['1.5'], ['abc'], [''], ['99999999999999999'], [['1', '2']]])('refuses minPosition %j', (value) => {
    let caught: unknown;
    try {
      readConsistency(value, {}, options);
    } catch (err) {
      caught = err;
    }
    expect(isChronicleError(caught, 'INVALID_ARGUMENT')).toBe(true);
  });
});
