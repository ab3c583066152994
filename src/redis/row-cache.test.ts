import { describe, expect, it } from 'vitest';
import { RowCache } from './row-cache.js';

describe('RowCache', () => {
  it('serves rows only at the commit count they were filled at', () => {
    const cache = new RowCache(10);
    expect(cache.get('a')).toBeUndefined();
    cache.fill('7', [['a', '1']]);
    expect(cache.get('a'), 'filled before any count was known').toBeUndefined();
    cache.validate('7');
    cache.fill('7', [
      ['a', '1'],
      ['gone', null],
    ]);
    expect([cache.get('a'), cache.get('gone')]).toEqual(['1', null]);
    cache.validate('8');
    expect(cache.get('a'), 'another commit happened').toBeUndefined();
  });

  it('moves to the next count with a batch’s commit, and drops rows a read sent before it brings back', () => {
    const cache = new RowCache(10);
    cache.validate('3');
    const readSentAt = cache.at;
    cache.committed('3', [['a', '"new"']]);
    expect(cache.at).toBe('4');
    cache.fill(readSentAt, [['a', '"old"']]);
    expect(cache.get('a')).toBe('"new"');
    cache.committed('3', [['b', '1']]);
    expect([cache.at, cache.get('a'), cache.get('b')], 'a commit from a count it was not at').toEqual([
      undefined,
      undefined,
      undefined,
    ]);
  });

  it('keeps the most recently used rows up to its bound, and none at 0', () => {
    const cache = new RowCache(2);
    cache.validate('1');
    cache.fill('1', [
      ['a', '1'],
      ['b', '2'],
    ]);
    cache.get('a');
    cache.fill('1', [['c', '3']]);
    expect([cache.get('a'), cache.get('b'), cache.get('c')]).toEqual(['1', undefined, '3']);
    const none = new RowCache(0);
    none.validate('1');
    none.fill('1', [['a', '1']]);
    expect(none.get('a')).toBeUndefined();
  });
});
