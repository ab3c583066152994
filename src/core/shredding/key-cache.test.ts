// The key cache in front of a key store: bounded (least recently used out), misses never cached, forget drops the
// entry at once. No timing: expiry is not asserted here.
import { describe, expect, it } from 'vitest';
import { ChronicleError } from '../errors.js';
import { createInMemorySubjectKeyStore } from './in-memory-subject-key-store.js';
import { createKeyCache } from './key-cache.js';
import type { SubjectKeyStore } from './subject-key-store.js';

function counted() {
  const inner = createInMemorySubjectKeyStore();
  const asked: string[] = [];
  const store: SubjectKeyStore = {
    ...inner,
    keysFor: (s) => inner.keysFor(s),
    findKeys: (s) => {
      asked.push(...s);
      return inner.findKeys(s);
    },
    forget: (s) => inner.forget(s),
    close: () => inner.close(),
  };
  return { store, asked };
}
const invalid = (m: string) => new ChronicleError('INVALID_ARGUMENT', m);

describe('key cache', () => {
  it('holds at most maxKeys, dropping the least recently used', async () => {
    const { store, asked } = counted();
    await store.keysFor(['a', 'b', 'c']);
    const cache = createKeyCache(store, { maxKeys: 2 }, invalid);
    await cache.findKeys(['a', 'b']);
    await cache.findKeys(['a']); // a is now the most recent
    await cache.findKeys(['c']); // evicts b
    asked.length = 0;
    await cache.findKeys(['a', 'c']);
    expect(asked).toEqual([]);
    await cache.findKeys(['b']);
    expect(asked).toEqual(['b']);
  });

  it('never caches a miss, and forget drops the key at once', async () => {
    const { store, asked } = counted();
    const cache = createKeyCache(store, {}, invalid);
    expect((await cache.findKeys(['n'])).size).toBe(0);
    await store.keysFor(['n']);
    expect((await cache.findKeys(['n'])).size).toBe(1);
    expect(await cache.forget('n')).toBe(true);
    asked.length = 0;
    expect((await cache.findKeys(['n'])).size).toBe(0);
    expect(asked).toEqual(['n']);
  });

  it('refuses bad bounds', () => {
    const { store } = counted();
    for (const options of [{ maxKeys: 0 }, { maxKeys: 1.5 }, { ttlMs: -1 }, { ttlMs: Number.NaN }]) {
      expect(() => createKeyCache(store, options, invalid)).toThrow(ChronicleError);
    }
  });
});
