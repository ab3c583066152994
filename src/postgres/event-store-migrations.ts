// The PostgreSQL event store's schema as numbered migrations of component 'events', in order.
import { firstMigrationSql } from './event-store-schema.js';
import { tagsMigrationSql } from './event-store-schema-v2.js';
import type { Migration } from './migrate.js';

/** The event store's migrations. Only ever appended to: databases in the field hold the older steps. */
export function eventStoreMigrations(schemaName: string): Migration[] {
  return [
    {
      version: 1,
      name: 'events, streams, idempotency; append_events and delete_stream',
      sql: (s) => firstMigrationSql(s, schemaName),
    },
    {
      version: 2,
      name: 'tags: events.tags, event_tags backfilled with stream ids, events_type; append_events with conditions',
      sql: (s) => tagsMigrationSql(s, schemaName),
    },
  ];
}
