// What a relay reports about itself: where the broker stands, how far behind the log it is, and what went wrong last.

/**
 * `starting`: finding where the broker stands; `catching_up`: publishing what was committed before it started (or
 * resynced); `live`: it reached the log's head and follows it; `reconnecting`: a publish or a read failed, it backs off
 * and resyncs; `failed`: it stopped on an error retrying cannot mend (see `lastError`); `stopped`: not running.
 */
export type RelayState = 'stopped' | 'starting' | 'live' | 'catching_up' | 'reconnecting' | 'failed';

export type RelayStatus = {
  name: string;
  /** The JetStream stream it publishes into. */
  stream: string;
  subjectPrefix: string;
  state: RelayState;
  /**
   * The relay's checkpoint: every event passing its filter up to here is in the stream, acknowledged by the broker
   * (with a filter it moves past the events the filter drops).
   */
  position: number;
  /** The event store's head when the status was taken. */
  head: number;
  /** Global positions between `position` and `head`. */
  lagEvents: number;
  /** Age of the oldest event passing the filter not yet published; 0 when caught up. */
  lagSeconds: number;
  /** Messages the broker stored for this relay since it started (repeats it answered as duplicates not counted). */
  published: number;
  /** The stream's last sequence, as the broker last acknowledged it to this relay. */
  streamSequence: number;
  /**
   * The last failure, kept until the relay is started again; or, with code STORE_ERROR, that the stream was found
   * ending behind the checkpoint with events missing (the broker lost messages it had acknowledged), which the relay
   * mends by publishing them again.
   */
  lastError?: {
    message: string;
    /** Its ChronicleError code (STORE_ERROR for NATS failures, INVALID_ARGUMENT for what stopped the relay…). */
    code?: string;
    /** ISO-8601 time. */
    at: string;
  };
};
