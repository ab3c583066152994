// State-stored write models: commands on rows of the write tables, their events appended in the same transaction.

export {
  type MigrationsResult,
  type RunMigrationsOptions,
  runMigrations,
  type SqlMigration,
  sqlMigrationsIn,
} from './run-migrations.js';
export { splitSql } from './split-sql.js';
export {
  createStateStoredHandler,
  type StateChange,
  type StateStoredHandlerOptions,
  type StoredState,
  type TxAnswer,
} from './state-stored-handler.js';
export {
  andThen,
  isThenable,
  type MaybePromise,
  type StateStoredStore,
  type TransactOptions,
  type TransactWork,
  type WriteRunResult,
  type WriteTx,
} from './state-stored-store.js';
