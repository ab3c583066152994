// chronicle: messages, buses, deciders, the event store port and its in-memory twin, projections.

export { AppendSignal } from './append-signal.js';
export {
  assertNever,
  ChronicleError,
  type ChronicleErrorCode,
  type ChronicleErrorOptions,
  domainError,
  isChronicleError,
  type ValidationIssue,
} from './errors.js';
export type {
  AppendOptions,
  AppendResult,
  EventFilter,
  EventMetadata,
  EventStore,
  ExpectedVersion,
  NewEvent,
  ReadAllOptions,
  ReadStreamOptions,
  RecordedEvent,
  StreamInfo,
  StreamWrite,
  SubscribeOptions,
  Subscription,
  SubscriptionHandler,
} from './event-store.js';
export { createInMemoryEventStore } from './in-memory-event-store.js';
export {
  type CommandDefinition,
  type CommandOf,
  defineCommand,
  defineEvent,
  defineQuery,
  type EventDefinition,
  type EventOf,
  type InputOf,
  type PayloadOf,
  type Policy,
  type Principal,
  type QueryDefinition,
  type ResultOf,
  toJsonSchema,
  validate,
} from './messages.js';
export { createPollingSubscription } from './poll-subscription.js';
export {
  assertExpectedVersion,
  assertIdempotencyKey,
  assertStreamId,
  categoryOf,
  checkExpectedVersion,
  matchesFilter,
  normalizeReadAll,
  normalizeReadStream,
  type PreparedEvent,
  prepareEvent,
  prepareWrite,
  prepareWrites,
} from './store-kit.js';
