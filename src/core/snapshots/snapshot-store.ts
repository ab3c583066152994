// The snapshot port: a stream's folded state at one of its versions, saved out of band so loading a long stream reads
// the snapshot and the events after it. Event stores keep snapshots in their own database (`store.snapshots`).
import { ChronicleError } from '../errors.js';
import { assertStreamId } from '../store-kit.js';

/** A stream's state as folded through `streamVersion` by the model `name` at snapshot `version`. */
export type Snapshot = {
  streamId: string;
  /** Which model's state it is (handlers over the same streams with different models need different names). */
  name: string;
  /** The model's snapshot version: raising it ignores every snapshot taken before. A positive integer. */
  version: number;
  /** The stream version the state is folded through (at least 1). */
  streamVersion: number;
  /** The global position of the event at `streamVersion`: a stream recreated since would not match it. */
  position: number;
  /** The folded state; stored as JSON, so it must be JSON-serializable (no Map, Set, Date kept as such). */
  state: unknown;
  /** ISO-8601 time it was saved (set by the store). */
  takenAt?: string;
};

/** Where snapshots are kept. Every implementation passes `describeSnapshotStoreConformance` from chronicle/testing. */
export interface SnapshotStore {
  /**
   * The latest snapshot of `streamId` by model `name` at `version` (a fresh copy of its state), if any.
   * @throws INVALID_ARGUMENT malformed stream id, name or version; CLOSED; STORE_ERROR
   */
  loadSnapshot(streamId: string, name: string, version: number): Promise<Snapshot | undefined>;
  /**
   * Saves a snapshot in place of the one stored for the same stream, name and version, if any (the last save wins:
   * an older state only makes the next load read a longer tail, and one the stream no longer vouches for must be
   * replaceable).
   * @throws INVALID_ARGUMENT malformed fields or a state that is not JSON; CLOSED; STORE_ERROR
   */
  saveSnapshot(snapshot: Snapshot): Promise<void>;
}

/** A checked snapshot key. @throws INVALID_ARGUMENT */
export function assertSnapshotKey(streamId: unknown, name: unknown, version: unknown): void {
  assertStreamId(streamId as string);
  if (typeof name !== 'string' || name.length === 0 || name.length > 200) {
    throw new ChronicleError('INVALID_ARGUMENT', 'snapshot name must be a string of 1 to 200 characters');
  }
  if (!(typeof version === 'number' && Number.isSafeInteger(version) && version >= 1)) {
    throw new ChronicleError('INVALID_ARGUMENT', `snapshot version must be a positive integer, got ${JSON.stringify(version)}`);
  }
}

/** A snapshot checked, with its state as JSON, ready to store. @throws INVALID_ARGUMENT */
export function encodeSnapshot(snapshot: Snapshot): { snapshot: Snapshot; stateJson: string } {
  if (typeof snapshot !== 'object' || snapshot === null)
    throw new ChronicleError('INVALID_ARGUMENT', 'a snapshot must be an object');
  assertSnapshotKey(snapshot.streamId, snapshot.name, snapshot.version);
  for (const field of ['streamVersion', 'position'] as const) {
    const n = snapshot[field];
    if (!(typeof n === 'number' && Number.isSafeInteger(n) && n >= 1)) {
      throw new ChronicleError('INVALID_ARGUMENT', `snapshot ${field} must be a positive integer, got ${JSON.stringify(n)}`);
    }
  }
  let stateJson: string | undefined;
  try {
    stateJson = JSON.stringify(snapshot.state);
  } catch (err) {
    throw new ChronicleError('INVALID_ARGUMENT', `snapshot state is not JSON-serializable: ${(err as Error).message}`, {
      cause: err,
    });
  }
  if (stateJson === undefined)
    throw new ChronicleError('INVALID_ARGUMENT', 'snapshot state is not JSON (undefined or a function)');
  return { snapshot, stateJson };
}
