// The JetStream relay: every committed event, in position order, into a JetStream stream, exactly once by
// construction, resuming where the broker stands after a restart of the relay or of the server.
import type { NatsConnection } from '@nats-io/nats-core';
import { ChronicleError, type EventFilter, type EventSource, normalizeReadAll, type RelayCheckpoint } from 'chronicle-es';
import { assertSubjectPrefix } from './event-message.js';
import { jetStreamBroker } from './relay-broker.js';
import { RelayLoop } from './relay-loop.js';
import type { RelayStatus } from './relay-status.js';
import { type JetStreamStreamOptions, streamOptions } from './stream-setup.js';

export type JetStreamRelayOptions = {
  /** Where committed events are read: an event store, or any EventSource (readAll, subscribe, headPosition). */
  eventStore: EventSource;
  /**
   * The connection, opened (and closed) by the caller with `reconnect: true, maxReconnectAttempts: -1` (the client's
   * default gives up after 10 attempts and closes: the relay then fails with CLOSED).
   */
  nats: NatsConnection;
  /** The stream's name, or its name and the settings it is created with when missing. */
  stream: string | JetStreamStreamOptions;
  /** Events go to `<subjectPrefix>.<category>.<type>`; dot-separated tokens of letters, digits, `_`, `-`. */
  subjectPrefix: string;
  /** Only these events (types / categories, as readAll's filter). Default all. */
  filter?: EventFilter;
  /** Where the relay keeps how far it got: storeCheckpoint (a read store, or the event store's database) or jetStreamKvCheckpoint. */
  checkpoint: RelayCheckpoint;
  /** Events read from the log at a time (1 to 10,000). Default 1000. */
  batchSize?: number;
  /** Publishes awaiting their ack at once (1 to 10,000). Default 1000. */
  maxInFlight?: number;
  /** In status and metrics. Default the stream's name. */
  name?: string;
  /** How long a JetStream request or a publish's ack may take, in ms. Default 5000. */
  timeoutMs?: number;
  /** How often the event store is polled for events other processes appended, in ms (its subscribe's default when absent). */
  pollIntervalMs?: number;
};

export interface JetStreamRelay {
  readonly name: string;
  /**
   * Starts relaying; resolves once it knows where the broker stands and publishes from there, or, when NATS or the
   * event store does not answer, once it has begun retrying (status: reconnecting). A no-op while running; while
   * stop() is in progress it waits for the stop, then starts again (unless stop() was called after it).
   * @throws INVALID_ARGUMENT the stream refuses this relay: its subjects do not cover the prefix, JetStream refuses
   *   its configuration (subjects overlapping another stream's, replicas on a single server…), its last message is
   *   not one a relay published, or it was fed from another event store (JetStream's transient refusals, such as
   *   insufficient resources or JetStream temporarily unavailable, are retried instead)
   * @throws CLOSED the NATS connection is closed
   */
  start(): Promise<void>;
  /**
   * Stops after the publishes in flight are acknowledged (or time out), saving the checkpoint; idempotent (calls while
   * one is in progress share it).
   */
  stop(): Promise<void>;
  /** Where the relay stands; never throws (an unreachable event store shows the head last seen). */
  status(): Promise<RelayStatus>;
}

const MAX_BATCH = 10_000;
const RETRY_DELAY_MS = { initial: 100, max: 2000 };

/**
 * A relay publishing every committed event passing `filter`, in position order, to `<subjectPrefix>.<category>.<type>`
 * in a JetStream stream (created with subjects `<subjectPrefix>.>` when missing), with Nats-Msg-Id = the event id and
 * the Chronicle-* headers of event-message.ts.
 *
 * Order and no gaps by construction: each publish expects the stream to end with the previous event this relay
 * published (`expect.lastMsgID`; after a resync, the stream's last sequence), so when one publish of a pipelined
 * batch is lost (a server restart, a disconnect) every later one is refused too, and the stream never holds a later
 * position without every earlier one. After any failure the relay backs off, reads the stream's last message and
 * carries on after it, or after its checkpoint when that is further and only events the filter drops lie between.
 * When an event passing the filter lies between, the broker lost messages it had acknowledged (an unsynced file store
 * at a host crash, a restore from a backup): the relay publishes them again from the stream's end and says so in
 * `lastError`. The stream therefore belongs to its relay:
 * nothing else may publish into it (a foreign last message fails the relay). Two relays on one stream stay correct,
 * each refusal or duplicate making one resync or skip, but they waste work. With a retention that removes messages
 * (workqueue, interest, maxAge) the stream may no longer hold its last message: the relay then resumes from its
 * checkpoint, and what it republishes within the duplicate window is dropped by JetStream as a duplicate.
 *
 * Errors never escape: NATS failures show as state `reconnecting` and `lastError` until it recovers.
 * @throws INVALID_ARGUMENT bad options, naming the option
 */
export function createJetStreamRelay(options: JetStreamRelayOptions): JetStreamRelay {
  const o = options ?? ({} as JetStreamRelayOptions);
  const bad = (option: string, why: string): never => {
    throw new ChronicleError('INVALID_ARGUMENT', `createJetStreamRelay: ${option} ${why}`, { details: { option } });
  };
  const { eventStore, nats, checkpoint } = o;
  if (!eventStore || !['readAll', 'subscribe', 'headPosition'].every((m) => typeof (eventStore as any)[m] === 'function')) {
    bad('eventStore', 'must be an EventSource (readAll, subscribe, headPosition)');
  }
  if (!nats || typeof nats.request !== 'function' || typeof nats.isClosed !== 'function') {
    bad('nats', 'must be a NatsConnection');
  }
  if (!checkpoint || typeof checkpoint.load !== 'function' || typeof checkpoint.save !== 'function') {
    bad('checkpoint', 'must have load() and save(position)');
  }
  assertSubjectPrefix(o.subjectPrefix);
  const stream = streamOptions(o.stream);
  try {
    normalizeReadAll({ filter: o.filter });
  } catch (err) {
    bad('filter', (err as Error).message);
  }
  const count = (option: 'batchSize' | 'maxInFlight', fallback: number) => {
    const value = o[option] ?? fallback;
    if (!Number.isSafeInteger(value) || value < 1 || value > MAX_BATCH) bad(option, `must be an integer from 1 to ${MAX_BATCH}`);
    return value;
  };
  const ms = (option: 'timeoutMs' | 'pollIntervalMs', fallback?: number) => {
    const value = o[option] ?? fallback;
    if (value !== undefined && !(Number.isSafeInteger(value) && value > 0)) bad(option, 'must be a positive integer (ms)');
    return value;
  };
  const name = o.name ?? stream.name;
  if (typeof name !== 'string' || name.length === 0 || name.length > 200) bad('name', 'must be 1 to 200 characters');
  const timeoutMs = ms('timeoutMs', 5000)!;
  const pollIntervalMs = ms('pollIntervalMs');
  return new RelayLoop({
    name,
    stream: stream.name,
    subjectPrefix: o.subjectPrefix,
    eventStore,
    broker: jetStreamBroker({ nats, stream, subjectPrefix: o.subjectPrefix, timeoutMs }),
    checkpoint,
    ...(o.filter && { filter: o.filter }),
    batchSize: count('batchSize', 1000),
    maxInFlight: count('maxInFlight', 1000),
    ...(pollIntervalMs !== undefined && { pollIntervalMs }),
    retryDelayMs: RETRY_DELAY_MS,
  });
}
