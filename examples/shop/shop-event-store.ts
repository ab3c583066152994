// The Shop's event store: SQLite (events.db) or PostgreSQL, with its customers' personal fields (name, email,
// address, and the copies orders and notifications make) encrypted per customer, the keys in the same database.
import { type CryptoShreddingStore, withCryptoShredding } from 'chronicle-es';
import { createPostgresEventStore, createPostgresKeyStore, type PostgresEventStore } from 'chronicle-es/postgres';
import { createSqliteEventStore, createSqliteKeyStore, type SqliteEventStore } from 'chronicle-es/sqlite';
import { shopEvents } from './messages/events.js';

/** Where the log is: a PostgreSQL schema, or the SQLite file at `path` (the Shop's `events.db`). */
export type ShopEventStoreLocation =
  | { postgres: { connectionString: string; schema: string; poolSize?: number } }
  | {
      postgres?: undefined;
      path: string;
      /** SQLite's synchronous level of the event store (see createSqliteEventStore). Default 'full'. */
      synchronous?: 'full' | 'normal';
    };

/**
 * Opens the log and its key store; closing the store closes both. `forget(customerId)` deletes a customer's key (on
 * SQLite it then checkpoints the file's WAL, which also drops the older pages of an anonymised customers row).
 * @throws INVALID_ARGUMENT, STORE_ERROR as the stores do
 */
export function openShopEventStore(
  location: ShopEventStoreLocation,
): CryptoShreddingStore<SqliteEventStore | PostgresEventStore> {
  const { postgres } = location;
  const raw: SqliteEventStore | PostgresEventStore = postgres
    ? createPostgresEventStore(postgres)
    : // The customers table lives in this file: an anonymised row must not linger in a free page.
      createSqliteEventStore({ path: location.path, synchronous: location.synchronous, secureDelete: true });
  try {
    const keys = postgres
      ? createPostgresKeyStore({ connectionString: postgres.connectionString, schema: postgres.schema })
      : createSqliteKeyStore({ path: location.path });
    return withCryptoShredding(raw, { events: shopEvents, keys, closeKeys: true });
  } catch (err) {
    void raw.close();
    throw err;
  }
}
