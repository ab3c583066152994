// Reading the global log when events are known to exist past a position but may not be readable yet.
import { setTimeout as sleep } from 'node:timers/promises';
import { ChronicleError } from '../errors.js';
import type { EventStore, RecordedEvent } from '../event-store.js';

/** Default for how long a transfer waits for the log's readers to pass an open transaction. */
export const DEFAULT_SETTLE_TIMEOUT_MS = 30_000;

const RETRY_MS = 10;

/**
 * At least one event from `from` on, when the caller knows one is committed there. On PostgreSQL readers stop below
 * the oldest append still open, so a page can come back empty for a while; this waits (up to `timeoutMs`) instead of
 * taking the empty page for the end of the log.
 * @throws TIMEOUT when nothing became readable in time
 */
export async function readSettled(store: EventStore, from: number, limit: number, timeoutMs: number): Promise<RecordedEvent[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const page = await store.readAll({ from, limit });
    if (page.length > 0) return page;
    if (Date.now() >= deadline) {
      throw new ChronicleError(
        'TIMEOUT',
        `events from position ${from} stayed unreadable for ${timeoutMs} ms: an open transaction holds the log's readers back`,
        { details: { position: from, timeoutMs } },
      );
    }
    await sleep(RETRY_MS);
  }
}
