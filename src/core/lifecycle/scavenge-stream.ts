// Scavenge: physically delete what a stream's max-age / max-count metadata already hides from its reads.
import { ChronicleError } from '../errors.js';
import type { EventStore } from '../event-store.js';
import { assertStreamId } from '../store-kit.js';
import { retentionOf } from './stream-retention.js';

/**
 * Truncates `streamId` before the first event its reads still return (its `maxCount` / `maxAge` metadata), so the
 * hidden events also leave the global log; the last event always stays. Does nothing (`removed: 0`) for a stream
 * without such metadata or with nothing hidden. Run it when nothing needs the hidden events any more: afterwards a
 * longer maxCount or maxAge cannot bring them back.
 * @throws INVALID_ARGUMENT malformed id, or a store without a lifecycle
 * @throws STREAM_DELETED the stream is deleted, archived or tombstoned
 * @throws CLOSED
 */
export async function scavengeStream(store: EventStore, streamId: string): Promise<{ removed: number }> {
  assertStreamId(streamId);
  const lifecycle = store.lifecycle;
  if (lifecycle === undefined)
    throw new ChronicleError('INVALID_ARGUMENT', 'this store has no stream lifecycle to scavenge with');
  const info = await store.streamInfo(streamId);
  if (retentionOf(info.metadata) === undefined || info.version === 0) return { removed: 0 };
  const [first] = await store.readStream(streamId, { limit: 1 });
  // Everything expired (max-age): keep the last event, which carries the version the next append numbers on from.
  const before = first === undefined ? info.version : first.version;
  return before > 1 ? lifecycle.truncate(streamId, { before }) : { removed: 0 };
}
