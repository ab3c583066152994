// chronicle/testing: helpers for testing Chronicle applications and adapters, including the event-store and read-store
// conformance suites.

export type { ConformanceRunner } from './conformance-kit.js';
export { type DeciderThen, deciderSpec } from './decider-spec.js';
export {
  type DecisionHandlerFactory,
  type DecisionModelThen,
  type DecisionThen,
  type DecisionWhen,
  decisionModelSpec,
  decisionSpec,
  type ExpectedEvent,
} from './decision-spec.js';
export { describeEventStoreConformance } from './event-store-conformance.js';
export type { EventStoreFactory } from './event-store-factory.js';
export {
  type GivenRefusal,
  type ProcessEvent,
  type ProcessExpectation,
  type ProcessGiven,
  type ProcessManagerSpecOptions,
  type ProcessOutcome,
  type ProcessThen,
  type ProcessWhen,
  processManagerSpec,
} from './process-manager-spec.js';
export { type GivenEvent, type ProjectionSpecOptions, type ProjectionThen, projectionSpec } from './projection-spec.js';
export { describeReadStoreConformance, type ReadStoreFactory } from './read-store-conformance.js';
export {
  describeSnapshotStoreConformance,
  type SnapshotHost,
  type SnapshotStoreFactory,
} from './snapshot-store-conformance.js';
export {
  describeStateStoredConformance,
  type StateStoredHost,
  type StateStoredStoreFactory,
} from './state-stored-conformance.js';
export { describeStoreInspectorConformance } from './store-inspector-cases.js';
export {
  describeSubjectKeyStoreConformance,
  type SubjectKeyStoreFactory,
} from './subject-key-store-conformance.js';
