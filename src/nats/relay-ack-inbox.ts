// Publishes to JetStream with the acks coming back on one inbox subscription of the relay's own, the way JetStream's
// "async publish" works in other clients: the client's request() costs a timer, a mux token and error objects per
// message, which held the relay well below its throughput target. One timer here checks the oldest ack's age.
import { JetStreamApiError } from '@nats-io/jetstream';
import {
  createInbox,
  type Msg,
  type MsgHdrs,
  type NatsConnection,
  NoRespondersError,
  type Subscription,
  TimeoutError,
} from '@nats-io/nats-core';
import type { RelayAck } from './relay-broker.js';

type Waiting = { resolve: (ack: RelayAck) => void; reject: (err: unknown) => void; sentAt: number; subject: string };

const decoder = new TextDecoder();

/** Sends messages with a reply subject on a private inbox and settles each one's promise with its JetStream ack. */
export class AckInbox {
  private subscription: Subscription | undefined;
  private prefix = '';
  private nextToken = 0;
  // Insertion-ordered: the first entry is the oldest ack awaited.
  private readonly waiting = new Map<number, Waiting>();
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(
    private readonly nats: NatsConnection,
    private readonly timeoutMs: number,
  ) {}

  /** Publishes `body` to `subject` with `headers`; resolves with the ack, rejects with JetStream's error or a timeout. */
  publish(subject: string, body: Uint8Array, headers: MsgHdrs): Promise<RelayAck> {
    return new Promise<RelayAck>((resolve, reject) => {
      try {
        const token = this.nextToken++;
        this.open();
        this.nats.publish(subject, body, { headers, reply: `${this.prefix}${token}` });
        this.waiting.set(token, { resolve, reject, sentAt: Date.now(), subject });
        this.timer ??= this.watch();
      } catch (err) {
        reject(err);
      }
    });
  }

  /** Ends the subscription; acks still awaited are rejected (a publish may still land: a resync reads where it did). */
  close(): void {
    const subscription = this.subscription;
    this.subscription = undefined;
    if (subscription && !this.nats.isClosed()) subscription.unsubscribe();
    this.failAll(new Error('the relay stopped before the ack arrived'));
  }

  private open(): void {
    if (this.subscription) return;
    // The connection's own inbox prefix, when it was given one (permissions may allow replies only there).
    const inbox = createInbox((this.nats as { options?: { inboxPrefix?: string } }).options?.inboxPrefix);
    this.prefix = `${inbox}.`;
    this.subscription = this.nats.subscribe(`${inbox}.*`, {
      callback: (err, msg) => (err ? this.failAll(err) : this.answer(msg)),
    });
  }

  private answer(msg: Msg): void {
    const token = Number(msg.subject.slice(this.prefix.length));
    const waiting = this.waiting.get(token);
    // An answer after its timeout: the publish was already reported failed, and a resync reads what it did.
    if (!waiting) return;
    this.waiting.delete(token);
    if (msg.data.length === 0 && msg.headers?.code === 503) {
      waiting.reject(new NoRespondersError(waiting.subject));
      return;
    }
    let reply: { error?: ConstructorParameters<typeof JetStreamApiError>[0]; seq?: number; duplicate?: boolean };
    try {
      reply = JSON.parse(decoder.decode(msg.data));
    } catch (err) {
      waiting.reject(err);
      return;
    }
    if (reply.error) waiting.reject(new JetStreamApiError(reply.error));
    else if (typeof reply.seq !== 'number')
      waiting.reject(new Error(`JetStream answered without a sequence: ${decoder.decode(msg.data)}`));
    else waiting.resolve({ seq: reply.seq, duplicate: reply.duplicate === true });
  }

  // Acks are checked oldest first: a later one cannot time out before an earlier one.
  private watch(): ReturnType<typeof setInterval> {
    const timer = setInterval(
      () => {
        const now = Date.now();
        for (const [token, waiting] of this.waiting) {
          if (now - waiting.sentAt < this.timeoutMs) break;
          this.waiting.delete(token);
          waiting.reject(new TimeoutError());
        }
        if (this.waiting.size === 0) {
          clearInterval(timer);
          this.timer = undefined;
        }
      },
      Math.max(10, Math.min(250, Math.floor(this.timeoutMs / 4))),
    );
    timer.unref?.();
    return timer;
  }

  private failAll(err: unknown): void {
    const waiting = [...this.waiting.values()];
    this.waiting.clear();
    for (const w of waiting) w.reject(err);
  }
}
