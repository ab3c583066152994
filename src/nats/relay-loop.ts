// The relay's loop: find where the broker stands, follow the log from there, publish in order with every publish
// expecting its predecessor at the stream's end, and on any failure back off and find where the broker stands again.
import {
  AppendSignal,
  ChronicleError,
  type EventFilter,
  type EventSource,
  isChronicleError,
  type RecordedEvent,
  type RelayCheckpoint,
  type Subscription,
} from 'chronicle-es';
import type { RelayAck, RelayBroker, StreamTail } from './relay-broker.js';
import type { RelayState, RelayStatus } from './relay-status.js';

export type RelayLoopOptions = {
  name: string;
  stream: string;
  subjectPrefix: string;
  eventStore: EventSource;
  broker: RelayBroker;
  checkpoint: RelayCheckpoint;
  filter?: EventFilter;
  /** Events read from the log at a time. */
  batchSize: number;
  /** Publishes awaiting their ack at once. */
  maxInFlight: number;
  /** Passed to the event store's subscribe: how often to look for events other processes appended. */
  pollIntervalMs?: number;
  /** Backoff after a failure: the first delay, doubled up to the last. */
  retryDelayMs: { initial: number; max: number };
};

type Phase = 'stopped' | 'starting' | 'running' | 'reconnecting' | 'failed';

// JetStream's refusals of an expectation: the stream does not end where this relay believed (another relay on it, a
// publish lost in a reconnect, a server that forgot its last message id). Resyncing at once mends them.
const REFUSALS = new Set([10070, 10071]);
const ignore = () => {};

/** Runs one relay; see createJetStreamRelay for the contract. */
export class RelayLoop {
  private phase: Phase = 'stopped';
  /** Every event passing the filter up to here is in the stream. */
  private position = 0;
  /** The position stored in the checkpoint, as far as this loop knows. */
  private saved = 0;
  private streamSequence = 0;
  /** The id of the last event sent into the stream: what the next publish expects at its end. */
  private lastId: string | undefined;
  /** Set after a resync: the next publish expects the stream's last sequence instead of a message id. */
  private expectSequence: number | undefined;
  /** The head when the loop last looked; reaching it makes the relay live until it resyncs. */
  private knownHead = 0;
  private caughtUp = false;
  private lastHead = 0;
  private published = 0;
  private attempt = 0;
  private lastError: RelayStatus['lastError'];
  private stopping = false;
  /** A stop() in progress: a start() waits for it. */
  private halting: Promise<void> | undefined;
  /** Whether the last call was start() (true) or stop(): a start() waiting for a stop does nothing when stop() came after. */
  private wanted = false;
  private running: Promise<void> | undefined;
  private started: Promise<void> | undefined;
  private subscription: Subscription | undefined;
  // Wakes the loop from its backoff sleep when it is stopped.
  private readonly wake = new AppendSignal();
  // Acks in flight, by send order modulo the window: awaited oldest first.
  private readonly window: Array<Promise<RelayAck> | undefined>;

  constructor(private readonly options: RelayLoopOptions) {
    this.window = new Array(options.maxInFlight);
  }

  get name(): string {
    return this.options.name;
  }

  start(): Promise<void> {
    this.wanted = true;
    // The stop in progress closes the broker and marks the loop stopped when it ends: starting now would be undone.
    if (this.halting) return this.halting.then(() => (this.wanted ? this.start() : undefined));
    if (this.running) return this.started!;
    this.stopping = false;
    this.phase = 'starting';
    this.published = 0;
    this.lastError = undefined;
    this.attempt = 0;
    let settle!: { resolve: () => void; reject: (err: unknown) => void };
    this.started = new Promise<void>((resolve, reject) => {
      settle = { resolve, reject };
    });
    this.running = this.run(settle).finally(() => {
      this.running = undefined;
    });
    return this.started;
  }

  stop(): Promise<void> {
    this.wanted = false;
    this.halting ??= this.halt().finally(() => {
      this.halting = undefined;
    });
    return this.halting;
  }

  private async halt(): Promise<void> {
    this.stopping = true;
    this.wake.notify();
    const subscription = this.subscription?.stop();
    await this.running;
    await subscription;
    this.options.broker.close();
    this.phase = 'stopped';
  }

  async status(): Promise<RelayStatus> {
    const { eventStore, filter, name, stream, subjectPrefix } = this.options;
    // A status is worth having while the store is unreachable too: it then shows the head last seen.
    try {
      this.lastHead = await eventStore.headPosition();
    } catch {}
    const head = Math.max(this.lastHead, this.position);
    const position = this.position;
    const lagEvents = head - position;
    let lagSeconds = 0;
    if (lagEvents > 0) {
      try {
        const [next] = await eventStore.readAll({ from: position + 1, limit: 1, ...(filter && { filter }) });
        const at = next ? Date.parse(next.metadata.timestamp) : Number.NaN;
        if (Number.isFinite(at)) lagSeconds = Math.max(0, (Date.now() - at) / 1000);
      } catch {}
    }
    return {
      name,
      stream,
      subjectPrefix,
      state: this.state(),
      position,
      head,
      lagEvents,
      lagSeconds,
      published: this.published,
      streamSequence: this.streamSequence,
      ...(this.lastError && { lastError: { ...this.lastError } }),
    };
  }

  private state(): RelayState {
    if (this.phase !== 'running') return this.phase;
    return this.caughtUp ? 'live' : 'catching_up';
  }

  private async run(first: { resolve: () => void; reject: (err: unknown) => void }): Promise<void> {
    const { eventStore, filter, batchSize, pollIntervalMs } = this.options;
    while (!this.stopping) {
      try {
        await this.resync();
        if (this.stopping) break;
        this.phase = 'running';
        first.resolve();
        const subscription = eventStore.subscribe(
          {
            from: this.position + 1,
            batchSize,
            ...(filter && { filter }),
            ...(pollIntervalMs !== undefined && { pollIntervalMs }),
          },
          (events, checkpoint) => this.deliver(events, checkpoint),
        );
        this.subscription = subscription;
        await subscription.done;
        if (!this.stopping) {
          throw new ChronicleError('STORE_ERROR', `relay ${this.name}: the event store's subscription ended by itself`);
        }
      } catch (err) {
        if (this.stopping) break;
        const error = this.note(err);
        if (error.code === 'INVALID_ARGUMENT' || error.code === 'CLOSED') {
          this.phase = 'failed';
          first.reject(error);
          return;
        }
        this.phase = 'reconnecting';
        first.resolve();
        const refused = REFUSALS.has(error.details?.jetStreamCode as number);
        await this.sleep(refused && this.attempt === 0 ? 0 : this.delay());
        this.attempt++;
      } finally {
        this.subscription = undefined;
      }
    }
    // Stopped before the first resync finished: start() resolves, the relay is simply stopped.
    first.resolve();
  }

  // Where the broker stands decides where to carry on: after the last event in the stream; or after the checkpoint
  // when that is further and only filtered-out events lie between (the checkpoint moves past what the filter drops),
  // or when the stream no longer holds its last message (retention removed it: nothing says what it held).
  private async resync(): Promise<void> {
    const { broker, checkpoint, eventStore } = this.options;
    const tail = await broker.sync();
    const saved = await checkpoint.load();
    if (!Number.isSafeInteger(saved) || saved < 0) {
      throw new ChronicleError('INVALID_ARGUMENT', `relay ${this.name}: the checkpoint loaded ${saved}, not a position`);
    }
    let from = saved;
    if (tail.stored) {
      const end = await this.verifyTail(tail);
      if (end >= saved || (await this.lostAfter(tail, end, saved))) from = end;
    }
    this.position = from;
    this.saved = saved;
    this.streamSequence = tail.sequence;
    this.lastId = tail.id;
    this.expectSequence = tail.sequence;
    this.knownHead = await eventStore.headPosition();
    this.lastHead = Math.max(this.lastHead, this.knownHead);
    this.caughtUp = this.position >= this.knownHead;
    // The broker got further than the checkpoint (a crash between an ack and its save): record it now.
    await this.save();
  }

  // The stream's last message must be an event of this log, at its position: anything else means another publisher
  // (or another event store) and carrying on would mix them.
  private async verifyTail(tail: StreamTail): Promise<number> {
    const { stream, eventStore } = this.options;
    const where = `JetStream stream ${stream} ends with message ${tail.sequence} on ${tail.subject}`;
    if (tail.position === undefined) {
      throw new ChronicleError(
        'INVALID_ARGUMENT',
        `${where}, which has no Chronicle-Position header: something other than a Chronicle relay publishes into ` +
          'it. A relay needs a stream of its own; give it another one',
        { details: { stream, sequence: tail.sequence, subject: tail.subject } },
      );
    }
    const [event] = await eventStore.readAll({ from: tail.position, limit: 1 });
    // A position the log has passed but no longer holds was removed from it (a truncated, tombstoned or archived
    // stream): the stream still ends with that event, and the relay goes on after it.
    if (event?.position !== tail.position && (await eventStore.headPosition()) >= tail.position) return tail.position;
    if (!event || event.position !== tail.position) {
      // On PostgreSQL a freshly opened store may not see its head yet: retried, and reported meanwhile.
      throw new ChronicleError(
        'STORE_ERROR',
        `${where}, event ${tail.id} at position ${tail.position}, past what the event store holds: waiting for it ` +
          '(a stream fed from another event store, or a store restored from an older backup, stays here)',
        { details: { stream, sequence: tail.sequence, position: tail.position } },
      );
    }
    if (event.id !== tail.id) {
      throw new ChronicleError(
        'INVALID_ARGUMENT',
        `${where}, event ${tail.id} at position ${tail.position}, but the event store holds event ${event.id} there: ` +
          'the stream was fed from another event store. Give this relay a stream of its own',
        { details: { stream, sequence: tail.sequence, position: tail.position, streamEventId: tail.id, storeEventId: event.id } },
      );
    }
    return tail.position;
  }

  // The stream ends at `end`, behind the checkpoint: when an event passing the filter lies in (end, saved], the broker
  // acknowledged it and then lost it (a file store a host crash caught before its fsync, a restore from a backup).
  // Going on after the checkpoint would leave that gap for good with both sides looking healthy: the relay goes on
  // from the stream's end instead, and says so in lastError.
  private async lostAfter(tail: StreamTail, end: number, saved: number): Promise<boolean> {
    const { eventStore, filter, stream } = this.options;
    const [first] = await eventStore.readAll({ from: end + 1, limit: 1, ...(filter && { filter }) });
    if (!first || first.position > saved) return false;
    this.lastError = {
      message:
        `relay ${this.name}: JetStream stream ${stream} ends at position ${end} (sequence ${tail.sequence}) but the ` +
        `checkpoint is at ${saved}, and event ${first.id} at position ${first.position} is not in it: the broker lost ` +
        'messages it had acknowledged (an unsynced file store at a host crash, or a restore from a backup). ' +
        `Publishing again from position ${end + 1}`,
      code: 'STORE_ERROR',
      at: new Date().toISOString(),
    };
    return true;
  }

  private async deliver(events: readonly RecordedEvent[], checkpoint: number): Promise<void> {
    if (this.stopping) return;
    const complete = events.length === 0 || (await this.publishAll(events));
    if (complete) this.position = Math.max(this.position, checkpoint);
    await this.save();
    this.attempt = 0;
    if (!this.caughtUp && this.position >= this.knownHead) {
      this.knownHead = await this.options.eventStore.headPosition();
      this.caughtUp = this.position >= this.knownHead;
    }
  }

  // Publishes `events` in order, up to maxInFlight awaiting their ack; each expects its predecessor at the stream's
  // end, so a lost one makes every later one refused too. False when stop() cut the batch short.
  private async publishAll(events: readonly RecordedEvent[]): Promise<boolean> {
    const { broker } = this.options;
    const window = this.window;
    const size = window.length;
    const n = events.length;
    let sent = 0;
    let acked = 0;
    let failure: unknown;
    let failed: RecordedEvent | undefined;
    while (acked < n) {
      while (sent < n && sent - acked < size && failure === undefined && !this.stopping) {
        const event = events[sent];
        let pending: Promise<RelayAck>;
        try {
          pending = broker.publish(event, this.lastId, this.expectSequence);
        } catch (err) {
          failure = err;
          failed = event;
          break;
        }
        // Awaited in order below; this keeps an ack rejected before its turn from counting as unhandled.
        pending.catch(ignore);
        window[sent % size] = pending;
        this.lastId = event.id;
        this.expectSequence = undefined;
        sent++;
      }
      if (acked === sent) break;
      const slot = acked % size;
      try {
        const ack = await window[slot]!;
        if (failure === undefined) {
          this.position = events[acked].position;
          this.streamSequence = ack.seq;
          if (!ack.duplicate) this.published++;
        }
      } catch (err) {
        if (failure === undefined) {
          failure = err;
          failed = events[acked];
        }
      }
      window[slot] = undefined;
      acked++;
    }
    // Every publish sent has settled by now, so a resync reads a stream nothing of ours is still on its way into.
    if (failure !== undefined) throw broker.failure(failure, failed!);
    return sent === n;
  }

  private async save(): Promise<void> {
    const position = this.position;
    if (position <= this.saved) return;
    await this.options.checkpoint.save(position);
    this.saved = position;
  }

  private note(err: unknown): ChronicleError {
    let error: ChronicleError;
    if (this.options.broker.closed()) {
      error = new ChronicleError('CLOSED', `relay ${this.name}: the NATS connection is closed; the relay stops`, { cause: err });
    } else if (isChronicleError(err)) {
      error = err;
    } else {
      error = new ChronicleError('STORE_ERROR', `relay ${this.name}: ${err instanceof Error ? err.message : String(err)}`, {
        cause: err,
      });
    }
    this.lastError = { message: error.message, code: error.code, at: new Date().toISOString() };
    return error;
  }

  private delay(): number {
    const { initial, max } = this.options.retryDelayMs;
    return Math.min(max, initial * 2 ** Math.min(this.attempt, 20));
  }

  // A notify with nobody waiting is lost, so stopping is checked here, in the same tick the wait starts in.
  private sleep(ms: number): Promise<void> {
    if (this.stopping) return Promise.resolve();
    return this.wake.wait(ms);
  }
}
