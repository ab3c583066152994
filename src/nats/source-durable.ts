// The JetStream source's durable consumer: opens (or creates) it, keeps its delivery window filled up to
// max_ack_pending by pulling, acknowledges what the projector settled, and resets it (delete and re-create from the
// last acknowledged message, same config) whenever the deliveries can no longer be trusted to continue the log: a lost
// delivery, deliveries left pending by a process that died, a config that differs, a foreign message removed. Errors
// of the server or the connection are retried with backoff; the consumer's state is the server's.
import {
  AckPolicy,
  type Consumer,
  type ConsumerConfig,
  type ConsumerInfo,
  type ConsumerMessages,
  DeliverPolicy,
  type JsMsg,
  ReplayPolicy,
  RetentionPolicy,
  type StreamState,
} from '@nats-io/jetstream';
import { nanos } from '@nats-io/nats-core';
import { AppendSignal, ChronicleError, isChronicleError } from 'chronicle-es';
import { positionOf } from './event-message.js';
import { CONSUMER_NOT_FOUND, jetStreamCode, natsError, STREAM_NOT_FOUND, streamMissing } from './nats-error.js';
import { type Delivery, DeliveryWindow } from './source-delivery-window.js';
import { backoffMs, isTransient } from './source-retry.js';
import { eventsRemoved, type StreamAccess, type StreamReader } from './source-stream-reader.js';

/** How the durable is configured. */
export type DurableSettings = {
  durable: string;
  ackWaitMs: number;
  maxAckPending: number;
  /** Most messages per pull request. */
  batchSize: number;
};

/** The last failure met, kept for status. */
export type FeedError = { message: string; code?: string; at: string };

export type FeedState = 'idle' | 'starting' | 'running' | 'retrying' | 'closed';

// A pull request stays open this long when fewer messages than asked for are there; new ones flow into it meanwhile.
// Short, because a pull that ends short is when the consumer's state is checked against the window's.
const FETCH_EXPIRES_MS = 2000;
// While the window is full (or blocked), look again this often even if nothing wakes the loop.
const IDLE_RECHECK_MS = 1000;
const ACK = new TextEncoder().encode('+ACK');

export class DurableFeed {
  readonly window: DeliveryWindow;
  /** How many times the consumer was re-created. */
  resets = 0;
  lastError: FeedError | undefined;
  lastReset: { reason: string; at: string } | undefined;
  state: FeedState = 'idle';
  private consumer: Consumer | undefined;
  private fetching: ConsumerMessages | undefined;
  private resetWanted: string | undefined;
  private fastForward: number | undefined;
  private checkedAhead = 0;
  // Set while a re-create is under way: if it dies between the delete and the add, the next open creates the
  // consumer from here rather than from the stream's start.
  private resumeFrom: { seq: number; position: number } | undefined;
  private failure: ChronicleError | undefined;
  private opened = false;
  private running: Promise<void> | undefined;
  private firstAttempt: Promise<void> | undefined;
  private firstAttemptDone: () => void = () => {};
  // Wakes the loop from `idle` early: room freed, a reset asked for, closing.
  private readonly wakeIdle = new AppendSignal();
  private closing = false;
  private stopWatching: () => void = () => {};
  // When the stream was created, as its info says: a stream deleted and created again numbers from 1 again, so
  // sequences remembered from before mean nothing in it (positions still do).
  private streamCreated: string | undefined;

  constructor(
    private readonly access: StreamAccess,
    private readonly reader: StreamReader,
    private readonly settings: DurableSettings,
    private readonly signal: AppendSignal,
  ) {
    this.window = new DeliveryWindow(settings.maxAckPending);
  }

  /** Whether the durable is open (its window can be trusted). */
  get isOpen(): boolean {
    return this.opened;
  }

  /**
   * Starts pulling (once) and resolves when the first attempt to open the durable is over.
   * A stream that does not exist yet is waited for (status `retrying`, lastError NOT_FOUND), not a failure.
   * @throws CLOSED; the failure that keeps it from opening when it is not a passing one (
   * INVALID_ARGUMENT a push consumer of that name or filters the server cannot take, STORE_ERROR)
   */
  async ready(): Promise<void> {
    if (this.closing) throw new ChronicleError('CLOSED', 'JetStream source closed');
    if (!this.running) {
      this.firstAttempt = new Promise((resolve) => {
        this.firstAttemptDone = resolve;
      });
      this.running = this.pump();
    }
    await this.firstAttempt;
    if (!this.opened && this.failure) throw this.failure;
  }

  /** Every projection committed through `position`: acknowledge what that covers, and skip ahead if far behind. */
  settle(position: number): void {
    if (this.closing) return;
    if (this.window.settle(position)) this.wakeIdle.notify();
    const behind = position - this.window.deliveredPosition;
    const capacity = this.window.capacity;
    if (this.opened && this.window.held === 0 && behind > capacity && position - this.checkedAhead > capacity) {
      this.fastForward = position;
      this.wakeIdle.notify();
    }
  }

  /** Re-creates the consumer from its last acknowledged message before pulling again. */
  requestReset(reason: string): void {
    this.resetWanted ??= reason;
    this.fetching?.stop();
    this.wakeIdle.notify();
  }

  /** Stops pulling and resolves once the loop is over. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.state = 'closed';
    this.stopWatching();
    this.fetching?.stop();
    this.wakeIdle.notify();
    this.firstAttemptDone();
    await this.running;
  }

  // On every reconnect, send the last acknowledgement again: acks written as the connection went down are lost, and
  // the server would count those messages as pending until their ack_wait. Sending it twice is harmless.
  private async watchReconnects(): Promise<void> {
    const statuses = this.access.nats.status()[Symbol.asyncIterator]();
    this.stopWatching = () => void statuses.return?.();
    for (;;) {
      const next = await statuses.next();
      if (next.done || this.closing) return;
      if (next.value.type === 'reconnect') this.window.reack();
    }
  }

  private async pump(): Promise<void> {
    void this.watchReconnects().catch(() => {});
    let attempt = 0;
    while (!this.closing) {
      try {
        if (!this.opened) await this.open();
        else if (this.resetWanted !== undefined) await this.reset(this.resetWanted);
        else if (this.fastForward !== undefined) await this.skipAhead(this.fastForward);
        if (this.closing) break;
        this.state = 'running';
        if (this.window.blocked || this.window.room === 0 || this.resetWanted !== undefined) {
          if (this.resetWanted === undefined) await this.idle(IDLE_RECHECK_MS);
        } else {
          await this.fetchOnce();
        }
        attempt = 0;
      } catch (err) {
        if (this.closing) break;
        const error = natsError(err, `durable ${this.settings.durable} on stream ${this.access.stream}`);
        // A stream not there yet is waited for: a read side may well start before the relay has created it.
        const awaitingStream = !this.opened && jetStreamCode(err) === STREAM_NOT_FOUND;
        this.noteError(awaitingStream ? openFailure(err, error, this.access.stream) : error);
        if (this.opened) await this.checkConsumer(err);
        if (!this.opened) {
          this.failure = isTransient(err) || awaitingStream ? undefined : openFailure(err, error, this.access.stream);
        }
        this.state = 'retrying';
        this.firstAttemptDone();
        await this.idle(backoffMs(attempt++));
      }
    }
  }

  // A pull or lookup of an open durable failed. The v3 client reports a pull on a consumer deleted under it as missed
  // heartbeats, like a server away, so ask the server which it is: the consumer gone is reset, the stream gone is
  // waited for (as at start), anything else is retried as it is.
  private async checkConsumer(err: unknown): Promise<void> {
    let code = jetStreamCode(err);
    if (code !== CONSUMER_NOT_FOUND && code !== STREAM_NOT_FOUND) {
      try {
        await this.access.jsm.consumers.info(this.access.stream, this.settings.durable);
        return;
      } catch (lookup) {
        code = jetStreamCode(lookup);
      }
    }
    if (code === CONSUMER_NOT_FOUND) this.resetWanted ??= 'the durable consumer was deleted';
    else if (code === STREAM_NOT_FOUND) await this.lose(`stream ${this.access.stream} was deleted`);
  }

  // The stream is gone, and the durable with it: drop what is held (no ack may reach a consumer of the same name made
  // later), and open again once the stream is back, from the acknowledged position.
  private async lose(reason: string): Promise<void> {
    this.fetching?.stop();
    this.opened = false;
    this.consumer = undefined;
    this.resetWanted = undefined;
    this.resets++;
    this.lastReset = { reason, at: new Date().toISOString() };
    this.window.rebase({ seq: this.window.ackedStreamSeq, position: this.window.ackedPosition, deliverySeq: 0 });
    await this.reader.forgetCursors();
  }

  // Reads the stream's info, refusing a retention that deletes on acknowledgement, and notices a stream created
  // again since it was last seen. Returns its state, and (`renewed`) the stream sequence to go on from after
  // `position` when it was created again.
  // @throws the JetStream error coded STREAM_NOT_FOUND when the stream is missing; INVALID_ARGUMENT its retention
  private async checkStream(position: number): Promise<{ renewed: number | undefined; state: StreamState }> {
    const { jsm, stream } = this.access;
    const { config, created, state } = await jsm.streams.info(stream);
    if (config.retention !== RetentionPolicy.Limits) {
      // Its own acks would delete what rebuilds, new projections and reads behind the live point need, and a work
      // queue refuses the ordered consumers those reads use.
      throw new ChronicleError(
        'INVALID_ARGUMENT',
        `stream ${stream} has ${config.retention} retention, which deletes messages once acknowledged; the JetStream source needs limits retention (rebuilds and new projections read the stream again)`,
        { details: { stream, retention: config.retention } },
      );
    }
    const before = this.streamCreated;
    this.streamCreated = created;
    if (before === undefined || before === created) return { renewed: undefined, state };
    await this.reader.forgetCursors();
    return { renewed: await this.reader.seqAtPosition(position + 1, state), state };
  }

  private async open(): Promise<void> {
    this.state = 'starting';
    const { js, jsm, stream } = this.access;
    const { renewed, state } = await this.checkStream(this.resumeFrom?.position ?? this.window.ackedPosition);
    if (renewed !== undefined) {
      this.resumeFrom = { seq: renewed, position: this.resumeFrom?.position ?? this.window.ackedPosition };
    }
    let info: ConsumerInfo;
    try {
      info = await jsm.consumers.info(stream, this.settings.durable);
    } catch (err) {
      if (jetStreamCode(err) !== CONSUMER_NOT_FOUND) throw err;
      // A read side starting for the first time reads the stream from its start.
      info = await jsm.consumers.add(stream, this.config(this.resumeFrom?.seq));
    }
    if (typeof info.config.deliver_subject === 'string') {
      throw new ChronicleError(
        'INVALID_ARGUMENT',
        `consumer ${this.settings.durable} on stream ${stream} is a push consumer; the JetStream source needs a pull consumer of its own`,
        { details: { stream, durable: this.settings.durable } },
      );
    }
    // Nothing before the stream's first message can be delivered any more: reads below it go to the stream itself,
    // which says what is missing rather than skipping it.
    const floor = Math.max(ackFloorOf(info), state.first_seq - 1);
    const resumed = this.resumeFrom?.seq === floor + 1 ? this.resumeFrom.position : undefined;
    const position = resumed ?? (await this.reader.positionThrough(floor));
    const differs = this.differences(info.config);
    if (differs.length > 0) {
      await this.recreate(floor + 1, position, `its config differs (${differs.join(', ')})`);
    } else if (info.num_ack_pending > 0) {
      // A process died holding them: have them again now rather than after ack_wait.
      await this.recreate(floor + 1, position, `${info.num_ack_pending} deliveries were pending acknowledgement`);
    } else {
      this.consumer = js.consumers.getConsumerFromInfo(info);
      this.window.rebase({ seq: floor, position, deliverySeq: info.delivered.consumer_seq });
    }
    this.opened = true;
    this.failure = undefined;
    this.resumeFrom = undefined;
    // The projector may have settled before the durable could be opened: see whether to skip ahead now.
    this.settle(this.window.settledPosition);
    this.firstAttemptDone();
  }

  private async reset(reason: string): Promise<void> {
    const position = this.window.ackedPosition;
    const { renewed } = await this.checkStream(position);
    const why = renewed === undefined ? reason : `${reason}; stream ${this.access.stream} was created again`;
    await this.recreate(renewed ?? this.window.ackedStreamSeq + 1, position, why);
  }

  // The projections are far past what the durable delivered (a new durable on an existing read store): start it
  // after their settled position instead of acknowledging everything in between one delivery at a time.
  private async skipAhead(position: number): Promise<void> {
    this.fastForward = undefined;
    this.checkedAhead = position;
    if (this.window.held > 0 || position <= this.window.deliveredPosition) return;
    const seq = await this.reader.seqAtPosition(position + 1);
    if (seq - (this.window.deliveredSeq + 1) <= this.window.capacity) return;
    await this.recreate(
      seq,
      position,
      `the projections settled through ${position}, far past its deliveries (${this.window.deliveredPosition})`,
    );
  }

  // Deletes the durable and creates it again with the same config, delivering from stream sequence `startSeq`: the
  // server forgets every delivery it made, so what comes next continues the log from there.
  private async recreate(startSeq: number, basePosition: number, reason: string): Promise<void> {
    const { js, jsm, stream } = this.access;
    this.fetching?.stop();
    this.resets++;
    this.lastReset = { reason, at: new Date().toISOString() };
    this.resumeFrom = { seq: startSeq, position: basePosition };
    // Drop what is held before the delete goes out, so no acknowledgement of the consumer being replaced follows it:
    // the new consumer has the same name and would take such an ack as its own, moving its ack floor past deliveries
    // it never made and then ignoring its real acks (found with a server restart: the durable stalled at
    // max_ack_pending).
    this.window.rebase({ seq: startSeq - 1, position: basePosition, deliverySeq: 0 });
    try {
      await jsm.consumers.delete(stream, this.settings.durable);
    } catch (err) {
      if (jetStreamCode(err) !== CONSUMER_NOT_FOUND) throw err;
    }
    const info = await jsm.consumers.add(stream, this.config(startSeq));
    this.consumer = js.consumers.getConsumerFromInfo(info);
    this.window.rebase({ seq: startSeq - 1, position: basePosition, deliverySeq: info.delivered.consumer_seq });
    this.resetWanted = undefined;
    this.resumeFrom = undefined;
  }

  private async fetchOnce(): Promise<void> {
    const consumer = this.consumer!;
    const asked = Math.min(this.window.room, this.settings.batchSize);
    const messages = await consumer.fetch({ max_messages: asked, expires: FETCH_EXPIRES_MS });
    this.fetching = messages;
    let received = 0;
    try {
      for await (const m of messages) {
        received++;
        if (this.closing) break;
        const d = this.delivery(m);
        if (this.window.passesOver(d) && (await this.removedBefore(d, received === 1))) break;
        const outcome = this.window.accept(d);
        if (outcome === 'held') this.signal.notify();
        else if (outcome === 'gap') {
          this.resetWanted ??= `delivery ${m.info.deliverySequence} (stream sequence ${m.info.streamSequence}) came out of turn: a delivery was lost`;
          break;
        } else if (outcome === 'foreign') {
          this.noteError(this.window.blocked!.error);
          break;
        }
        if (this.resetWanted !== undefined) break;
      }
    } finally {
      this.fetching = undefined;
      // Whatever is still on its way to this pull is dropped with it; the next pull then starts with a gap, which
      // resets. Only a reset or close leaves a pull early.
      messages.stop();
    }
    if (received < asked && !this.closing && this.resetWanted === undefined && !this.window.blocked) {
      await this.checkDeliveries(consumer);
    }
  }

  // `d` comes after stream sequences never delivered. Deleted one by one they are simply not there; removed from the
  // stream's start (its limits overtook the durable while it was behind, or a purge) they were events never applied:
  // the server moves a consumer on to the first message left and its delivery sequence shows nothing, so the window
  // stops there with the NOT_FOUND a read below the stream's start raises, and the projections fail on it. With filter
  // subjects, sequences of other subjects lie between as a rule and what was removed cannot be told from what never
  // matched: that is noted in status, not failed. Returns whether the window was stopped.
  private async removedBefore(d: Delivery, firstOfPull: boolean): Promise<boolean> {
    const filtered = this.access.filterSubjects.length > 0;
    // Filtered, nearly every delivery passes over other subjects' sequences: look at a pull's first delivery only, one
    // lookup a pull. The limits overtake a durable when it is not pulling (its window full: the read side behind), so
    // that is where it shows; within a pull (2 s at most) they would have to remove faster than the server delivers.
    if (filtered && !firstOfPull) return false;
    if (!(await this.reader.removedAfter(this.window.deliveredSeq))) return false;
    const error = eventsRemoved(this.access.stream, this.window.deliveredPosition + 1, {
      seq: d.streamSeq,
      position: d.position!,
    });
    if (filtered) {
      this.noteError(
        new ChronicleError(
          'NOT_FOUND',
          `${error.message} (with filterSubjects it cannot tell whether any of them matched; delivery goes on)`,
          { details: error.details },
        ),
      );
      return false;
    }
    this.window.blockRemoved(d, error);
    this.noteError(error);
    return true;
  }

  // A pull that ended short may mean the server and this window disagree, after a reconnect, about what was delivered
  // or acknowledged: deliveries that went where nobody listens (a pull request outliving a reconnect), or acks sent
  // as the connection went down. Either way the server counts messages as pending that are not held here, and once
  // they fill max_ack_pending it delivers nothing new until their ack_wait runs out. Its consumer info tells which.
  private async checkDeliveries(consumer: Consumer): Promise<void> {
    const info = await consumer.info();
    if (info.ack_floor.stream_seq < this.window.ackedStreamSeq && this.consumer === consumer) this.window.reack();
    const lost = info.delivered.consumer_seq - this.window.deliverySeq;
    if (lost > 0 && this.consumer === consumer && this.resetWanted === undefined) {
      this.resetWanted = `the server made ${lost} deliveries that never arrived`;
    }
  }

  private delivery(m: JsMsg): Delivery {
    const { deliverySequence, streamSequence } = m.info;
    const { nats } = this.access;
    // The subject acks go to: the client's JsMsg has it, though its type does not say so.
    const reply = (m as { reply?: unknown }).reply;
    return {
      deliverySeq: deliverySequence,
      streamSeq: streamSequence,
      subject: m.subject,
      position: positionOf(m.headers),
      body: m.data,
      // Published directly rather than with m.ack(), which sends once only: an ack lost as the connection went down
      // must be sent again.
      ack: typeof reply === 'string' && reply !== '' ? () => nats.publish(reply, ACK) : () => m.ack(),
    };
  }

  private config(startSeq?: number): Partial<ConsumerConfig> {
    const filters = this.access.filterSubjects;
    return {
      durable_name: this.settings.durable,
      ack_policy: AckPolicy.All,
      ...(startSeq === undefined
        ? { deliver_policy: DeliverPolicy.All }
        : { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: startSeq }),
      ack_wait: nanos(this.settings.ackWaitMs),
      max_ack_pending: this.settings.maxAckPending,
      max_deliver: -1,
      replay_policy: ReplayPolicy.Instant,
      ...(filters.length === 1 && { filter_subject: filters[0] }),
      ...(filters.length > 1 && { filter_subjects: [...filters] }),
    };
  }

  private differences(config: ConsumerConfig): string[] {
    const out: string[] = [];
    if (config.ack_policy !== AckPolicy.All) out.push(`ack_policy ${config.ack_policy}`);
    if (config.ack_wait !== nanos(this.settings.ackWaitMs)) out.push(`ack_wait ${config.ack_wait}ns`);
    if (config.max_ack_pending !== this.settings.maxAckPending) out.push(`max_ack_pending ${config.max_ack_pending}`);
    if (config.max_deliver !== undefined && config.max_deliver !== -1) out.push(`max_deliver ${config.max_deliver}`);
    const theirs = [...(config.filter_subjects ?? []), ...(config.filter_subject ? [config.filter_subject] : [])]
      .filter((s) => s !== '>')
      .sort();
    const ours = [...this.access.filterSubjects].sort();
    if (theirs.join(' ') !== ours.join(' ')) out.push(`filter ${theirs.join(' ') || 'none'}`);
    return out;
  }

  // A notify with nobody waiting is lost, so closing is checked here, in the same tick the wait starts in.
  private idle(ms: number): Promise<void> {
    if (this.closing) return Promise.resolve();
    return this.wakeIdle.wait(ms);
  }

  /** Records a failure for status. */
  noteError(err: ChronicleError): void {
    this.lastError = { message: err.message, code: err.code, at: new Date().toISOString() };
  }
}

// The stream sequence through which a consumer is acknowledged. With nothing pending, everything delivered is; a
// consumer created to start at a sequence reports an ack floor of 0 until its first ack, though nothing before its
// start will ever be delivered.
function ackFloorOf(info: ConsumerInfo): number {
  if (info.num_ack_pending === 0) return info.delivered.stream_seq;
  return Math.max(info.ack_floor.stream_seq, (info.config.opt_start_seq ?? 1) - 1);
}

function openFailure(err: unknown, wrapped: ChronicleError, stream: string): ChronicleError {
  if (isChronicleError(err)) return err;
  if (jetStreamCode(err) === STREAM_NOT_FOUND) return streamMissing(stream, err);
  // 10093: the filter subjects are not within the stream's subjects.
  if ((err as { name?: unknown } | null)?.name === 'InvalidArgumentError' || jetStreamCode(err) === 10093) {
    return new ChronicleError('INVALID_ARGUMENT', wrapped.message, { cause: err, details: wrapped.details });
  }
  return wrapped;
}
