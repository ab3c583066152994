// chronicle: messages, buses, deciders, the event store port and its in-memory twin, projections.

export { type AppendForms, appendForms, type PreparedAppend } from './append-forms.js';
export { AppendSignal } from './append-signal.js';
export { type CommandBus, type CommandBusOptions, createCommandBus, type DispatchOptions } from './command-bus.js';
export {
  type Command,
  type CommandContext,
  type CommandHandler,
  type CommandHandlerOptions,
  type CommandResult,
  createCommandHandler,
  createMultiStreamHandler,
  type LoadState,
  type MultiStreamHandlerOptions,
  type StatesOf,
  type StreamEvents,
  type StreamRoles,
  type StreamSpec,
} from './command-handler.js';
export { type Decider, fold, type StreamModel } from './decider.js';
export {
  createDecisionHandler,
  type DecisionHandlerOptions,
  type DecisionModel,
  type DecisionModels,
  type DecisionStatesOf,
  type LoadDecision,
  type SingleDecisionHandlerOptions,
} from './decision-handler.js';
export {
  assertNever,
  ChronicleError,
  type ChronicleErrorCode,
  type ChronicleErrorOptions,
  domainError,
  isChronicleError,
  type ValidationIssue,
} from './errors.js';
export { matchesItem, matchesQuery, normalizeQuery, normalizeTags, Query } from './event-query.js';
export type {
  AppendCondition,
  AppendManyOptions,
  AppendOptions,
  AppendResult,
  ConditionOptions,
  EventFilter,
  EventMetadata,
  EventSource,
  EventStore,
  ExpectedVersion,
  IdempotencyOptions,
  NewEvent,
  QueryItem,
  ReadAllOptions,
  ReadOptions,
  ReadResult,
  ReadStreamOptions,
  RecordedEvent,
  StalledRead,
  StreamInfo,
  StreamWrite,
  SubscribeOptions,
  Subscription,
  SubscriptionHandler,
  TaggedEvent,
} from './event-store.js';
export { createUpcaster, type Upcaster, type UpcastFrom } from './evolution/upcast-event.js';
export { type UpcasterChain, type UpcastStep, upcasters } from './evolution/upcasters.js';
export { upcasterOf, withUpcasting } from './evolution/upcasting-store.js';
export { createInMemoryEventStore } from './in-memory-event-store.js';
export {
  compareCodePoints,
  createStoreInspector,
  type InspectionSource,
  probeAnswer,
  type StreamRange,
  type StreamSummaryRow,
  toStreamSummary,
} from './inspection/create-store-inspector.js';
export {
  type CategoryStats,
  type InspectableStore,
  inspectorOf,
  type ListStreamsOptions,
  type RelatedEvents,
  type StoreInspector,
  type StoreStats,
  type StreamEventsOptions,
  type StreamEventsPage,
  type StreamPage,
  type StreamSummary,
  type WriteRate,
  type WriteRateOptions,
} from './inspection/store-inspector.js';
export type { PositionProbe } from './inspection/write-rate.js';
export {
  assertTruncateOptions,
  deletedStreamError,
  noStreamError,
  notArchivedError,
  notClosedError,
  truncateBefore,
} from './lifecycle/lifecycle-checks.js';
export { scavengeStream } from './lifecycle/scavenge-stream.js';
export type {
  StreamLifecycle,
  StreamLifecycleState,
  StreamLifecycleStatus,
  TombstoneOptions,
  TruncateOptions,
} from './lifecycle/stream-lifecycle.js';
export { retainedRead, retentionOf, type StreamRetention } from './lifecycle/stream-retention.js';
export { copyLog } from './log-transfer/copy-log.js';
export { type ExportLogOptions, exportLog, type LogTransferProgress } from './log-transfer/export-log.js';
export { type ImportLogOptions, type ImportLogResult, importLog } from './log-transfer/import-log.js';
export {
  LOG_FORMAT,
  LOG_FORMAT_VERSION,
  type LogEndLine,
  type LogEventLine,
  type LogHeaderLine,
  type LogLine,
  type LogStreamLine,
  type LogSummary,
  scanLog,
} from './log-transfer/log-format.js';
export {
  type CommandDefinition,
  type CommandOf,
  type DefinitionsIn,
  defineCommand,
  defineEvent,
  defineQuery,
  type EventDefinition,
  type EventEvolutionOptions,
  type EventOf,
  type InputOf,
  MAX_VALIDATION_ISSUES,
  type PayloadOf,
  type Policy,
  type Principal,
  type QueryDefinition,
  type ResultOf,
  type ResultType,
  resultSchemaOf,
  returns,
  type StringFieldOf,
  toJsonSchema,
  validate,
} from './messages.js';
export {
  type Authorizer,
  type DispatchContext,
  enforce,
  enforceRoles,
  loggingMiddleware,
  type Middleware,
  runPipeline,
} from './middleware.js';
export { createPollingSubscription } from './poll-subscription.js';
export {
  type CheckpointWaits,
  type CheckpointWaitsOptions,
  createCheckpointWaits,
} from './projections/checkpoint-waits.js';
export { CONTROL_ACTIONS, CONTROL_KEEP_MS, checkControlRequest, controlError } from './projections/control-requests.js';
export {
  type AlongsideContext,
  type BatchContext,
  defineProjection,
  type Projection,
  type ProjectionDefinition,
  type ProjectionHandler,
  type ProjectionHandlers,
  type RecordedEventOf,
} from './projections/define-projection.js';
export {
  createInMemoryReadStore,
  type InMemoryReader,
  type InMemoryReadStore,
  type InMemoryReadStoreOptions,
  type InMemoryReadTx,
} from './projections/in-memory-read-store.js';
export { InMemoryTable } from './projections/in-memory-table.js';
export type {
  ApplyWork,
  ControlAction,
  ControlRequest,
  ControlState,
  Fence,
  Lease,
  ProjectionControl,
  ProjectionFailure,
  ProjectionLeases,
  ProjectionRecord,
  ProjectionStore,
  SkippedEvent,
  WorkerInfo,
} from './projections/projection-store.js';
export {
  createProjector,
  type ProjectionChange,
  type ProjectionState,
  type ProjectionStatus,
  type Projector,
  type ProjectorOptions,
  type ProjectorWorkerOptions,
  type WaitForPositionOptions,
} from './projections/projector.js';
export { assertReadModelName } from './projections/read-model-name.js';
export type { SqlDialect, SqlReader, SqlReadTx, SqlValue } from './projections/sql-tx.js';
export { type RelayCheckpoint, type StoreCheckpointOptions, storeCheckpoint } from './projections/store-checkpoint.js';
export { createQueryBus, type QueryBus, type QueryBusOptions, type QueryHandler, type QueryOptions } from './query-bus.js';
export {
  type CryptoShreddingOptions,
  type CryptoShreddingStore,
  withCryptoShredding,
} from './shredding/crypto-shredding-store.js';
export { createInMemorySubjectKeyStore } from './shredding/in-memory-subject-key-store.js';
export type { KeyCacheOptions } from './shredding/key-cache.js';
export { FORGOTTEN, type PersonalMetadata } from './shredding/personal-cipher.js';
export { personal, personalPaths } from './shredding/personal-fields.js';
export {
  assertSubject,
  assertSubjects,
  newSubjectKey,
  type SubjectKey,
  type SubjectKeyStore,
} from './shredding/subject-key-store.js';
export { createInMemorySnapshotStore } from './snapshots/in-memory-snapshot-store.js';
export type { SnapshotOptions } from './snapshots/snapshot-policy.js';
export { assertSnapshotKey, encodeSnapshot, type Snapshot, type SnapshotStore } from './snapshots/snapshot-store.js';
export {
  andThen,
  createStateStoredHandler,
  isThenable,
  type MaybePromise,
  type MigrationsResult,
  type RunMigrationsOptions,
  runMigrations,
  type SqlMigration,
  type StateChange,
  type StateStoredHandlerOptions,
  type StateStoredStore,
  type StoredState,
  sqlMigrationsIn,
  type TransactOptions,
  type TransactWork,
  type TxAnswer,
  type WriteRunResult,
  type WriteTx,
} from './state-stored/index.js';
export {
  assertExpectedVersion,
  assertIdempotencyKey,
  assertStreamId,
  categoryOf,
  checkExpectedVersion,
  checkIdempotencyFingerprint,
  conditionConflict,
  indexTags,
  matchesFilter,
  normalizeCondition,
  normalizeRead,
  normalizeReadAll,
  normalizeReadStream,
  type PreparedEvent,
  type PreparedWrite,
  prepareEvent,
  prepareTaggedEvents,
  prepareWrite,
  prepareWrites,
  streamMetadataJson,
} from './store-kit.js';
export {
  instrumentOpenTelemetry,
  type OpenTelemetryBridge,
  type OpenTelemetryOptions,
  outcomeOf,
} from './telemetry/open-telemetry.js';
export {
  httpRequestTraced,
  reportAppendGroup,
  reportHttpRequestEnd,
  reportHttpRequestStart,
} from './telemetry/report.js';
export {
  type AppendGroupSample,
  type AppendTrace,
  type CommandTrace,
  type ConsistencyWaitSample,
  type HttpRequestTrace,
  type ProjectionBatchTrace,
  type QueryTrace,
  TELEMETRY_CHANNELS,
} from './telemetry/trace-types.js';
export { formatTraceparent, parseTraceparent, type TraceParent } from './telemetry/traceparent.js';
export {
  createTenantCommandBus,
  createTenantQueryBus,
  type TenantCommandBusOptions,
  type TenantQueryBusOptions,
  tenantOf,
} from './tenancy/tenant-buses.js';
export { tenantGuard } from './tenancy/tenant-guard.js';
export { assertTenantId, TENANT_ID_PATTERN, tenantPath, tenantSchema } from './tenancy/tenant-id.js';
export {
  createTenantRegistry,
  type TenantRegistry,
  type TenantRegistryOptions,
  type TenantResources,
} from './tenancy/tenant-registry.js';
export { createWorkflows, type Workflows, type WorkflowsOptions, type WorkflowsStatus } from './workflows/create-workflows.js';
export {
  command,
  defineProcessManager,
  type ProcessHandler,
  type ProcessHandlers,
  type ProcessManager,
  type ProcessManagerDefinition,
} from './workflows/define-process-manager.js';
export { COMMAND_REFUSED, type CommandRefusedData, processStreamId } from './workflows/process-refusal.js';
export {
  type CheckedProcessStep,
  checkProcessStep,
  encodeProcessState,
  MAX_REFUSAL_ROUNDS,
  type ProcessTask,
  processKeyOf,
} from './workflows/process-step.js';
export {
  assertScheduledCommand,
  COMMAND_SCHEDULED,
  type CommandScheduledData,
  cancelSchedule,
  dueTimeOf,
  resolveAfter,
  SCHEDULE_CANCELLED,
  SCHEDULE_EVENT_TYPES,
  SCHEDULE_FIRED,
  type ScheduleCancelledData,
  type ScheduledCommand,
  type ScheduleFiredData,
  type ScheduleOptions,
  type ScheduleTiming,
  schedule,
  scheduleKeyOf,
  scheduleStreamId,
} from './workflows/schedule-events.js';
export { SCHEDULER_PROJECTION } from './workflows/schedule-table.js';
export type {
  CancelOptions,
  FailingSchedule,
  ScheduleCause,
  ScheduleError,
  ScheduleReceipt,
  SchedulerOptions,
  ScheduleStatus,
  ScheduleWriteOptions,
  ScheduleWriter,
} from './workflows/scheduler.js';
export type { Clock, ProcessContext, ProcessStep, Refusal, RetryOptions } from './workflows/workflow-types.js';
