// PostgreSQL for tests: whether the server answers, and a fresh schema per test so runs never see each other's rows.
// In CI (CI=true) an unreachable server fails the importing test file loudly; on a developer machine without one the
// tests skip with the printed reason.
import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** The server the suite uses; STACK.md: PostgreSQL 15 on localhost, trust auth. */
export const PG_URL = process.env.CHRONICLE_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

async function reachable(): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  } finally {
    await client.end().catch(() => {});
  }
}

const unreachable = await reachable();
if (unreachable !== undefined) {
  const reason = `PostgreSQL at ${PG_URL} does not answer (${unreachable}); start it with the command in STACK.md`;
  if (process.env.CI === 'true') throw new Error(reason);
  console.warn(`skipping PostgreSQL tests: ${reason}`);
}

/** False only on a developer machine without the server (CI throws instead): use with `describe.skipIf(!pgAvailable)`. */
export const pgAvailable = unreachable === undefined;

export type FreshSchema = {
  schema: string;
  connectionString: string;
  /** Drops the schema and everything in it. */
  drop(): Promise<void>;
};

/** A new, empty, uniquely named schema (not created: the stores create theirs on first use). */
export function freshSchemaName(prefix = 't'): string {
  return `${prefix}_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
}

/** A fresh schema name on `connectionString` (default PG_URL), dropped by `drop()`. */
export function freshSchema(prefix = 't', connectionString = PG_URL): FreshSchema {
  const schema = freshSchemaName(prefix);
  return {
    schema,
    connectionString,
    async drop() {
      const client = new pg.Client({ connectionString });
      await client.connect();
      try {
        await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      } finally {
        await client.end();
      }
    },
  };
}

/**
 * The connection string of database `name` on the test server, created if missing (safe when several test files
 * ask at once), for tests that put the event store and the read store in different databases.
 */
export async function ensureDatabase(name: string): Promise<string> {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`bad database name ${name}`);
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (!rowCount) {
      try {
        await client.query(`CREATE DATABASE ${name}`);
      } catch (err) {
        // 42P04 duplicate_database, or 23505 when two CREATE DATABASE race on the catalog's unique index.
        const code = (err as { code?: string }).code;
        if (code !== '42P04' && code !== '23505') throw err;
      }
    }
  } finally {
    await client.end();
  }
  const url = new URL(PG_URL);
  url.pathname = `/${name}`;
  return url.toString();
}
