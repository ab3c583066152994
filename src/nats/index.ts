// chronicle-es/nats: committed events to NATS JetStream (the relay) and back out into projections in services that
// have no access to the event store (the source). @nats-io/* are imported here only.
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
export {
  createJetStreamSource,
  type JetStreamSource,
  type JetStreamSourceOptions,
  type JetStreamSourceStatus,
} from './jetstream-source.js';
