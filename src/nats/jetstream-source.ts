// The JetStream source: a durable JetStream consumer turned into the EventSource a projector reads, so projections run
// in a service that has no access to the event store, fed by the relay's stream.
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import {
  AppendSignal,
  ChronicleError,
  createPollingSubscription,
  type EventSource,
  matchesFilter,
  normalizeReadAll,
  type ReadAllOptions,
  type RecordedEvent,
  type SubscribeOptions,
  type Subscription,
  type SubscriptionHandler,
} from 'chronicle-es';
import { jetStreamCode, natsError, STREAM_NOT_FOUND, streamMissing } from './nats-error.js';
import { DurableFeed, type FeedError, type FeedState } from './source-durable.js';
import { isTransient } from './source-retry.js';
import { type StreamAccess, StreamReader } from './source-stream-reader.js';
import { JETSTREAM_NAME } from './stream-setup.js';

export type JetStreamSourceOptions = {
  /** A connection of the caller's (any transport); the source never closes it. Close it after `close()`. */
  nats: NatsConnection;
  /** The stream the relay publishes to. */
  stream: string;
  /**
   * The durable consumer's name. One per projector: the projections of one projector acknowledge together, so a
   * failed one holds back the others once `maxAckPending` is reached — group projections that should fail together.
   * Two processes must never share one durable (each would see the other's deliveries as lost and reset it).
   */
  durable: string;
  /**
   * Only events on these subjects (`<prefix>.<category>.<type>`, wildcards allowed), e.g. `['shop.events.order.>']`.
   * Default: every message of the stream. Several subjects need nats-server 2.10. A projection's checkpoint moves only
   * with the events delivered: `headPosition()` is the last *matching* event's position, and `waitForPosition(p)` for
   * a `p` outside the filter is reached with the next matching event after it. What a filter cannot do: tell events
   * the stream's limits removed before delivery from messages of other subjects (both are sequences it never sees),
   * so such a removal while running is only noted in `status().lastError` (NOT_FOUND) and delivery goes on; keep the
   * stream's retention well beyond how far a filtered read side may fall behind. Opening, or reading below, a stream
   * that lost messages past a checkpoint still fails with NOT_FOUND, whatever their subjects.
   */
  filterSubjects?: readonly string[];
  /** Most messages per pull request. Default 500. */
  batchSize?: number;
  /**
   * How long the server waits for an acknowledgement before delivering a message again (its ack_wait). Default
   * 30000. A redelivery of a message still held is dropped, so a short one costs only traffic.
   */
  ackWaitMs?: number;
  /**
   * The most messages delivered and not yet acknowledged, i.e. held in memory (the consumer's max_ack_pending).
   * Default 10000. The projector settles what every projection *serving queries* committed: a failed one holds the
   * acknowledgements back, so the others run until this many are held past its checkpoint, then wait for it. A
   * rebuild beside a live generation does not (it reads behind the live point, from the stream itself), nor does the
   * rebuild after a raised version, which has no live loop beside it.
   */
  maxAckPending?: number;
};

/** A snapshot of the source, for operators. */
export type JetStreamSourceStatus = {
  stream: string;
  durable: string;
  /** `retrying`: the last attempt to reach the server or the consumer failed (see `lastError`); it tries again. */
  state: FeedState;
  /** Position of the newest message the durable delivered. */
  deliveredPosition: number;
  /** Position through which the durable is acknowledged (everything up to it is committed by every projection). */
  ackedPosition: number;
  /** The position the projector last settled (every projection committed through it). */
  settledPosition: number;
  /** Messages delivered and held, not yet acknowledged. */
  pending: number;
  /** How many times the durable was re-created (see `lastReset`). */
  resets: number;
  /** Redelivered messages met (acknowledged again when covered, dropped when still held). */
  redeliveries: number;
  lastReset?: { reason: string; at: string };
  lastError?: FeedError;
};

/**
 * An EventSource fed by a durable JetStream consumer; hand it to `createProjector({ eventStore: source, … })`.
 * Close it after stopping the projector.
 */
export interface JetStreamSource extends EventSource {
  /**
   * Events from `from` on, in position order: from the durable's window above what it acknowledged, from the stream
   * itself below. Returns what it has (maybe nothing) while the server or the stream is away.
   * @throws NOT_FOUND the stream no longer holds events from there (retention limits, a purge or a delete removed
   * them); INVALID_ARGUMENT a message that is not the next event of this log (its subject and sequence named), or a
   * stream whose retention deletes on acknowledgement (interest, workqueue); STORE_ERROR a NATS failure that is not a
   * passing one; CLOSED after `close()`
   */
  readAll(options?: ReadAllOptions): Promise<RecordedEvent[]>;
  /**
   * Told by the projector that every projection committed through `position` (each batch with its checkpoint in one
   * read-store transaction): the consumer is acknowledged up to there, never further.
   * @throws INVALID_ARGUMENT not a non-negative integer
   */
  settled(position: number): void;
  /** The durable's progress, resets and last error. */
  status(): JetStreamSourceStatus;
  /** Stops pulling; resolves once stopped, with the acknowledgements sent. Reads after it raise CLOSED. */
  close(): Promise<void>;
}

const HEAD_TTL_MS = 250;
// Most events one read of the stream itself returns before the loop goes on (a readAll without a limit).
const DIRECT_PAGE = 1000;

/**
 * A projector's EventSource over a durable JetStream consumer. The contract:
 * - **Acknowledged only after commit**: a message is acknowledged (AckPolicy.All, one ack per settled batch) only once
 *   the projector has called `settled(p)` with `p` ≥ its position, i.e. after the read-model transaction that applied
 *   it, with its checkpoint, committed. A crash loses nothing: the unacknowledged messages are delivered again.
 * - **Never skips, never reorders**: `readAll` returns events in position order. A lost delivery (a jump in the
 *   consumer's delivery sequence) re-creates the durable from the message after the last acknowledged one, same
 *   config, dropping what was held past it; a message whose position does not rise with its stream sequence (another
 *   publisher) stops the source there with INVALID_ARGUMENT naming its subject and sequence, until it is removed from
 *   the stream (then a retry goes on). Events the stream's limits (max_msgs, max_age, max_bytes) or a purge removed
 *   before they were delivered or read (the server moves a consumer on to the first message left, its delivery
 *   sequence showing nothing) fail the projections there with NOT_FOUND, on every retry; messages deleted one by one
 *   in the middle are taken as gone. With `filterSubjects` see there what cannot be told.
 * - **Deleted under it**: a durable deleted while it runs is re-created from the last acknowledged message; a stream
 *   deleted is waited for (as at start) and, once created again, read on from the last acknowledged *position* (a new
 *   stream numbers from 1, so no sequence from before is trusted: the durable starts at the first message past that
 *   position, found by binary search). What it cannot check: whether the new stream lacks events just past that
 *   position (positions need not be consecutive, e.g. under the relay's filter), so a stream created again must be
 *   filled from before the read side's position (the relay's checkpoint no further than it).
 * - **Retention**: a stream whose retention deletes on acknowledgement (interest, workqueue) is refused with
 *   INVALID_ARGUMENT (in `readAll` and `status().lastError`): its own acks would delete what rebuilds, new projections
 *   and reads behind the live point must read, and a work queue refuses the ordered consumers those reads use.
 * - **Redeliveries**: a redelivered message the checkpoints already cover is acknowledged and skipped; one still held
 *   is dropped. A durable found with deliveries pending acknowledgement (a process died holding them) is re-created
 *   from its ack floor at once rather than after `ackWaitMs`.
 * - **Reads behind the live point** (a new projection, a rebuild, a projection behind the others) are served from the
 *   stream itself by an ordered consumer, found by binary search over stream sequences; reads that continue one
 *   another reuse it. They need the messages still in the stream: limits retention (see Retention).
 * - **Flow control**: at most `maxAckPending` messages are held. A failed projection keeps `settled` at its checkpoint,
 *   so the durable stalls once that many are held past it; its failing event stays unacknowledged and is served
 *   again on `retry`, and `skip` lets it go.
 * - **The server restarting**: pulls and lookups are retried with backoff; the durable's state is the server's (file
 *   storage), a delivery lost meanwhile is handled by the reset rule, and a durable or stream the restart lost
 *   (memory storage) by the rules for one deleted under it. Reads behind the live point return nothing
 *   while the server is unreachable (the projector reads again) instead of failing the projection.
 * - **A stream that does not exist yet** is waited for, so a read side may start before its relay: reads return
 *   nothing, `status()` says `retrying` with a NOT_FOUND `lastError`, and delivery starts once the stream appears.
 * @throws INVALID_ARGUMENT bad options
 */
export function createJetStreamSource(options: JetStreamSourceOptions): JetStreamSource {
  const { nats, stream, durable } = options;
  const filterSubjects = [...(options.filterSubjects ?? [])];
  const batchSize = options.batchSize ?? 500;
  const ackWaitMs = options.ackWaitMs ?? 30_000;
  const maxAckPending = options.maxAckPending ?? 10_000;
  if (!nats || typeof nats.subscribe !== 'function') {
    throw new ChronicleError('INVALID_ARGUMENT', 'createJetStreamSource needs `nats`, a NATS connection');
  }
  for (const [key, value] of [
    ['stream', stream],
    ['durable', durable],
  ] as const) {
    if (typeof value !== 'string' || !JETSTREAM_NAME.test(value)) {
      throw new ChronicleError(
        'INVALID_ARGUMENT',
        `${key} must be a JetStream name (1-255 characters, no whitespace, '.', '*', '>', '/' or '\\'); got ${JSON.stringify(value)}`,
      );
    }
  }
  if (!filterSubjects.every((s) => typeof s === 'string' && s.length > 0 && !/\s/.test(s))) {
    throw new ChronicleError('INVALID_ARGUMENT', 'filterSubjects must be subjects without whitespace');
  }
  if (!Number.isSafeInteger(batchSize) || batchSize < 1) {
    throw new ChronicleError('INVALID_ARGUMENT', 'batchSize must be a positive integer');
  }
  if (!(Number.isFinite(ackWaitMs) && ackWaitMs >= 100)) {
    throw new ChronicleError('INVALID_ARGUMENT', 'ackWaitMs must be at least 100');
  }
  if (!Number.isSafeInteger(maxAckPending) || maxAckPending < 1) {
    throw new ChronicleError('INVALID_ARGUMENT', 'maxAckPending must be a positive integer');
  }

  const signal = new AppendSignal();
  let closed = false;
  let parts: Promise<{ feed: DurableFeed; reader: StreamReader }> | undefined;
  let feed: DurableFeed | undefined;
  // Settled before the feed existed (the projector may settle stored checkpoints before its first read).
  let early = 0;
  let head: { value: number; at: number } | undefined;
  let headLookup: Promise<void> | undefined;

  const assertOpen = () => {
    if (closed) throw new ChronicleError('CLOSED', `JetStream source ${stream}/${durable} closed`);
  };

  function start(): Promise<{ feed: DurableFeed; reader: StreamReader }> {
    parts ??= (async () => {
      const access: StreamAccess = {
        nats,
        js: jetstream(nats),
        jsm: await jetstreamManager(nats, { checkAPI: false }),
        stream,
        filterSubjects,
      };
      const reader = new StreamReader(access);
      feed = new DurableFeed(access, reader, { durable, ackWaitMs, maxAckPending, batchSize }, signal);
      if (early > 0) feed.settle(early);
      return { feed, reader };
    })();
    return parts;
  }

  async function opened() {
    assertOpen();
    const got = await start();
    await got.feed.ready();
    return got;
  }

  // Events held in the window from `from` on; at its end, the foreign message it stopped at (if any) is checked.
  async function fromWindow(f: DurableFeed, reader: StreamReader, from: number, limit: number) {
    const events = f.window.read(from, limit);
    const blocked = f.window.blocked;
    if (events.length > 0 || !blocked || from <= f.window.deliveredPosition) return events;
    // Events removed before they were delivered stay missing: the projections fail there, every time they read it.
    if (blocked.removed) throw blocked.error;
    let still: unknown;
    try {
      still = await reader.messageAt(blocked.streamSeq);
    } catch (err) {
      if (isTransient(err)) return [];
      throw natsError(err, `look up message ${blocked.streamSeq} of stream ${stream}`);
    }
    if (still) throw blocked.error;
    // Another reader may have found it gone first and had the durable reset already.
    if (f.window.blocked === blocked) {
      f.requestReset(`foreign message ${blocked.streamSeq} on ${blocked.subject} was removed from the stream`);
    }
    return [];
  }

  async function readAll(readOptions?: ReadAllOptions): Promise<RecordedEvent[]> {
    const { from, limit, filter } = normalizeReadAll(readOptions);
    const { feed: f, reader } = await opened();
    // Not reachable yet (the server is restarting): nothing to read now; the projector reads again.
    if (!f.isOpen) return [];
    const out: RecordedEvent[] = [];
    let next = Math.max(from, 1);
    while (out.length < limit) {
      let page: RecordedEvent[];
      try {
        page =
          next > f.window.coverStart
            ? await fromWindow(f, reader, next, limit - out.length)
            : await reader.read(next, Math.min(limit - out.length, DIRECT_PAGE), f.window.coverStart);
      } catch (err) {
        // What was read up to there is good; the next read meets the failure again, if it lasts.
        if (out.length > 0) break;
        if (!isTransient(err)) throw err;
        f.noteError(natsError(err, `read stream ${stream} from position ${next}`));
        break;
      }
      if (page.length === 0) break;
      for (const event of page) {
        if (!matchesFilter(event, filter)) continue;
        out.push(event);
        if (out.length >= limit) break;
      }
      next = page[page.length - 1].position + 1;
    }
    return out;
  }

  return {
    readAll,

    subscribe(subscribeOptions: SubscribeOptions, handler: SubscriptionHandler): Subscription {
      assertOpen();
      return createPollingSubscription(readAll, signal, subscribeOptions, handler);
    },

    async headPosition() {
      const { feed: f, reader } = await opened();
      const delivered = f.isOpen ? f.window.deliveredPosition : 0;
      if (head && Date.now() - head.at < HEAD_TTL_MS) return Math.max(head.value, delivered);
      headLookup ??= reader
        .lastPosition()
        .then(
          (value) => {
            head = { value, at: Date.now() };
          },
          // The projector asks for the head inside its batches: the last known one is better than failing a batch.
          // A stream not there yet reads as the durable says it (NOT_FOUND), not as a failing server.
          (err: unknown) =>
            f.noteError(
              jetStreamCode(err) === STREAM_NOT_FOUND
                ? streamMissing(stream, err)
                : natsError(err, `find the last message of stream ${stream}`),
            ),
        )
        .finally(() => {
          headLookup = undefined;
        });
      await headLookup;
      return Math.max(head?.value ?? 0, delivered);
    },

    settled(position: number) {
      if (!Number.isSafeInteger(position) || position < 0) {
        throw new ChronicleError('INVALID_ARGUMENT', `settled position must be a non-negative integer, got ${position}`);
      }
      if (closed) return;
      if (feed) feed.settle(position);
      else early = Math.max(early, position);
    },

    status(): JetStreamSourceStatus {
      const w = feed?.window;
      return {
        stream,
        durable,
        state: closed ? 'closed' : (feed?.state ?? 'idle'),
        deliveredPosition: w?.deliveredPosition ?? 0,
        ackedPosition: w?.ackedPosition ?? 0,
        settledPosition: w?.settledPosition ?? early,
        pending: w?.held ?? 0,
        resets: feed?.resets ?? 0,
        redeliveries: w?.redeliveries ?? 0,
        ...(feed?.lastReset && { lastReset: feed.lastReset }),
        ...(feed?.lastError && { lastError: feed.lastError }),
      };
    },

    async close() {
      if (closed) return;
      closed = true;
      const got = parts && (await parts.catch(() => undefined));
      if (got) {
        await got.feed.close();
        await got.reader.close();
      }
      signal.notify();
      // Acknowledgements are published without waiting for the server: let them leave before the caller closes the
      // connection, but do not hang on a server that is away.
      if (!nats.isClosed()) {
        let timer: ReturnType<typeof setTimeout> | undefined;
        await Promise.race([
          nats.flush().catch(() => {}),
          new Promise<void>((resolve) => {
            timer = setTimeout(resolve, 1000);
          }),
        ]);
        clearTimeout(timer);
      }
    },
  };
}
