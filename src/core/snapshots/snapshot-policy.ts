// How a command handler uses snapshots: which one to start a load from, whether the stream still vouches for it, and
// when to save the next one (out of band: a snapshot that fails to save costs a longer load later, never a command).
import { ChronicleError } from '../errors.js';
import type { EventStore, RecordedEvent } from '../event-store.js';
import type { SnapshotStore } from './snapshot-store.js';

/** A command handler's `snapshot` option. */
export type SnapshotOptions = {
  /** Save a stream's state once at least this many events were folded since its last snapshot. A positive integer. */
  every: number;
  /** The model's snapshot version: raise it whenever `evolve` or the state's shape changes; older snapshots are ignored. */
  version: number;
  /** Which model's state this is; handlers with different models over the same streams need different names. Default 'state'. */
  name?: string;
  /** Where snapshots are kept. Default: the event store's own (`store.snapshots`). */
  store?: SnapshotStore;
  /** Told when a snapshot could not be loaded or saved (the command went on without it). */
  onError?: (error: unknown, streamId: string) => void;
};

/** A state a load may start from. */
export type SnapshotBase = { state: unknown; version: number; position: number };

/** What a handler's loads do with snapshots. */
export type SnapshotPolicy = {
  /** The snapshot to start from, if one is stored for this model and version (a failed load counts as none). */
  load(streamId: string): Promise<SnapshotBase | undefined>;
  /**
   * Whether the stream still holds the snapshot's last event: `events` were read from the snapshot's version
   * (inclusive), so the first must be that very event. A stream shorter than the snapshot (truncated, or deleted and
   * written again) is not trusted.
   */
  vouches(base: SnapshotBase, events: readonly RecordedEvent[]): boolean;
  /**
   * Saves `loaded` out of band when `every` events were folded since `since` (-Infinity: a snapshot the stream did not
   * vouch for, to be replaced now); returns the version now snapshotted.
   */
  afterLoad(streamId: string, loaded: SnapshotBase, since: number): number;
};

/**
 * The policy of `options` over `eventStore`, or undefined without the option.
 * @throws INVALID_ARGUMENT malformed options, or no snapshot store (the event store has none and none was given)
 */
export function snapshotPolicy(options: SnapshotOptions | undefined, eventStore: EventStore): SnapshotPolicy | undefined {
  if (options === undefined) return undefined;
  if (typeof options !== 'object' || options === null) {
    throw new ChronicleError('INVALID_ARGUMENT', 'snapshot must be an object { every, version }');
  }
  const { every, version, name = 'state', onError } = options;
  if (!(Number.isSafeInteger(every) && every >= 1)) {
    throw new ChronicleError('INVALID_ARGUMENT', `snapshot.every must be a positive integer, got ${JSON.stringify(every)}`);
  }
  if (!(Number.isSafeInteger(version) && version >= 1)) {
    throw new ChronicleError('INVALID_ARGUMENT', `snapshot.version must be a positive integer, got ${JSON.stringify(version)}`);
  }
  if (typeof name !== 'string' || name.length === 0 || name.length > 200) {
    throw new ChronicleError('INVALID_ARGUMENT', 'snapshot.name must be a string of 1 to 200 characters');
  }
  const store = options.store ?? eventStore.snapshots;
  if (typeof store?.loadSnapshot !== 'function' || typeof store.saveSnapshot !== 'function') {
    throw new ChronicleError(
      'INVALID_ARGUMENT',
      'snapshot needs a snapshot store: this event store has none, give snapshot.store',
    );
  }
  const report = (err: unknown, streamId: string) => {
    try {
      onError?.(err, streamId);
    } catch {
      // A failing reporter must not turn a skipped snapshot into a failed command.
    }
  };
  // One save per stream at a time: a slow store must not pile up writes of states that are already stale.
  const saving = new Set<string>();

  return {
    async load(streamId) {
      try {
        const snapshot = await store.loadSnapshot(streamId, name, version);
        return snapshot && { state: snapshot.state, version: snapshot.streamVersion, position: snapshot.position };
      } catch (err) {
        report(err, streamId);
        return undefined;
      }
    },
    vouches: (base, events) => events[0]?.version === base.version && events[0].position === base.position,
    afterLoad(streamId, loaded, since) {
      if (loaded.version < 1 || loaded.version - since < every || saving.has(streamId)) return since;
      saving.add(streamId);
      const snapshot = { streamId, name, version, streamVersion: loaded.version, position: loaded.position, state: loaded.state };
      // Not awaited, and begun after this turn: the command goes on (a synchronous store would write inline).
      setTimeout(() => {
        let saved: Promise<void>;
        try {
          saved = Promise.resolve(store.saveSnapshot(snapshot));
        } catch (err) {
          saved = Promise.reject(err);
        }
        saved.catch((err: unknown) => report(err, streamId)).finally(() => saving.delete(streamId));
      }, 0);
      return loaded.version;
    },
  };
}
