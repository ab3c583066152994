// The PostgreSQL stores of one test file: a fresh schema, the stores and raw clients its tests open, and their ends —
// a client ended after each test (rolling back a transaction a failed test left open, which would hold the next
// test's readers), the stores closed and the schema dropped after the file.
import { randomUUID } from 'node:crypto';
import { createPostgresEventStore, type PostgresEventStore } from 'chronicle-es/postgres';
import type pg from 'pg';
import { afterAll, afterEach } from 'vitest';
import { freshSchema, PG_URL } from './postgres.js';

export function pgStoreFixture(label: string, poolSize: number) {
  const fresh = freshSchema(label);
  const stores: PostgresEventStore[] = [];
  const clients: pg.Client[] = [];
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.end().catch(() => {})));
  });
  afterAll(async () => {
    await Promise.all(stores.map((s) => s.close()));
    await fresh.drop();
  });
  /** A store on the file's schema with a pool of its own. */
  const open = () => {
    const store = createPostgresEventStore({ connectionString: PG_URL, schema: fresh.schema, poolSize });
    stores.push(store);
    return store;
  };
  return { fresh, clients, open };
}

/** A short random token for names no other test uses. */
export const token = () => randomUUID().slice(0, 8);
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
