// chronicle/postgres: the PostgreSQL adapters (pg 8) — event store, read store with projection leases.
export type { AppendWriterStats } from './event-store-append.js';
export {
  createPostgresEventStore,
  type PostgresEventStore,
  type PostgresEventStoreOptions,
} from './postgres-event-store.js';
