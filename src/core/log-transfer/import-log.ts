// Import: appends an exported log to a store in the same global order, with the same ids, versions and timestamps.
import { ChronicleError, isChronicleError } from '../errors.js';
import type { AppendResult, EventStore, NewEvent, RecordedEvent } from '../event-store.js';
import { type LogTransferProgress, startProgress } from './export-log.js';
import { createLogReader, type LogEventLine, type LogStreamLine, type LogSummary } from './log-format.js';
import { DEFAULT_SETTLE_TIMEOUT_MS, readSettled } from './read-settled.js';

export type ImportLogOptions = {
  /** Most events per appendMany. Default 500. */
  batchSize?: number;
  /** Events per readAll when comparing a resumed import's target with the file. Default 1000. */
  pageSize?: number;
  /** How long to wait for the target's readers to pass an open append (PostgreSQL). Default 30 s. */
  settleTimeoutMs?: number;
  onProgress?: (progress: LogTransferProgress) => void;
};

export type ImportLogResult = LogSummary & {
  /** Events this run appended. */
  written: number;
  /** Events the target already held from an earlier, interrupted run. */
  skipped: number;
  /** appendMany calls made. */
  appends: number;
  /**
   * Every event has the position it had in the source (both logs without gaps). Checkpoints taken on the source,
   * such as a read store's, then still hold on the target; otherwise rebuild what was built from the source.
   */
  positionsKept: boolean;
};

// A run of consecutive events of one stream: one write of an appendMany, version-checked at the version before it.
type PendingWrite = { streamId: string; firstVersion: number; events: NewEvent[] };

const STREAM_CONCURRENCY = 16;

/**
 * Appends the events of an exported log (lines as written by exportLog, newlines optional) in the file's order,
 * then sets each stream's metadata and deleted flag. Consecutive events of one stream form one write at the version
 * before them, and runs of distinct streams go to the store together as one atomic appendMany. After each batch the
 * positions it got must follow on from the last batch's, or else the target's log is read back: every event must be
 * the file's next one, so a write by anyone else during the import stops it with CONCURRENCY_CONFLICT instead of
 * interleaving silently.
 *
 * Resumable: when the target is not empty, its log must be the file's first events, same ids in the same order (what
 * an interrupted run leaves, since each batch is atomic); they are skipped and the import goes on after them.
 * Positions are the target's own; ids, stream versions, data, metadata (with the original timestamps) and tags are
 * the file's; a line without tags (every line of a file written before tags existed) is an event without them.
 * Idempotency records are not part of a log and do not move.
 * @throws INVALID_ARGUMENT a bad line (with `details.line`), a file of another format version, a truncated file;
 *   nothing after the last whole batch before it is written
 * @throws CONCURRENCY_CONFLICT the target holds other events, or was written during the import
 * @throws TIMEOUT an open transaction held the target's readers back for longer than `settleTimeoutMs`
 * @throws STORE_ERROR, CLOSED from the store
 */
export async function importLog(
  store: EventStore,
  lines: AsyncIterable<string> | Iterable<string>,
  options: ImportLogOptions = {},
): Promise<ImportLogResult> {
  const batchSize = options.batchSize ?? 500;
  const settleTimeoutMs = options.settleTimeoutMs ?? DEFAULT_SETTLE_TIMEOUT_MS;
  const reader = createLogReader();
  const target = new TargetCursor(store, options.pageSize ?? 1000);
  const progress = startProgress(0);
  let appends = 0;

  let writes: PendingWrite[] = [];
  // The batch's events as the file has them, to find them again in the target's log.
  let batch: { id: string; position: number }[] = [];
  let batchStreams = new Set<string>();
  let batchLine = 0;
  let positionsKept = true;

  async function flush(): Promise<void> {
    if (writes.length === 0) return;
    let results: AppendResult[];
    try {
      results = await store.appendMany(
        writes.map((w) => ({ streamId: w.streamId, events: w.events, expectedVersion: w.firstVersion - 1 })),
      );
    } catch (err) {
      throw atLine(err, batchLine);
    }
    appends++;
    if (followsOn(results)) {
      for (let i = 0; i < batch.length; i++) if (batch[i].position !== targetPosition + i + 1) positionsKept = false;
      targetPosition += batch.length;
    } else {
      await confirmWritten(batch, batchLine);
    }
    progress.written += batch.length;
    progress.events += batch.length;
    progress.position = batch[batch.length - 1].position;
    writes = [];
    batch = [];
    batchStreams = new Set();
    options.onProgress?.({ ...progress });
  }

  // Where the target's log is known to hold the file's events up to.
  let targetPosition = 0;

  // True when each write's last position is exactly where the writes before it leave off: the batch's events then
  // fill every position after targetPosition, in the file's order, with no room for anyone else's event. Anything
  // else (a gap a rolled-back transaction left, another writer) is settled by reading the log back.
  function followsOn(results: readonly AppendResult[]): boolean {
    let end = targetPosition;
    for (let i = 0; i < writes.length; i++) {
      end += writes[i].events.length;
      if (results[i].position !== end) return false;
    }
    return true;
  }

  // Reads back what the batch wrote: the target's next events must be exactly these, in this order.
  async function confirmWritten(events: readonly { id: string; position: number }[], line: number): Promise<void> {
    let i = 0;
    while (i < events.length) {
      const page = await readSettled(store, targetPosition + 1, events.length - i, settleTimeoutMs);
      for (const e of page) {
        if (e.id !== events[i].id) {
          throw new ChronicleError(
            'CONCURRENCY_CONFLICT',
            `import stopped at line ${line}: the target's event at position ${e.position} (id ${e.id}, stream ` +
              `${JSON.stringify(e.streamId)}) is not the file's next event (id ${events[i].id}): the target was written during ` +
              'the import; stop its writers',
            { details: { line, position: e.position, eventId: e.id, expectedEventId: events[i].id } },
          );
        }
        if (e.position !== events[i].position) positionsKept = false;
        targetPosition = e.position;
        i++;
      }
    }
  }

  async function add(e: LogEventLine): Promise<void> {
    const last = writes[writes.length - 1];
    if (last?.streamId !== e.streamId) {
      // One appendMany takes each stream once; a stream coming back ends the batch to keep the global order.
      if (batchStreams.has(e.streamId)) await flush();
      if (writes.length === 0) batchLine = reader.line;
      writes.push({ streamId: e.streamId, firstVersion: e.version, events: [] });
      batchStreams.add(e.streamId);
    }
    const event: NewEvent = { id: e.id, type: e.type, data: e.data, metadata: e.metadata };
    if (e.tags !== undefined) event.tags = e.tags;
    writes[writes.length - 1].events.push(event);
    batch.push({ id: e.id, position: e.position });
    if (batch.length >= batchSize) await flush();
  }

  // What an earlier run wrote: the target's log must be the file's first events.
  async function skipImported(e: LogEventLine): Promise<boolean> {
    const held = await target.next();
    if (held === undefined) {
      targetPosition = target.position;
      return false;
    }
    if (
      held.id !== e.id ||
      held.streamId !== e.streamId ||
      held.version !== e.version ||
      held.type !== e.type ||
      !sameTags(held.tags, e.tags)
    ) {
      throw new ChronicleError(
        'CONCURRENCY_CONFLICT',
        `the target already holds other events: its event at position ${held.position} (id ${held.id}, stream ` +
          `${JSON.stringify(held.streamId)} version ${held.version}) is not line ${reader.line}'s (id ${e.id}); import ` +
          'into an empty store, or resume into the one an interrupted import of this file left',
        { details: { line: reader.line, position: held.position, eventId: held.id, expectedEventId: e.id } },
      );
    }
    if (held.position !== e.position) positionsKept = false;
    progress.skipped++;
    progress.events++;
    progress.position = e.position;
    return true;
  }

  // After the file's last event: a target holding more was written after an import, or holds a longer log.
  async function assertNoMoreInTarget(): Promise<void> {
    if (target.done) return;
    const held = await target.next();
    if (held !== undefined) {
      throw new ChronicleError(
        'CONCURRENCY_CONFLICT',
        `the target holds events past the file's last one (position ${held.position}, id ${held.id}): it was written ` +
          'after an import of this file, or holds another log',
        { details: { position: held.position, eventId: held.id } },
      );
    }
    targetPosition = target.position;
  }

  let pendingStreams: { s: LogStreamLine; line: number }[] = [];
  async function flushStreams(): Promise<void> {
    if (pendingStreams.length === 0) return;
    await Promise.all(
      pendingStreams.map(({ s, line }) =>
        applyStream(store, s).catch((err: unknown) => {
          throw atLine(err, line);
        }),
      ),
    );
    progress.streams += pendingStreams.length;
    pendingStreams = [];
    options.onProgress?.({ ...progress });
  }

  for await (const text of lines) {
    const line = reader.read(text);
    if (line === undefined) continue;
    switch (line.kind) {
      case 'header':
        progress.headPosition = line.headPosition;
        break;
      case 'event':
        if (!target.done && (await skipImported(line))) break;
        await add(line);
        break;
      case 'stream':
        if (progress.phase === 'events') {
          await flush();
          await assertNoMoreInTarget();
          progress.phase = 'streams';
        }
        pendingStreams.push({ s: line, line: reader.line });
        if (pendingStreams.length >= STREAM_CONCURRENCY) await flushStreams();
        break;
      case 'end':
        await flush();
        await assertNoMoreInTarget();
        await flushStreams();
        break;
    }
  }
  const summary = reader.finish();
  return { ...summary, written: progress.written, skipped: progress.skipped, appends, positionsKept };
}

/** Brings a stream's custom metadata and deleted flag to the file's, once its events are in. */
async function applyStream(store: EventStore, s: LogStreamLine): Promise<void> {
  const held = await store.streamInfo(s.streamId);
  if (held.version !== s.version || (held.deleted && !s.deleted)) {
    throw new ChronicleError(
      'CONCURRENCY_CONFLICT',
      `stream ${JSON.stringify(s.streamId)} is at version ${held.version}${held.deleted ? ', deleted,' : ''} in the target ` +
        `and at version ${s.version}${s.deleted ? ', deleted,' : ''} in the file: the target was written during the import`,
      { details: { streamId: s.streamId, expectedVersion: s.version, actualVersion: held.version } },
    );
  }
  // Compared as JSON: a store that reorders keys (jsonb) only costs a needless, harmless write.
  if (!held.deleted && JSON.stringify(held.metadata) !== JSON.stringify(s.metadata)) {
    await store.setStreamMetadata(s.streamId, s.metadata);
  }
  if (s.deleted && !held.deleted) await store.deleteStream(s.streamId, { expectedVersion: s.version });
}

// A line without tags stands for an event without them; a store gives each tag once, in the order first given.
function sameTags(held: readonly string[], line: readonly string[] | undefined): boolean {
  const given = line === undefined ? [] : [...new Set(line)];
  return held.length === given.length && held.every((tag, i) => tag === given[i]);
}

// The store's error, saying where in the file the import stopped; the code stays the store's.
function atLine(err: unknown, line: number): unknown {
  if (!isChronicleError(err)) return err;
  return new ChronicleError(err.code, `import stopped at line ${line}: ${err.message}`, {
    details: { ...err.details, line },
    cause: err,
  });
}

/** The target's log from the start, one page at a time: what an earlier run of the import left. */
class TargetCursor {
  done = false;
  /** Position of the last event returned (0 before the first). */
  position = 0;
  private page: RecordedEvent[] = [];
  private at = 0;

  constructor(
    private readonly store: EventStore,
    private readonly pageSize: number,
  ) {}

  async next(): Promise<RecordedEvent | undefined> {
    if (this.done) return undefined;
    if (this.at === this.page.length) {
      this.page = await this.store.readAll({ from: this.position + 1, limit: this.pageSize });
      this.at = 0;
      if (this.page.length === 0) {
        this.done = true;
        return undefined;
      }
    }
    const e = this.page[this.at++];
    this.position = e.position;
    return e;
  }
}
