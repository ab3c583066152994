import { describe, expect, it } from 'vitest';
import { requestFingerprint } from './request-fingerprint.js';

describe('requestFingerprint', () => {
  const fp = (data: unknown, type = 'T') => requestFingerprint(type, data);

  it('ignores key order and undefined members, and tells the type and every value apart', () => {
    expect(fp({ a: 1, b: { c: [1, 2] } })).toBe(fp({ b: { c: [1, 2] }, a: 1, d: undefined }));
    expect(fp({ a: 1 })).not.toBe(fp({ a: 2 }));
    expect(fp({ a: 1 }, 'T')).not.toBe(fp({ a: 1 }, 'U'));
    expect(fp({ a: [1, 2] })).not.toBe(fp({ a: [2, 1] }));
    expect(fp({ a: '1' })).not.toBe(fp({ a: 1 }));
  });

  it('tells Dates, bigints, Maps and Sets apart instead of hashing them all as {}', () => {
    expect(fp({ at: new Date('2020-01-01') })).not.toBe(fp({ at: new Date('2021-01-01') }));
    expect(fp({ at: new Date('2020-01-01') })).toBe(fp({ at: new Date('2020-01-01') }));
    expect(fp({ n: 1n })).not.toBe(fp({ n: 2n }));
    expect(fp({ n: 1n })).not.toBe(fp({ n: '1' }));
    expect(fp({ m: new Map([['a', 1]]) })).not.toBe(fp({ m: new Map([['a', 2]]) }));
    expect(fp({ m: new Map([['a', 1]]) })).not.toBe(fp({ m: {} }));
    expect(fp({ s: new Set([1, 2]) })).toBe(fp({ s: new Set([2, 1]) }));
    expect(fp({ s: new Set([1]) })).not.toBe(fp({ s: new Set([2]) }));
  });

  it('survives a cycle', () => {
    const a: Record<string, unknown> = { x: 1 };
    a.self = a;
    expect(typeof fp(a)).toBe('string');
  });
});
