// Max-age / max-count stream metadata: which of a stream's events its reads return. The events stay stored (and in
// the global log); only readStream, and so the command handlers loading through it, stop seeing them.
import { ChronicleError } from '../errors.js';
import type { RecordedEvent } from '../event-store.js';

/** The retention keys of a stream's metadata. */
export type StreamRetention = {
  /** Events recorded more than this many seconds ago are not returned by readStream. A positive number. */
  maxAge?: number;
  /** Only the last this many events are returned by readStream. A positive integer. */
  maxCount?: number;
};

/** Refuses malformed retention keys in stream metadata (setStreamMetadata). @throws INVALID_ARGUMENT */
export function assertRetention(metadata: Record<string, unknown>): void {
  const { maxAge, maxCount } = metadata;
  if (maxAge !== undefined && !(typeof maxAge === 'number' && Number.isFinite(maxAge) && maxAge > 0)) {
    throw new ChronicleError(
      'INVALID_ARGUMENT',
      `stream metadata maxAge must be a positive number of seconds, got ${JSON.stringify(maxAge)}`,
    );
  }
  if (maxCount !== undefined && !(typeof maxCount === 'number' && Number.isSafeInteger(maxCount) && maxCount > 0)) {
    throw new ChronicleError(
      'INVALID_ARGUMENT',
      `stream metadata maxCount must be a positive integer, got ${JSON.stringify(maxCount)}`,
    );
  }
}

/** The retention a stream's metadata sets, or undefined when it sets none (the common case: reads are not filtered). */
export function retentionOf(metadata: Record<string, unknown> | undefined): StreamRetention | undefined {
  if (metadata === undefined) return undefined;
  const { maxAge, maxCount } = metadata;
  if (maxAge === undefined && maxCount === undefined) return undefined;
  return {
    maxAge: typeof maxAge === 'number' ? maxAge : undefined,
    maxCount: typeof maxCount === 'number' ? maxCount : undefined,
  };
}

/**
 * A readStream answer under `retention`, from every stored event of the stream (`all`, in version order) and the
 * normalized read options: only the last `maxCount` events, and only those recorded within `maxAge` of `now`.
 */
export function retainedRead(
  all: readonly RecordedEvent[],
  retention: StreamRetention,
  options: { direction: 'forward' | 'backward'; from: number; limit: number },
  now = Date.now(),
): RecordedEvent[] {
  const last = all.length === 0 ? 0 : all[all.length - 1].version;
  const firstKept = retention.maxCount === undefined ? 1 : last - retention.maxCount + 1;
  const oldest = retention.maxAge === undefined ? Number.NEGATIVE_INFINITY : now - retention.maxAge * 1000;
  const visible = all.filter((e) => e.version >= firstKept && Date.parse(e.metadata.timestamp) >= oldest);
  const { direction, from, limit } = options;
  const picked =
    direction === 'forward' ? visible.filter((e) => e.version >= from) : visible.filter((e) => e.version <= from).reverse();
  return picked.length > limit ? picked.slice(0, limit) : picked;
}
