// Reads the JetStream stream itself, below what the durable consumer delivers: for a new projection, a rebuild from 0,
// or a projection behind the others. A position is found by binary search over stream sequences (positions rise with
// them), then an ordered consumer walks on from there; a read that continues where the last one ended reuses it.
import type { Consumer, JetStreamClient, JetStreamManager, JsMsg, StoredMsg, StreamState } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { ChronicleError, type RecordedEvent } from 'chronicle-es';
import { positionOf } from './event-message.js';
import { natsError } from './nats-error.js';
import { eventAt, risingPosition, storedPosition } from './source-delivery-window.js';

/** The stream a reader walks, and the subjects it keeps to. */
export type StreamAccess = {
  nats: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  stream: string;
  filterSubjects: readonly string[];
};

type Entry = { seq: number; position: number; event: RecordedEvent };

// An ordered consumer positioned after `lastPos`, with what it fetched beyond the last page.
type Cursor = {
  consumer: Consumer;
  /** Position of the last event a read returned (the next read continuing from just after it reuses the cursor). */
  lastPos: number;
  /** Position of the last message fetched into the queue. */
  fetchedPos: number;
  /** Stream sequence of the last message fetched (one before the start for none yet). */
  fetchedSeq: number;
  queue: Entry[];
  /** Messages the server still had for it after the last one fetched. */
  pending: number;
  idle?: ReturnType<typeof setTimeout>;
};

// Parked cursors kept for reuse: a few projections (or a rebuild beside them) reading the stream at once.
const MAX_CURSORS = 4;
// A cursor nobody continued for this long is closed; the server drops its ordered consumer soon after anyway.
const IDLE_MS = 10_000;
// Messages per fetch of a cursor; each fetch asks for no more than the server said it has, so it never waits.
const FETCH = 1000;

export class StreamReader {
  private parked: Cursor[] = [];
  private closed = false;

  constructor(private readonly access: StreamAccess) {}

  /**
   * The events from position `from` on, at most `limit`, stopping after the first one past `until` (from there on the
   * durable's window has them). Fewer (maybe none) at the end of the stream.
   * @throws INVALID_ARGUMENT a message that is not the next event of this log; STORE_ERROR
   */
  async read(from: number, limit: number, until: number): Promise<RecordedEvent[]> {
    const cursor = this.take(from) ?? (await this.open(from));
    const out: RecordedEvent[] = [];
    try {
      while (out.length < limit) {
        if (cursor.queue.length === 0) {
          if (cursor.pending === 0) cursor.pending = (await cursor.consumer.info()).num_pending;
          if (cursor.pending === 0) break;
          await this.fill(cursor, Math.min(cursor.pending, FETCH));
          continue;
        }
        const entry = cursor.queue.shift()!;
        if (entry.position < from) continue;
        out.push(entry.event);
        cursor.lastPos = entry.position;
        if (entry.position > until) break;
      }
    } catch (err) {
      void this.discard(cursor);
      throw natsError(err, `read stream ${this.access.stream} from position ${from}`);
    }
    this.park(cursor);
    return out;
  }

  /**
   * The first stream sequence whose message has a position ≥ `position` (one past the last sequence when none has):
   * a binary search over the sequences, which the positions rise with. `state`: the stream's, when just fetched.
   * @throws INVALID_ARGUMENT, STORE_ERROR
   */
  async seqAtPosition(position: number, state?: StreamState): Promise<number> {
    state ??= await this.streamState();
    let lo = state.first_seq;
    let hi = state.last_seq + 1;
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      // Deleted sequences have no message: the next one that exists stands for them.
      const m = await this.nextFrom(mid);
      if (!m || m.seq >= hi || this.positionOfStored(m) >= position) hi = mid;
      else lo = m.seq + 1;
    }
    return lo;
  }

  /**
   * The position through which a consumer acknowledged through stream sequence `seq` has seen the log: the position of
   * the message at `seq`, or (when it was deleted) just before the next one; 0 for sequence 0.
   */
  async positionThrough(seq: number): Promise<number> {
    if (seq <= 0) return 0;
    const { jsm, stream } = this.access;
    const at = await jsm.streams.getMessage(stream, { seq });
    if (at) return this.positionOfStored(at);
    const next = await this.nextFrom(seq);
    if (next) return this.positionOfStored(next) - 1;
    const last = await jsm.streams.getMessage(stream, { last_by_subj: '>' });
    return last ? this.positionOfStored(last) : 0;
  }

  /** Position of the stream's last message within the filter (0 when none). @throws INVALID_ARGUMENT, STORE_ERROR */
  async lastPosition(): Promise<number> {
    const { jsm, stream, filterSubjects } = this.access;
    const subjects = filterSubjects.length === 0 ? ['>'] : filterSubjects;
    const lasts = await Promise.all(subjects.map((s) => jsm.streams.getMessage(stream, { last_by_subj: s })));
    let head = 0;
    for (const m of lasts) if (m) head = Math.max(head, this.positionOfStored(m));
    return head;
  }

  /** The first stream sequence still held (messages before it were removed by retention limits, a purge or a delete). */
  private async firstSeq(): Promise<number> {
    return (await this.streamState()).first_seq;
  }

  /** The stream's state (first and last sequence, message count) from its info. */
  async streamState(): Promise<StreamState> {
    return (await this.access.jsm.streams.info(this.access.stream)).state;
  }

  /**
   * A read from `from` must not start past messages the stream no longer has: removed messages all lie below the
   * first one held, so a read from below its position would skip whatever they held from `from` on.
   * @throws NOT_FOUND
   */
  private async assertRetained(from: number, state: StreamState): Promise<void> {
    const { stream } = this.access;
    if (state.first_seq <= 1 || state.messages === 0) return;
    const first = await this.nextFrom(state.first_seq);
    if (!first) return;
    const firstPosition = this.positionOfStored(first);
    if (from >= firstPosition) return;
    throw eventsRemoved(stream, from, { seq: first.seq, position: firstPosition });
  }

  /**
   * Whether the stream removed from its start (retention limits, a purge) messages after stream sequence `seq`:
   * its first sequence is past the next one. Messages deleted one by one in the middle do not count.
   */
  async removedAfter(seq: number): Promise<boolean> {
    return (await this.firstSeq()) > seq + 1;
  }

  /** Closes the parked cursors (the stream was deleted, or created again: they walk one that is gone). */
  async forgetCursors(): Promise<void> {
    const cursors = this.parked;
    this.parked = [];
    await Promise.all(cursors.map((c) => this.discard(c)));
  }

  /** The message at stream sequence `seq`, or null when it no longer exists. */
  messageAt(seq: number): Promise<StoredMsg | null> {
    return this.access.jsm.streams.getMessage(this.access.stream, { seq });
  }

  /** Closes every cursor. */
  async close(): Promise<void> {
    this.closed = true;
    await this.forgetCursors();
  }

  private nextFrom(seq: number): Promise<StoredMsg | null> {
    // next_by_subj is answered by nats-server 2.9's STREAM.MSG.GET too, though the client types it for direct get.
    const query = { seq, next_by_subj: '>' } as unknown as { seq: number };
    return this.access.jsm.streams.getMessage(this.access.stream, query);
  }

  private positionOfStored(m: StoredMsg): number {
    return storedPosition({ streamSeq: m.seq, subject: m.subject }, positionOf(m.header));
  }

  private take(from: number): Cursor | undefined {
    const i = this.parked.findIndex((c) => c.lastPos + 1 === from);
    if (i === -1) return undefined;
    const [cursor] = this.parked.splice(i, 1);
    clearTimeout(cursor.idle);
    return cursor;
  }

  private async open(from: number): Promise<Cursor> {
    const { js, stream, filterSubjects } = this.access;
    const state = await this.streamState();
    await this.assertRetained(from, state);
    const seq = await this.seqAtPosition(from, state);
    const consumer = await js.consumers.get(stream, {
      opt_start_seq: seq,
      ...(filterSubjects.length > 0 && {
        filter_subjects: filterSubjects.length === 1 ? filterSubjects[0] : [...filterSubjects],
      }),
    });
    const info = await consumer.info(true);
    return { consumer, lastPos: from - 1, fetchedPos: from - 1, fetchedSeq: seq - 1, queue: [], pending: info.num_pending };
  }

  // Takes a whole fetch into the cursor's queue: leaving a fetch early would lose what the ordered consumer counted
  // as delivered. Retention may overtake the cursor while it reads (the server then moves it on to the stream's first
  // message): a jump in sequence over positions not read is checked against the stream's first sequence.
  private async fill(cursor: Cursor, n: number): Promise<void> {
    const messages = await cursor.consumer.fetch({ max_messages: n, expires: 2000 });
    let failure: unknown;
    let jump: { afterSeq: number; afterPos: number; seq: number; position: number } | undefined;
    for await (const m of messages) {
      cursor.pending = m.info.pending;
      if (failure) continue;
      try {
        const entry = this.decode(m, cursor.fetchedPos);
        if (!jump && entry.seq > cursor.fetchedSeq + 1 && entry.position > cursor.fetchedPos + 1) {
          jump = { afterSeq: cursor.fetchedSeq, afterPos: cursor.fetchedPos, seq: entry.seq, position: entry.position };
        }
        cursor.queue.push(entry);
        cursor.fetchedPos = entry.position;
        cursor.fetchedSeq = entry.seq;
      } catch (err) {
        failure = err;
      }
    }
    if (failure) throw failure;
    // The first jump is checked: the stream's first sequence only grows, so it covers any later one in the fetch. With
    // filter subjects a jump is the norm (other subjects lie between) and what was removed cannot be told apart from
    // what never matched; the check at open (assertRetained) is all there is then.
    if (jump && this.access.filterSubjects.length === 0 && (await this.removedAfter(jump.afterSeq))) {
      throw eventsRemoved(this.access.stream, jump.afterPos + 1, { seq: jump.seq, position: jump.position });
    }
  }

  private decode(m: JsMsg, previous: number): Entry {
    const where = { streamSeq: m.seq, subject: m.subject };
    // The cursor starts at the first sequence with a position ≥ the one asked for, so even its first message rises.
    const position = risingPosition(where, positionOf(m.headers), previous);
    return { seq: m.seq, position, event: eventAt(where, m.data, position) };
  }

  private park(cursor: Cursor): void {
    if (this.closed) {
      void this.discard(cursor);
      return;
    }
    cursor.idle = setTimeout(() => {
      this.parked = this.parked.filter((c) => c !== cursor);
      void this.discard(cursor);
    }, IDLE_MS);
    cursor.idle.unref?.();
    this.parked.push(cursor);
    while (this.parked.length > MAX_CURSORS) void this.discard(this.parked.shift()!);
  }

  private async discard(cursor: Cursor): Promise<void> {
    clearTimeout(cursor.idle);
    // An ordered consumer is ephemeral and in memory; the server removes it after its inactivity threshold anyway.
    await cursor.consumer.delete().catch(() => {});
  }
}

/** The error for events the stream removed before they were read: NOT_FOUND naming the next message it still holds. */
export function eventsRemoved(stream: string, from: number, next: { seq: number; position: number }): ChronicleError {
  return new ChronicleError(
    'NOT_FOUND',
    `stream ${stream} no longer holds the events from position ${from}: its first message after them (sequence ${next.seq}) is at position ${next.position}, earlier ones were removed (retention limits, a purge or a delete); a read side needs every event, so keep the stream's retention longer than a read side may fall behind or a rebuild reaches back`,
    { details: { stream, from, firstPosition: next.position, firstSequence: next.seq } },
  );
}
