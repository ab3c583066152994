// The checks and errors the lifecycle operations share across stores, so every store answers bad input alike.
import { ChronicleError } from '../errors.js';
import type { StreamLifecycleState } from './stream-lifecycle.js';

/**
 * The STREAM_DELETED error of a stream that is `state`: `details.tombstoned` / `details.archived` tell a hard delete
 * and an archived stream from a soft delete.
 */
export function deletedStreamError(streamId: string, state: StreamLifecycleState = 'deleted'): ChronicleError {
  const details: Record<string, unknown> = { streamId };
  if (state === 'tombstoned') details.tombstoned = true;
  if (state === 'archived') details.archived = true;
  const what = state === 'tombstoned' ? 'tombstoned' : state === 'archived' ? 'deleted and archived' : 'deleted';
  return new ChronicleError('STREAM_DELETED', `stream ${JSON.stringify(streamId)} is ${what}`, { details });
}

/** The NOT_FOUND of a lifecycle operation on a stream that never had events. */
export function noStreamError(streamId: string): ChronicleError {
  return new ChronicleError('NOT_FOUND', `stream ${JSON.stringify(streamId)} has no events`, { details: { streamId } });
}

/** Checks truncate's options against the stream's version. @throws INVALID_ARGUMENT */
export function truncateBefore(options: unknown, version: number): number {
  const before = typeof options === 'object' && options !== null ? (options as { before?: unknown }).before : undefined;
  if (!(typeof before === 'number' && Number.isSafeInteger(before) && before >= 1)) {
    throw new ChronicleError('INVALID_ARGUMENT', `truncate needs { before: a positive integer }, got ${JSON.stringify(before)}`);
  }
  // The last event stays: it carries the stream's version, so the next append numbers on from it.
  if (before > version) {
    throw new ChronicleError('INVALID_ARGUMENT', `truncate before ${before} would remove the last event (version ${version})`, {
      details: { before, version },
    });
  }
  return before;
}

/** The shape check of truncate's options before a store looks at the stream. @throws INVALID_ARGUMENT */
export function assertTruncateOptions(options: unknown): void {
  truncateBefore(options, Number.MAX_SAFE_INTEGER);
}

/** The refusal to archive a stream that is still open. */
export function notClosedError(streamId: string): ChronicleError {
  return new ChronicleError(
    'INVALID_ARGUMENT',
    `stream ${JSON.stringify(streamId)} is not deleted: deleteStream closes it before archive`,
    {
      details: { streamId },
    },
  );
}

/** The NOT_FOUND of readArchived on a stream that is not archived. */
export function notArchivedError(streamId: string): ChronicleError {
  return new ChronicleError('NOT_FOUND', `stream ${JSON.stringify(streamId)} is not archived`, { details: { streamId } });
}
