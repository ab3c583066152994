// Numbered migrations, applied on first use of a store. Safe when several processes start at once: each runs the
// missing steps inside one transaction holding a transaction-level advisory lock for the schema, so the second waits,
// then sees the steps done and runs none. The lock is per schema, not per component: CREATE SCHEMA / CREATE TABLE IF
// NOT EXISTS of the shared migrations table are not safe against each other when two components start at once.
import type pg from 'pg';
import type { Connection } from './connection.js';
import { storeError } from './pg-error.js';

export type Migration = {
  /** 1, 2, 3…: applied in order, each once. */
  version: number;
  /** What the step does, kept in the migrations table. */
  name: string;
  /** The statements, given the quoted schema name. */
  sql: (schema: string) => string;
};

/**
 * Brings `component`'s tables in the connection's schema up to the last migration.
 * @throws STORE_ERROR when the server refuses a step (nothing of that step stays: it runs in the lock's transaction)
 */
export async function migrate(connection: Connection, component: string, migrations: readonly Migration[]): Promise<void> {
  const { pool, schema, schemaName } = connection;
  let client: pg.PoolClient | undefined;
  try {
    client = await pool.connect();
    // A checked-out client has no listener of the pool's: a server going away mid-migration would crash the process.
    client.on('error', () => {});
    await client.query('BEGIN');
    // hashtext gives a stable 32-bit key per schema; the lock ends with the transaction.
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`chronicle:${schemaName}`]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
    await client.query(`CREATE TABLE IF NOT EXISTS ${schema}.chronicle_migrations (
      component text NOT NULL,
      version integer NOT NULL,
      name text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (component, version)
    )`);
    const { rows } = await client.query<{ version: number }>(
      `SELECT coalesce(max(version), 0) AS version FROM ${schema}.chronicle_migrations WHERE component = $1`,
      [component],
    );
    const done = rows[0].version;
    for (const step of [...migrations].sort((a, b) => a.version - b.version)) {
      if (step.version <= done) continue;
      await client.query(step.sql(schema));
      await client.query(`INSERT INTO ${schema}.chronicle_migrations (component, version, name) VALUES ($1, $2, $3)`, [
        component,
        step.version,
        step.name,
      ]);
    }
    await client.query('COMMIT');
  } catch (err) {
    await client?.query('ROLLBACK').catch(() => {});
    throw storeError(err, `migrating ${component} in schema ${schemaName}`);
  } finally {
    client?.release();
  }
}
