// chronicle/postgres: the PostgreSQL adapters (pg 8) — event store, read store with projection leases.
export type { PostgresConnectionOptions } from './connection.js';
export type { AppendWriterStats } from './event-store-append.js';
export {
  createPostgresEventStore,
  type PostgresEventStore,
  type PostgresEventStoreOptions,
} from './postgres-event-store.js';
export { createPostgresKeyStore, type PostgresKeyStoreOptions } from './postgres-key-store.js';
export { createPostgresReadStore, type PostgresReadStore, type PostgresReadStoreOptions } from './postgres-read-store.js';
export type { PostgresReader } from './read-store-reader.js';
export type { PostgresReadTx } from './read-store-tx.js';
export type { PostgresWriteTx } from './state-stored-transaction.js';
