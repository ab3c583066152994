// What the relay's loop needs of JetStream, as a port: where the stream ends, and one publish with its expectation.
// The loop's rules (order, resync, backoff) are then tested against an in-memory twin, and run here against the server.
import { type JetStreamManager, jetstreamManager, PubHeaders } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { ChronicleError, isChronicleError, type RecordedEvent } from 'chronicle-es';
import { eventBody, eventHeaders, MSG_ID, positionOf, subjectOf } from './event-message.js';
import { jetStreamCode, natsError } from './nats-error.js';
import { AckInbox } from './relay-ack-inbox.js';
import { ensureStream, type JetStreamStreamOptions } from './stream-setup.js';

/** Where the stream ends. */
export type StreamTail = {
  /** The stream's last sequence; 0 when nothing was ever stored. */
  sequence: number;
  /** Whether the message at `sequence` is still stored (limits or retention may have removed it). */
  stored: boolean;
  /** Its Nats-Msg-Id, when stored and set. */
  id?: string;
  /** Its Chronicle-Position, when stored and set (absent on a message no relay published). */
  position?: number;
  subject?: string;
};

/** The broker's answer to one publish. */
export type RelayAck = { seq: number; duplicate: boolean };

/** The relay's view of its stream. */
export interface RelayBroker {
  /** Creates the stream if missing, checks it, and says where it ends. @throws INVALID_ARGUMENT, STORE_ERROR */
  sync(): Promise<StreamTail>;
  /**
   * Publishes one event, refused unless the stream ends at `lastSequence` (when given) or with message `lastId`.
   * Rejects with the client's error, as is: `failure` translates it (kept off the hot path).
   */
  publish(event: RecordedEvent, lastId: string | undefined, lastSequence: number | undefined): Promise<RelayAck>;
  /** The ChronicleError for a publish's rejection: INVALID_ARGUMENT when the event can never be published. */
  failure(err: unknown, event: RecordedEvent): ChronicleError;
  /** True once the connection is closed for good: nothing can recover then. */
  closed(): boolean;
  /** Releases what publishing holds (the ack subscription); acks still awaited are rejected. */
  close(): void;
}

export type JetStreamBrokerOptions = {
  nats: NatsConnection;
  stream: JetStreamStreamOptions;
  subjectPrefix: string;
  /** For every JetStream request, publishes' acks included. */
  timeoutMs: number;
};

// JetStream's "message too large for the stream" (max_msg_size): retrying cannot help.
const TOO_LARGE = 10054;

/** The RelayBroker on a JetStream stream. */
export function jetStreamBroker(options: JetStreamBrokerOptions): RelayBroker {
  const { nats, stream, subjectPrefix, timeoutMs } = options;
  const acks = new AckInbox(nats, timeoutMs);
  let manager: JetStreamManager | undefined;

  return {
    async sync() {
      try {
        manager ??= await jetstreamManager(nats, { timeout: timeoutMs, checkAPI: false });
      } catch (err) {
        throw natsError(err, 'jetstream manager');
      }
      const info = await ensureStream(manager, stream, subjectPrefix);
      const sequence = info.state.last_seq;
      if (sequence === 0) return { sequence, stored: false };
      let message: Awaited<ReturnType<JetStreamManager['streams']['getMessage']>>;
      try {
        message = await manager.streams.getMessage(stream.name, { seq: sequence });
      } catch (err) {
        throw natsError(err, `get message ${sequence} of stream ${stream.name}`);
      }
      // The client answers null for a sequence with no message (retention removed it).
      if (!message) return { sequence, stored: false };
      const headers = message.header;
      const id = headers.get(MSG_ID);
      const position = positionOf(headers);
      return {
        sequence,
        stored: true,
        subject: message.subject,
        ...(id !== '' && { id }),
        ...(position !== undefined && { position }),
      };
    },

    publish(event, lastId, lastSequence) {
      // Nats-Msg-Id = the event id is among the event's headers: what JetStream dedupes on.
      const headers = eventHeaders(event);
      if (lastSequence !== undefined) headers.set(PubHeaders.ExpectedLastSeqHdr, String(lastSequence));
      else if (lastId !== undefined) headers.set(PubHeaders.ExpectedLastMsgIdHdr, lastId);
      return acks.publish(subjectOf(subjectPrefix, event), eventBody(event), headers);
    },

    failure(err, event) {
      if (isChronicleError(err)) return err;
      const where = `event ${event.id} (position ${event.position}, type ${event.type})`;
      const name = (err as { name?: unknown } | null)?.name;
      if (name === 'InvalidArgumentError' || jetStreamCode(err) === TOO_LARGE) {
        const max = nats.info?.max_payload;
        return new ChronicleError(
          'INVALID_ARGUMENT',
          `${where} cannot be published to stream ${stream.name}: ${(err as Error).message}` +
            (max !== undefined ? ` (the server's max_payload is ${max} bytes)` : ''),
          { cause: err, details: { stream: stream.name, eventId: event.id, position: event.position } },
        );
      }
      return natsError(err, `publish ${where} to stream ${stream.name}`);
    },

    closed: () => nats.isClosed(),
    close: () => acks.close(),
  };
}
