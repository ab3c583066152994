// chronicle/sqlite: the embedded SQLite adapters (better-sqlite3 12) — event store, read store, relay checkpoint.
export type { GroupCommitStats } from './group-commit.js';
export { setAsideFile } from './set-aside-file.js';
export { createSqliteCheckpoint, type SqliteCheckpoint, type SqliteCheckpointOptions } from './sqlite-checkpoint.js';
export { createSqliteEventStore, type SqliteEventStore, type SqliteEventStoreOptions } from './sqlite-event-store.js';
export { createSqliteKeyStore, type SqliteKeyStoreOptions } from './sqlite-key-store.js';
export {
  createSqliteReadStore,
  type SqliteParams,
  type SqliteReader,
  type SqliteReadStore,
  type SqliteReadStoreOptions,
  type SqliteReadTx,
} from './sqlite-read-store.js';
export type { SqliteWriteTx } from './state-stored-transaction.js';
