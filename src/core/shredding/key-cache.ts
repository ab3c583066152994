// A bounded cache of subject keys in front of a key store: reads of a log touch the same few subjects again and
// again. Entries expire after `ttlMs`, so a key forgotten by another process stops decrypting here within that time;
// a forget through the cache drops its entry at once.
import type { SubjectKey, SubjectKeyStore } from './subject-key-store.js';

export type KeyCacheOptions = {
  /** Most keys held. Default 10,000. */
  maxKeys?: number;
  /** How long a key is trusted before it is read again from the store. Default 60,000 ms. */
  ttlMs?: number;
};

export type KeyCache = {
  keysFor(subjects: readonly string[]): Promise<Map<string, SubjectKey>>;
  findKeys(subjects: readonly string[]): Promise<Map<string, SubjectKey>>;
  forget(subject: string): Promise<boolean>;
};

/** @throws INVALID_ARGUMENT maxKeys not a positive integer or ttlMs not a non-negative number */
export function createKeyCache(store: SubjectKeyStore, options: KeyCacheOptions, invalid: (m: string) => Error): KeyCache {
  const maxKeys = options.maxKeys ?? 10_000;
  const ttlMs = options.ttlMs ?? 60_000;
  if (!Number.isSafeInteger(maxKeys) || maxKeys < 1) throw invalid('cache.maxKeys must be a positive integer');
  if (typeof ttlMs !== 'number' || !(ttlMs >= 0)) throw invalid('cache.ttlMs must be a non-negative number');
  // A Map keeps insertion order: re-inserting on use makes its first entry the least recently used.
  const entries = new Map<string, { key: SubjectKey; until: number }>();
  const remember = (found: Map<string, SubjectKey>) => {
    const until = Date.now() + ttlMs;
    for (const [subject, key] of found) {
      entries.delete(subject);
      entries.set(subject, { key, until });
    }
    while (entries.size > maxKeys) entries.delete(entries.keys().next().value as string);
  };
  const lookup = async (subjects: readonly string[], load: (s: string[]) => Promise<Map<string, SubjectKey>>) => {
    const found = new Map<string, SubjectKey>();
    const missing: string[] = [];
    const now = Date.now();
    for (const subject of new Set(subjects)) {
      const entry = entries.get(subject);
      if (entry !== undefined && entry.until > now) {
        entries.delete(subject);
        entries.set(subject, entry);
        found.set(subject, entry.key);
      } else missing.push(subject);
    }
    if (missing.length > 0) {
      const loaded = await load(missing);
      remember(loaded);
      for (const [subject, key] of loaded) found.set(subject, key);
    }
    return found;
  };
  return {
    // Absent keys are never cached: another process may create one at any moment.
    keysFor: (subjects) => lookup(subjects, (s) => store.keysFor(s)),
    findKeys: (subjects) => lookup(subjects, (s) => store.findKeys(s)),
    async forget(subject) {
      entries.delete(subject);
      try {
        return await store.forget(subject);
      } finally {
        // A read racing the forget may have cached the key again meanwhile.
        entries.delete(subject);
      }
    },
  };
}
