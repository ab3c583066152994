// Export: the whole global log in position order, then each stream's state, as NDJSON lines.
import { ChronicleError } from '../errors.js';
import type { EventStore, StreamInfo } from '../event-store.js';
import { categoryOf } from '../store-kit.js';
import {
  LOG_FORMAT,
  LOG_FORMAT_VERSION,
  type LogEndLine,
  type LogEventLine,
  type LogHeaderLine,
  type LogStreamLine,
} from './log-format.js';
import { DEFAULT_SETTLE_TIMEOUT_MS, readSettled } from './read-settled.js';

/** Where a transfer is, reported after each page or batch. */
export type LogTransferProgress = {
  /** `events` while the log moves, `streams` while stream states do. */
  phase: 'events' | 'streams';
  /** Events done: exported, or (importing) written plus skipped. */
  events: number;
  /** Importing: events this run appended. */
  written: number;
  /** Importing: events the target already held (an interrupted import resumed). */
  skipped: number;
  /** Stream lines done. */
  streams: number;
  /** The source position reached. */
  position: number;
  /** The source's head when the export began: `position / headPosition` is the share done. */
  headPosition: number;
};

/** Progress before the first event, as both directions start it. */
export const startProgress = (headPosition: number): LogTransferProgress => ({
  phase: 'events',
  events: 0,
  written: 0,
  skipped: 0,
  streams: 0,
  position: 0,
  headPosition,
});

export type ExportLogOptions = {
  /** Events per readAll. Default 1000. */
  pageSize?: number;
  /** How long to wait for the log's readers to pass an open append (PostgreSQL). Default 30 s. */
  settleTimeoutMs?: number;
  /**
   * Only the streams of these categories (the stream id before its first `-`), each stream whole. The log is still
   * read through (a category's events are spread over it) and checked unchanged at the end.
   */
  categories?: readonly string[];
  onProgress?: (progress: LogTransferProgress) => void;
};

// streamInfo is one query per stream: a few in flight hide the round trips without crowding a pool.
const INFO_CONCURRENCY = 16;

/**
 * The store's log as NDJSON lines (without newlines): a header, every event in position order (with its tags, when it
 * has any), one line per stream (version, deleted flag, custom metadata), and an end line with the counts. Stop the
 * source's writers first: a write during the export makes it fail rather than produce a file that matches no moment of
 * the log. Streams that never had an event are not in the log and are not exported.
 * @throws CONCURRENCY_CONFLICT the source was written during the export
 * @throws TIMEOUT an open transaction held the source's readers back for longer than `settleTimeoutMs`
 * @throws STORE_ERROR, CLOSED from the store
 */
export async function* exportLog(store: EventStore, options: ExportLogOptions = {}): AsyncGenerator<string> {
  const pageSize = options.pageSize ?? 1000;
  const settleTimeoutMs = options.settleTimeoutMs ?? DEFAULT_SETTLE_TIMEOUT_MS;
  const categories = options.categories && new Set(options.categories);
  const headPosition = await store.headPosition();
  const progress = startProgress(headPosition);
  const header: LogHeaderLine = {
    kind: 'header',
    format: LOG_FORMAT,
    version: LOG_FORMAT_VERSION,
    exportedAt: new Date().toISOString(),
    headPosition,
  };
  yield JSON.stringify(header);

  // Each stream's last version, in order of first appearance: the stream lines and the final consistency check.
  const versions = new Map<string, number>();
  for (;;) {
    const from = progress.position + 1;
    // Below the head taken at the start an empty page means "not readable yet", not "the end".
    const page =
      progress.position < headPosition
        ? await readSettled(store, from, pageSize, settleTimeoutMs)
        : await store.readAll({ from, limit: pageSize });
    if (page.length === 0) break;
    // Read unfiltered so that, as without categories, an empty page below the head still means "not readable yet".
    const position = page[page.length - 1].position;
    let exported = 0;
    for (const e of page) {
      if (categories && !categories.has(categoryOf(e.streamId))) continue;
      exported++;
      const line: LogEventLine = {
        kind: 'event',
        position: e.position,
        streamId: e.streamId,
        version: e.version,
        id: e.id,
        type: e.type,
        data: e.data,
        metadata: e.metadata,
      };
      // Only when there are some: an untagged event's line stays the line the format had before tags.
      if (e.tags.length > 0) line.tags = [...e.tags];
      versions.set(e.streamId, e.version);
      yield JSON.stringify(line);
    }
    progress.events += exported;
    progress.position = position;
    options.onProgress?.({ ...progress });
  }

  progress.phase = 'streams';
  const ids = [...versions.keys()];
  for (let i = 0; i < ids.length; i += INFO_CONCURRENCY) {
    const infos = await Promise.all(ids.slice(i, i + INFO_CONCURRENCY).map((id) => store.streamInfo(id)));
    for (const info of infos) {
      assertUnchanged(info, versions.get(info.streamId) ?? 0);
      const line: LogStreamLine = {
        kind: 'stream',
        streamId: info.streamId,
        version: info.version,
        deleted: info.deleted,
        metadata: info.metadata,
      };
      yield JSON.stringify(line);
    }
    progress.streams += infos.length;
    options.onProgress?.({ ...progress });
  }

  // A stream first written after the last page shows in no version above, only in the head.
  const headAfter = await store.headPosition();
  if (headAfter !== progress.position) {
    throw changedDuringExport(`the log's head moved from ${progress.position} to ${headAfter}`);
  }
  const end: LogEndLine = { kind: 'end', events: progress.events, streams: ids.length };
  yield JSON.stringify(end);
}

function assertUnchanged(info: StreamInfo, exported: number): void {
  if (info.version !== exported) {
    throw changedDuringExport(
      `stream ${JSON.stringify(info.streamId)} is at version ${info.version}, exported up to ${exported}`,
    );
  }
}

function changedDuringExport(what: string): ChronicleError {
  return new ChronicleError(
    'CONCURRENCY_CONFLICT',
    `the source was written during the export (${what}): stop its writers and export again`,
  );
}
