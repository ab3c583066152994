// State-stored write models: commands on rows of the write tables, their events appended in the same transaction.
export {
  createStateStoredHandler,
  type StateChange,
  type StateStoredHandlerOptions,
  type StoredState,
} from './state-stored-handler.js';
export {
  andThen,
  isThenable,
  type MaybePromise,
  type StateStoredStore,
  type TransactWork,
  type WriteRunResult,
  type WriteTx,
} from './state-stored-store.js';
