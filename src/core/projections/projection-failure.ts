// A projection's failures: recorded from what was thrown, turned into the error waits reject with, and read back from
// a stored record by processes that do not run the projection themselves.
import { ChronicleError, isChronicleError } from '../errors.js';
import type { RecordedEvent } from '../event-store.js';
import type { ProjectionFailure, ProjectionRecord } from './projection-store.js';

/** The message of anything thrown. */
export const errorMessage = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** The failure record of `err`, naming `event` when one event was to blame. */
export function failureAt(err: unknown, event?: RecordedEvent): ProjectionFailure {
  return {
    message: errorMessage(err),
    ...(isChronicleError(err) && { code: err.code }),
    ...(event && { eventId: event.id, position: event.position, type: event.type }),
    at: new Date().toISOString(),
  };
}

/** The PROJECTION_FAILED error a wait (or a rebuild) settles with when `name` stopped at `position` on `failure`. */
export function projectionFailed(name: string, position: number, failure: ProjectionFailure | undefined): ChronicleError {
  return new ChronicleError('PROJECTION_FAILED', `projection ${name} failed: ${failure?.message ?? 'unknown error'}`, {
    details: { projection: name, position, lastError: failure },
  });
}

/**
 * The stored failure that holds a projection's served checkpoint where it is, if any: one of the active generation,
 * or one that kept it from starting at all. A failed rebuild leaves the active generation going on, unless that one
 * is of an older version (then nothing applies to it until the rebuild swaps in).
 */
export function servedFailure(record: ProjectionRecord): ProjectionFailure | undefined {
  const failure = record.failure;
  if (!failure) return undefined;
  if (failure.generation === undefined || failure.generation === record.generation) return failure;
  const rebuild = record.rebuild;
  return rebuild?.generation === failure.generation && rebuild.version !== record.version ? failure : undefined;
}
