// chronicle-es/nats: committed events to NATS JetStream (the relay) and back out into projections in services that
// have no access to the event store (the source), with the wire format both share. @nats-io/* are imported here only.
export {
  assertSubjectPrefix,
  decodeEvent,
  EventHeaders,
  eventBody,
  eventHeaders,
  MSG_ID,
  positionOf,
  subjectOf,
  subjectToken,
} from './event-message.js';
export { createJetStreamRelay, type JetStreamRelay, type JetStreamRelayOptions } from './jetstream-relay.js';
export {
  createJetStreamSource,
  type JetStreamSource,
  type JetStreamSourceOptions,
  type JetStreamSourceStatus,
} from './jetstream-source.js';
export { type JetStreamKvCheckpointOptions, jetStreamKvCheckpoint } from './relay-kv-checkpoint.js';
export type { RelayState, RelayStatus } from './relay-status.js';
export type { JetStreamStreamOptions } from './stream-setup.js';
