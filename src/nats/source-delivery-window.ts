// What the JetStream source holds of its durable consumer's deliveries: the messages delivered and not yet
// acknowledged, in stream order, with the bookkeeping that decides, for each new delivery, whether it continues the
// log (held), is already covered by the projections' checkpoints (acknowledged and skipped), repeats one still held
// (dropped), or shows that a delivery was lost (the caller resets the consumer). Pure: no NATS calls, only acks.
import { ChronicleError, type RecordedEvent } from 'chronicle-es';
import { decodeEvent } from './event-message.js';

/** One delivery of the durable consumer, as the window needs it. */
export type Delivery = {
  /** The consumer's delivery sequence: +1 for every delivery, redeliveries included. */
  deliverySeq: number;
  streamSeq: number;
  subject: string;
  /** The position its headers carry; undefined when it has none. */
  position: number | undefined;
  body: Uint8Array;
  /** Acknowledges it and (AckPolicy.All) every earlier message of the consumer. */
  ack(): void;
};

/**
 * What became of a delivery: `held` (new, kept for the projector), `covered` (its position is settled: acknowledged
 * and skipped), `duplicate` (a redelivery of a message still held: dropped), `gap` (its delivery sequence is not the
 * next: a delivery was lost, the consumer must be reset), `foreign` (not an event of this log: the window is blocked
 * on it until reset).
 */
export type Accepted = 'held' | 'covered' | 'duplicate' | 'gap' | 'foreign';

/** Where the consumer's deliveries start: everything at or before stream sequence `seq` is acknowledged. */
export type WindowBase = {
  seq: number;
  /** The position through which the stream is acknowledged (that of the message at `seq`, 0 for none). */
  position: number;
  /** The consumer's last delivery sequence so far (0 for a consumer just created). */
  deliverySeq: number;
};

type Held = { seq: number; position: number; event: RecordedEvent; ack: () => void };

/**
 * A message the window stopped at, and why: a foreign one (goes on once it is removed from the stream), or, with
 * `removed`, the first one after events the stream removed before they were delivered (for good: what is gone is gone).
 */
export type Blocked = { streamSeq: number; subject: string; error: ChronicleError; removed?: true };

export class DeliveryWindow {
  private entries: Held[] = [];
  private lastDelivery = 0;
  private lastSeq = 0;
  private lastPos = 0;
  private ackedSeq = 0;
  private ackedPos = 0;
  private settledPos = 0;
  // The acknowledgement of the message at ackedSeq, kept to send again when the server lost it.
  private lastAck: (() => void) | undefined;
  /** Redelivered messages seen (covered or duplicate). */
  redeliveries = 0;
  /** Set when a foreign message stopped the window; cleared by `rebase`. */
  blocked: Blocked | undefined;

  /** `capacity`: the most messages held unacknowledged (the consumer's max_ack_pending). */
  constructor(readonly capacity: number) {}

  /** Starts over after (re)creating the consumer: drops everything held (none of it is acknowledged). */
  rebase(base: WindowBase): void {
    this.entries = [];
    this.blocked = undefined;
    this.lastDelivery = base.deliverySeq;
    this.lastSeq = base.seq;
    this.lastPos = base.position;
    this.ackedSeq = base.seq;
    this.ackedPos = base.position;
    this.lastAck = undefined;
  }

  /**
   * Whether taking `d` as the next event would pass over stream sequences never delivered that may have held events
   * no projection has settled: positions lie strictly between the last one delivered and its own. The caller finds out
   * whether they were deleted one by one (taken as they are) or removed by the stream's limits (`blockRemoved`).
   */
  passesOver(d: Delivery): boolean {
    if (this.blocked || d.deliverySeq !== this.lastDelivery + 1 || d.streamSeq <= this.lastSeq + 1) return false;
    return d.position !== undefined && d.position - 1 > Math.max(this.lastPos, this.settledPos);
  }

  /** Stops at `d`: the stream removed events before it that were never delivered. Held events stay readable. */
  blockRemoved(d: Delivery, error: ChronicleError): void {
    this.blocked = { streamSeq: d.streamSeq, subject: d.subject, error, removed: true };
  }

  /** Takes one delivery, in the order the consumer delivered them. */
  accept(d: Delivery): Accepted {
    if (this.blocked) return 'foreign';
    if (d.deliverySeq !== this.lastDelivery + 1) return 'gap';
    this.lastDelivery = d.deliverySeq;
    if (d.streamSeq <= this.lastSeq) {
      this.redeliveries++;
      // Acknowledged before (the ack was lost or not yet applied) or covered since: acknowledge it again.
      if (d.streamSeq <= this.ackedSeq || (d.position !== undefined && d.position <= this.settledPos)) {
        d.ack();
        return 'covered';
      }
      // Still held: its first delivery is what the projector reads, and acknowledging that one covers this one too.
      return 'duplicate';
    }
    let p: number;
    try {
      p = risingPosition(d, d.position, this.lastPos, " (another publisher on the stream's subjects?)");
    } catch (err) {
      return this.block(d, err);
    }
    if (p <= this.settledPos) {
      // Every projection here committed it already (it was read from the stream directly, or before a restart).
      d.ack();
      this.lastAck = d.ack;
      this.lastSeq = this.ackedSeq = d.streamSeq;
      this.lastPos = this.ackedPos = p;
      return 'covered';
    }
    let event: RecordedEvent;
    try {
      event = eventAt(d, d.body, p);
    } catch (err) {
      return this.block(d, err);
    }
    this.entries.push({ seq: d.streamSeq, position: p, event, ack: d.ack });
    this.lastSeq = d.streamSeq;
    this.lastPos = p;
    return 'held';
  }

  /**
   * Every projection committed through `position`: acknowledges the last held message at or before it (which, with
   * AckPolicy.All, acknowledges all before it) and drops them. Returns whether that freed room.
   */
  settle(position: number): boolean {
    if (position > this.settledPos) this.settledPos = position;
    const k = this.indexAfter(this.settledPos) - 1;
    if (k < 0) return false;
    const last = this.entries[k];
    last.ack();
    this.lastAck = last.ack;
    this.ackedSeq = last.seq;
    this.ackedPos = last.position;
    this.entries = this.entries.slice(k + 1);
    return true;
  }

  /**
   * Sends the last acknowledgement again (with AckPolicy.All it covers everything before it), for when the server's
   * ack floor shows it lost it (sent while the connection was going down). Returns whether there was one.
   */
  reack(): boolean {
    this.lastAck?.();
    return this.lastAck !== undefined;
  }

  /**
   * Positions above this are served from the window (held, or still to be delivered); at or below it only the stream
   * itself has them.
   */
  get coverStart(): number {
    return Math.max(this.ackedPos, this.settledPos);
  }

  /** Held events from `from` on, at most `limit`. */
  read(from: number, limit: number): RecordedEvent[] {
    const start = this.indexAfter(from - 1);
    const end = Math.min(this.entries.length, start + limit);
    const out = new Array<RecordedEvent>(end - start);
    for (let i = start; i < end; i++) out[i - start] = this.entries[i].event;
    return out;
  }

  /** How many more messages may be held. */
  get room(): number {
    return Math.max(0, this.capacity - this.entries.length);
  }

  get held(): number {
    return this.entries.length;
  }

  /** The consumer's delivery sequence of the last delivery taken. */
  get deliverySeq(): number {
    return this.lastDelivery;
  }

  /** Position of the newest message delivered (or of the base). */
  get deliveredPosition(): number {
    return this.lastPos;
  }

  /** Stream sequence of the newest message delivered (or of the base). */
  get deliveredSeq(): number {
    return this.lastSeq;
  }

  /** Position through which the consumer is acknowledged, as far as this window sent acks. */
  get ackedPosition(): number {
    return this.ackedPos;
  }

  /** Stream sequence through which the consumer is acknowledged. */
  get ackedStreamSeq(): number {
    return this.ackedSeq;
  }

  get settledPosition(): number {
    return this.settledPos;
  }

  private block(d: Delivery, err: unknown): 'foreign' {
    this.blocked = { streamSeq: d.streamSeq, subject: d.subject, error: err as ChronicleError };
    return 'foreign';
  }

  // Index of the first held message with a position above `position`.
  private indexAfter(position: number): number {
    let lo = 0;
    let hi = this.entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.entries[mid].position <= position) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

/** Where a message is on the stream, as the errors about it name it. */
export type MessageAt = { streamSeq: number; subject: string };

/** The error for a message on the stream that is not the next event of this log, naming where it is. */
function foreignMessage(where: MessageAt, why: string, position?: number): ChronicleError {
  return new ChronicleError(
    'INVALID_ARGUMENT',
    `JetStream message ${where.streamSeq} on ${where.subject} is not the next event of this log: ${why}`,
    { details: { subject: where.subject, streamSequence: where.streamSeq, ...(position !== undefined && { position }) } },
  );
}

/**
 * The position a message's Chronicle-Position header carries (`position`, undefined for none); `suffix` is added to
 * the reason. @throws INVALID_ARGUMENT it has none
 */
export function storedPosition(where: MessageAt, position: number | undefined, suffix = ''): number {
  if (position === undefined) throw foreignMessage(where, `it has no Chronicle-Position header${suffix}`);
  return position;
}

/**
 * The header position of the message after one at `previous`, which it must rise above; `suffix` is added to the
 * reason. @throws INVALID_ARGUMENT no header, or a position that does not rise
 */
export function risingPosition(where: MessageAt, position: number | undefined, previous: number, suffix = ''): number {
  const p = storedPosition(where, position, suffix);
  if (p <= previous) {
    throw foreignMessage(where, `its position ${p} does not rise above ${previous}, the position before it${suffix}`, p);
  }
  return p;
}

/**
 * The event in a message's body, which must be at `position`, its header's.
 * @throws INVALID_ARGUMENT a body that is not an event (decodeEvent), or one at another position
 */
export function eventAt(where: MessageAt, body: Uint8Array, position: number): RecordedEvent {
  const event = decodeEvent(body, { subject: where.subject, seq: where.streamSeq });
  if (event.position !== position) {
    throw foreignMessage(where, `its body says position ${event.position}, its header ${position}`, position);
  }
  return event;
}
