// A bounded cache of subject keys in front of a key store: reads of a log touch the same few subjects again and
// again. Entries expire after `ttlMs`, so a key forgotten by another process stops decrypting here within that time;
// a forget through the cache drops its entry at once, and a lookup that was in flight meanwhile does not bring it
// back. Writes never trust the cache: encrypting under a key another process has forgotten would make acknowledged
// events unreadable, so every append asks the key store (one round trip per append, not per event).
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
  // Forgets counted, and when each subject was last forgotten here: a lookup started before a forget of one of its
  // subjects must not cache what it loaded for that subject.
  let forgets = 0;
  const forgottenAt = new Map<string, number>();
  const remember = (found: Map<string, SubjectKey>, started: number) => {
    const until = Date.now() + ttlMs;
    for (const [subject, key] of found) {
      if ((forgottenAt.get(subject) ?? -1) >= started) continue;
      entries.delete(subject);
      entries.set(subject, { key, until });
    }
    while (entries.size > maxKeys) entries.delete(entries.keys().next().value as string);
  };
  const lookup = async (
    subjects: readonly string[],
    load: (s: string[]) => Promise<Map<string, SubjectKey>>,
    cached: boolean,
  ) => {
    const found = new Map<string, SubjectKey>();
    const missing: string[] = [];
    const now = Date.now();
    const started = forgets;
    for (const subject of new Set(subjects)) {
      const entry = cached ? entries.get(subject) : undefined;
      if (entry !== undefined && entry.until > now) {
        entries.delete(subject);
        entries.set(subject, entry);
        found.set(subject, entry.key);
      } else missing.push(subject);
    }
    if (missing.length > 0) {
      const loaded = await load(missing);
      remember(loaded, started);
      for (const [subject, key] of loaded) found.set(subject, key);
    }
    return found;
  };
  return {
    // Absent keys are never cached: another process may create one at any moment.
    keysFor: (subjects) => lookup(subjects, (s) => store.keysFor(s), false),
    findKeys: (subjects) => lookup(subjects, (s) => store.findKeys(s), true),
    async forget(subject) {
      forgottenAt.delete(subject);
      forgottenAt.set(subject, forgets++);
      while (forgottenAt.size > maxKeys) forgottenAt.delete(forgottenAt.keys().next().value as string);
      entries.delete(subject);
      try {
        return await store.forget(subject);
      } finally {
        // Lookups that started before the forget ended are kept from caching it: count the forget as ending now.
        forgottenAt.set(subject, forgets++);
        entries.delete(subject);
      }
    },
  };
}
