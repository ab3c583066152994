// An event store that keeps personal data only encrypted, each subject under its own key, so deleting a key erases
// that subject's data from the log without rewriting it (crypto-shredding).
import { ChronicleError } from '../errors.js';
import type { EventStore, NewEvent, RecordedEvent, StreamWrite } from '../event-store.js';
import { upcasterOf } from '../evolution/upcasting-store.js';
import type { StreamLifecycle } from '../lifecycle/stream-lifecycle.js';
import type { EventDefinition } from '../messages.js';
import type { Snapshot, SnapshotStore } from '../snapshots/snapshot-store.js';
import { andThen, type StateStoredStore, type TransactOptions, type TransactWork } from '../state-stored/state-stored-store.js';
import { createKeyCache, type KeyCacheOptions } from './key-cache.js';
import { decryptEvent, encryptFields, personalMetadataOf } from './personal-cipher.js';
import { assertSubject, type SubjectKey, type SubjectKeyStore } from './subject-key-store.js';

/** Options of withCryptoShredding. */
export type CryptoShreddingOptions = {
  /** The event definitions (usually the whole catalog); those with `personal(...)` fields get them encrypted. */
  events: readonly EventDefinition<string, any>[];
  /** Where the subjects' keys live (e.g. `createSqliteKeyStore` on the event store's file). */
  keys: SubjectKeyStore;
  /** The key cache in front of `keys`. */
  cache?: KeyCacheOptions;
  /** Close `keys` when the store is closed (after it). Default false: the caller closes what it opened. */
  closeKeys?: boolean;
};

/** An event store made by `withCryptoShredding`: the store, plus forgetting a subject. */
export type CryptoShreddingStore<S extends EventStore = EventStore> = S & {
  /**
   * Deletes the subject's key: from then on every read of its events (here at once, in other processes within their
   * cache's `ttlMs`) has its personal fields redacted (FORGOTTEN for strings, 0, false). Resolves true when a key was
   * deleted; a later append for the subject creates a new key, under which only the new events are readable.
   * @throws INVALID_ARGUMENT a malformed subject id; CLOSED; STORE_ERROR
   */
  forget(subject: string): Promise<boolean>;
};

/**
 * `store`, with the `personal(...)` fields of `events`' definitions encrypted on every append path (stream and tagged
 * `append`, `appendMany`, and the writes a state-stored `transact`'s work returns) by the key of the subject the
 * definition names, before anything reaches the store — for `transact`, by keys fetched before the transaction begins
 * for the subjects named in its `subjects` option (an event of another subject is refused, nothing written) — and
 * decrypted on every read path (`readStream`, `read`, `readAll`, `subscribe`, `lifecycle.readArchived`): deciders,
 * projections and process managers reading through it see plain data, or placeholders once the subject is forgotten. Decrypting needs no
 * definition (the stored metadata says what is encrypted and by whose key), so events of any schema version read.
 * Streams holding personal event types are never snapshotted through `snapshots` (a state would hold the data in
 * plain text), and a snapshot found for one is ignored. Every other method is the store's own.
 * Compose with upcasting as `withUpcasting(withCryptoShredding(store, …), catalog)`: upcasters see decrypted data.
 * @throws INVALID_ARGUMENT `store` already reads through upcasting (the order above is the only one that works), bad
 *   options, or two definitions claim one type name; from `transact`, a malformed or missing subject
 */
export function withCryptoShredding<S extends EventStore>(store: S, options: CryptoShreddingOptions): CryptoShreddingStore<S> {
  if (upcasterOf(store) !== undefined) {
    throw new ChronicleError(
      'INVALID_ARGUMENT',
      'withCryptoShredding must wrap the store inside withUpcasting (withUpcasting(withCryptoShredding(store, …), …)): upcasters must see decrypted data',
    );
  }
  const { events, keys } = options ?? ({} as CryptoShreddingOptions);
  if (!Array.isArray(events)) throw new ChronicleError('INVALID_ARGUMENT', 'events must be an array of event definitions');
  if (typeof keys?.keysFor !== 'function' || typeof keys.findKeys !== 'function' || typeof keys.forget !== 'function') {
    throw new ChronicleError('INVALID_ARGUMENT', 'keys must be a SubjectKeyStore');
  }
  const byType = new Map<string, NonNullable<EventDefinition['personal']>>();
  const personalTypes: string[] = [];
  for (const definition of new Set(events)) {
    if (definition?.kind !== 'event') throw new ChronicleError('INVALID_ARGUMENT', 'not an event definition');
    if (byType.has(definition.type)) {
      throw new ChronicleError('INVALID_ARGUMENT', `event type ${definition.type} is claimed by two definitions`);
    }
    if (definition.personal === undefined) continue;
    byType.set(definition.type, definition.personal);
    personalTypes.push(definition.type, ...(definition.aliases ?? []));
  }
  const cache = createKeyCache(keys, options.cache ?? {}, (m) => new ChronicleError('INVALID_ARGUMENT', m));

  // The subjects whose keys `list` needs, each event checked first.
  function subjectsOf(list: readonly NewEvent[]): Set<string> {
    const subjects = new Set<string>();
    for (const event of list) {
      const personal = typeof event === 'object' && event !== null ? byType.get(event.type) : undefined;
      if (personal === undefined) continue;
      const subject = (event.data as Record<string, unknown> | null)?.[personal.subject];
      try {
        assertSubject(subject);
      } catch (err) {
        throw new ChronicleError(
          'INVALID_ARGUMENT',
          `event ${event.type}: its subject field ${personal.subject} must hold a subject id (${(err as Error).message})`,
          { cause: err },
        );
      }
      if (event.metadata !== undefined && (typeof event.metadata !== 'object' || event.metadata === null)) {
        throw new ChronicleError('INVALID_ARGUMENT', `event ${event.type} metadata must be an object when given`);
      }
      subjects.add(subject);
    }
    return subjects;
  }

  // `list` with its personal fields encrypted by the keys in `found` (which holds every subject of subjectsOf(list)).
  function sealed<E extends NewEvent>(list: readonly E[], found: ReadonlyMap<string, SubjectKey>): readonly E[] {
    return list.map((event) => {
      const personal = typeof event === 'object' && event !== null ? byType.get(event.type) : undefined;
      if (personal === undefined) return event;
      const subject = (event.data as Record<string, string>)[personal.subject];
      const key = found.get(subject);
      if (key === undefined) throw new ChronicleError('STORE_ERROR', `the key store returned no key for ${subject}`);
      const sealedFields = encryptFields(event.data, personal.fields, subject, key);
      if (sealedFields === undefined) return event;
      return { ...event, data: sealedFields.data, metadata: { ...event.metadata, personal: sealedFields.personal } };
    });
  }

  // The events with their personal fields encrypted. Keys are created (durably) before the store sees any event, so
  // an event never commits under a key that does not exist.
  async function encrypted<E extends NewEvent>(list: readonly E[]): Promise<readonly E[]> {
    if (!Array.isArray(list)) return list;
    const subjects = subjectsOf(list);
    if (subjects.size === 0) return list;
    return sealed(list, await cache.keysFor([...subjects]));
  }

  // The writes a transaction's work returned, encrypted by the keys fetched before it began. On SQLite the work runs
  // synchronously inside the group commit, where no key can be fetched or created: a subject not named up front is
  // refused (nothing is written), never appended in plain text.
  function sealedWrites(writes: readonly StreamWrite[], found: ReadonlyMap<string, SubjectKey>): readonly StreamWrite[] {
    if (!Array.isArray(writes)) return writes;
    return writes.map((w) => {
      if (typeof w !== 'object' || w === null || !Array.isArray(w.events)) return w;
      for (const subject of subjectsOf(w.events)) {
        if (!found.has(subject)) {
          throw new ChronicleError(
            'INVALID_ARGUMENT',
            `transact: ${w.streamId} has personal data of subject ${subject}, whose key was not fetched before the transaction (name it in transact's subjects option)`,
          );
        }
      }
      return { ...w, events: sealed(w.events, found) };
    });
  }

  async function decrypted(list: readonly RecordedEvent[]): Promise<RecordedEvent[]> {
    const subjects = new Set<string>();
    for (const event of list) {
      const personal = personalMetadataOf(event);
      if (personal !== undefined) subjects.add(personal.subject);
    }
    if (subjects.size === 0) return list as RecordedEvent[];
    // A malformed subject in stored metadata (not written by this wrapper) is read as forgotten.
    const wellFormed = [...subjects].filter((s) => {
      try {
        assertSubject(s);
        return true;
      } catch {
        return false;
      }
    });
    const found = await cache.findKeys(wellFormed);
    return list.map((event) => {
      const personal = personalMetadataOf(event);
      return personal === undefined ? event : decryptEvent(event, personal, found.get(personal.subject));
    });
  }

  // True when the stream holds an event of a personal type (its stream id counts as a tag), or may have held one: a
  // truncated stream's removed events are gone from the log, but a handler's cached state built from them is not,
  // and a snapshot of it would write their personal fields in plain text.
  async function holdsPersonal(streamId: string): Promise<boolean> {
    if (personalTypes.length === 0) return false;
    const { events: found } = await store.read([{ types: personalTypes, tags: [streamId] }], { limit: 1 });
    if (found.length > 0 || store.lifecycle === undefined) return found.length > 0;
    const status = await store.lifecycle.status(streamId).catch(() => undefined);
    return status === undefined || status.truncatedBefore > 1;
  }

  const inner = store.snapshots;
  const snapshots: SnapshotStore | undefined = inner && {
    async loadSnapshot(streamId, name, version) {
      const snapshot = await inner.loadSnapshot(streamId, name, version);
      return snapshot === undefined || (await holdsPersonal(streamId)) ? undefined : snapshot;
    },
    async saveSnapshot(snapshot: Snapshot) {
      const streamId = (snapshot as Partial<Snapshot> | null)?.streamId;
      if (typeof streamId === 'string' && (await holdsPersonal(streamId))) return;
      return inner.saveSnapshot(snapshot);
    },
  };

  const overrides: Partial<EventStore> & Partial<StateStoredStore<unknown>> & { forget(subject: string): Promise<boolean> } = {
    append: (async (first: string | readonly NewEvent[], second?: unknown, third?: unknown) =>
      typeof first === 'string'
        ? store.append(first, await encrypted(second as readonly NewEvent[]), third as never)
        : store.append((await encrypted(first)) as never, second as never)) as EventStore['append'],
    async appendMany(writes, appendOptions) {
      if (!Array.isArray(writes)) return store.appendMany(writes, appendOptions);
      // One key lookup (and one key-store transaction) for the whole call, not one per write.
      const lists = (writes as readonly StreamWrite[]).map((w) =>
        typeof w === 'object' && w !== null && Array.isArray(w.events) ? w.events : undefined,
      );
      const sealed = await encrypted(lists.flatMap((events) => events ?? []));
      let at = 0;
      const all = (writes as readonly StreamWrite[]).map((w, i) => {
        const events = lists[i];
        if (events === undefined) return w;
        at += events.length;
        return { ...w, events: sealed.slice(at - events.length, at) };
      });
      return store.appendMany(all, appendOptions);
    },
    async readStream(streamId, readOptions) {
      return decrypted(await store.readStream(streamId, readOptions));
    },
    async read(query, readOptions) {
      const result = await store.read(query, readOptions);
      return { ...result, events: await decrypted(result.events) };
    },
    async readAll(readOptions) {
      return decrypted(await store.readAll(readOptions));
    },
    subscribe(subscribeOptions, handler) {
      return store.subscribe(subscribeOptions, async (batch, checkpoint) => handler(await decrypted(batch), checkpoint));
    },
    forget: (subject) => cache.forget(subject),
  };
  const transact = (store as Partial<StateStoredStore<unknown>>).transact;
  if (typeof transact === 'function') {
    overrides.transact = async (work: TransactWork<unknown>, transactOptions?: TransactOptions) => {
      const subjects = transactOptions?.subjects ?? [];
      if (!Array.isArray(subjects)) throw new ChronicleError('INVALID_ARGUMENT', 'transact: subjects must be an array');
      for (const subject of subjects) {
        try {
          assertSubject(subject);
        } catch (err) {
          throw new ChronicleError('INVALID_ARGUMENT', `transact: ${(err as Error).message}`, { cause: err });
        }
      }
      // Fetched (or created, durably) before the transaction, as an append does before it reaches the store.
      const found = subjects.length === 0 ? new Map<string, SubjectKey>() : await cache.keysFor([...new Set(subjects)]);
      if (typeof work !== 'function') return transact.call(store, work, transactOptions);
      return transact.call(store, (tx) => andThen(work(tx), (writes) => sealedWrites(writes, found)), transactOptions);
    };
  }
  // The lifecycle's archive is a read path too: its events come back decrypted (or redacted), as readStream's do.
  const lifecycle = (store as { lifecycle?: StreamLifecycle }).lifecycle;
  if (typeof lifecycle?.readArchived === 'function') {
    const wrapped: StreamLifecycle = {
      truncate: (streamId, o) => lifecycle.truncate(streamId, o),
      tombstone: (streamId, o) => lifecycle.tombstone(streamId, o),
      archive: (streamId) => lifecycle.archive(streamId),
      status: (streamId) => lifecycle.status(streamId),
      readArchived: async (streamId) => decrypted(await lifecycle.readArchived(streamId)),
    };
    Object.assign(overrides, { lifecycle: wrapped });
  }
  if (options.closeKeys === true) {
    overrides.close = async () => {
      try {
        await store.close();
      } finally {
        await keys.close();
      }
    };
  }
  if (snapshots !== undefined) Object.assign(overrides, { snapshots });
  // A proxy, so methods a store has beyond the port (or gains later) stay reachable, bound to the store itself. A new
  // method that takes or returns events must get an override here, or it bypasses encryption.
  return new Proxy(store, {
    get(target, property) {
      if (Object.hasOwn(overrides, property)) return overrides[property as keyof typeof overrides];
      const value = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  }) as CryptoShreddingStore<S>;
}
