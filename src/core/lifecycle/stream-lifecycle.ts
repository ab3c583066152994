// The stream-lifecycle port: truncate a stream's head, tombstone a stream (hard delete), archive a closed stream's
// events out of the global log. Every store of ours has one (`store.lifecycle`); the conformance suite checks it.
import type { ExpectedVersion, RecordedEvent } from '../event-store.js';

/**
 * Where a stream is in its life: `live` (appendable), `deleted` (soft-deleted: closed, its events still in the log),
 * `archived` (closed, its events moved out of the log to the archive), `tombstoned` (hard-deleted: its events are
 * gone, and its id can never be appended to again).
 */
export type StreamLifecycleState = 'live' | 'deleted' | 'archived' | 'tombstoned';

/** What `lifecycle.status` reports of a stream. */
export type StreamLifecycleStatus = {
  streamId: string;
  state: StreamLifecycleState;
  /** The stream's version: for an archived or tombstoned stream, the one it had when its events left the log. */
  version: number;
  /** The first version still stored (reads start there); 1 when never truncated. */
  truncatedBefore: number;
};

/** Options of `lifecycle.truncate`. */
export type TruncateOptions = {
  /** Events below this version are removed; it is between 1 and the stream's version (the last event always stays). */
  before: number;
};

/** Options of `lifecycle.tombstone`. */
export type TombstoneOptions = {
  /** The stream must be at this version (checked atomically with the delete). Default `'any'`. */
  expectedVersion?: ExpectedVersion;
};

/**
 * The lifecycle operations of a store. Each runs in one transaction with the store's appends, so an append racing it
 * is either fully before it (and covered by it) or fully after it (and sees what it left). Positions and versions are
 * never reused: a truncated stream appends on from its version; a removed position stays a gap in the global log.
 */
export interface StreamLifecycle {
  /**
   * Removes the stream's events below `before`, physically, at once: readStream then starts at `before`, readAll,
   * subscriptions and projection rebuilds no longer see the removed events (a projection that needs them must not
   * truncate). The next append continues the numbering. Returns how many events were removed (0 when none were left
   * below `before`).
   * @throws INVALID_ARGUMENT malformed id, `before` not an integer from 1 to the stream's version
   * @throws NOT_FOUND the stream has no events
   * @throws STREAM_DELETED the stream is deleted, archived or tombstoned (`details.tombstoned` / `details.archived`)
   * @throws CLOSED
   */
  truncate(streamId: string, options: TruncateOptions): Promise<{ removed: number }>;

  /**
   * Hard-deletes a stream: its events (hot or archived) and its snapshots in the store are removed at once, and its id
   * can never be appended to again (STREAM_DELETED with `details.tombstoned: true`, as are its reads). Idempotency
   * keys of its appends stay: the same key again answers the first result and writes nothing. Tombstoning a
   * tombstoned stream does nothing.
   * @throws INVALID_ARGUMENT malformed id or expected version
   * @throws NOT_FOUND the stream never had events
   * @throws CONCURRENCY_CONFLICT the stream is not at `expectedVersion`
   * @throws CLOSED
   */
  tombstone(streamId: string, options?: TombstoneOptions): Promise<void>;

  /**
   * Moves a closed (soft-deleted) stream's events out of the global log into the archive, in the same database, in
   * one transaction: readAll, subscriptions and rebuilds no longer see them; `readArchived` returns them. Returns how
   * many events were moved (0 when it was already archived). There is no way back into the log.
   * @throws INVALID_ARGUMENT malformed id, or the stream is not deleted (`deleteStream` closes it first)
   * @throws NOT_FOUND the stream never had events
   * @throws STREAM_DELETED the stream is tombstoned (`details.tombstoned: true`)
   * @throws CLOSED
   */
  archive(streamId: string): Promise<{ archived: number }>;

  /**
   * The archived events of a stream, in version order, as they were recorded (same ids, versions and positions).
   * @throws INVALID_ARGUMENT malformed id
   * @throws NOT_FOUND the stream is not archived
   * @throws STREAM_DELETED the stream is tombstoned (`details.tombstoned: true`)
   * @throws CLOSED
   */
  readArchived(streamId: string): Promise<RecordedEvent[]>;

  /** Where a stream is in its life (`live` at version 0 for one never written). @throws INVALID_ARGUMENT, CLOSED */
  status(streamId: string): Promise<StreamLifecycleStatus>;
}
