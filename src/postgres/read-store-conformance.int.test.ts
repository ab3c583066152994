// The read-store conformance suite against the PostgreSQL read store on the real server: a fresh schema per store,
// a second store with its own pool for the race cases, leases and fencing included.
import { describeReadStoreConformance } from 'chronicle-es/testing';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { type FreshSchema, freshSchema, pgAvailable } from '../../test/support/postgres.js';
import { createPostgresReadStore, type PostgresReadStore } from './postgres-read-store.js';
import type { PostgresReader } from './read-store-reader.js';
import type { PostgresReadTx } from './read-store-tx.js';

const schemas: FreshSchema[] = [];
afterAll(async () => {
  await Promise.all(schemas.map((s) => s.drop()));
});

describe.skipIf(!pgAvailable)('postgres', () => {
  describeReadStoreConformance<PostgresReadTx, PostgresReader>(
    'postgres',
    {
      leases: true,
      control: true,
      create: () => {
        const fresh = freshSchema('read_conf');
        schemas.push(fresh);
        return createPostgresReadStore({ connectionString: fresh.connectionString, schema: fresh.schema, poolSize: 4 });
      },
      share: (store) => {
        const fresh = schemas.find((s) => s.schema === (store as PostgresReadStore).schema)!;
        return createPostgresReadStore({ connectionString: fresh.connectionString, schema: fresh.schema, poolSize: 4 });
      },
      createTable: (tx, table) => tx.run(`CREATE TABLE ${tx.table(table)} (k text PRIMARY KEY, v bigint NOT NULL)`),
      write: (tx, table, key, value) =>
        tx.run(`INSERT INTO ${tx.table(table)} (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v`, [key, value]),
      read: async (reader, table) =>
        Object.fromEntries(
          (await reader.all<{ k: string; v: number }>(`SELECT k, v FROM ${reader.table(table)}`)).map((r) => [r.k, r.v]),
        ),
    },
    { describe, it, beforeAll, afterAll },
  );
});
