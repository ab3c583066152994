// Connections for the PostgreSQL adapters: a pool given or opened from a connection string, the schema that
// isolates a store's tables, and the type parsing every adapter shares.
import { ChronicleError } from 'chronicle-es';
import pg from 'pg';

export type PostgresConnectionOptions = {
  /** e.g. `postgres://user@host:5432/db`; the store opens (and on close ends) its own pool. */
  connectionString?: string;
  /** A pool the caller owns: the store uses it and never ends it. */
  pool?: pg.Pool;
  /** Schema holding the store's tables, created on first use. Default `chronicle`. */
  schema?: string;
  /** Connections in a pool the store opens. Default 10. */
  poolSize?: number;
};

export type Connection = {
  pool: pg.Pool;
  /** The schema name, already quoted for SQL (`"chronicle"`). */
  schema: string;
  /** The schema name as given. */
  schemaName: string;
  /** How to open a dedicated client (LISTEN) on the same server, when the store was given a connection string. */
  clientConfig: pg.ClientConfig;
  /** Ends the pool if the store opened it. */
  end(): Promise<void>;
};

// Unquoted identifiers only: a schema name reaches SQL, so it is checked, never escaped.
const SCHEMA = /^[a-z_][a-z0-9_]{0,62}$/;

/** @throws INVALID_ARGUMENT when neither or both of connectionString and pool are given, or the schema is malformed */
export function openConnection(options: PostgresConnectionOptions, what: string): Connection {
  const { connectionString, pool } = options ?? {};
  if ((connectionString === undefined) === (pool === undefined)) {
    throw new ChronicleError('INVALID_ARGUMENT', `${what} needs exactly one of connectionString and pool`);
  }
  if (connectionString !== undefined && (typeof connectionString !== 'string' || connectionString === '')) {
    throw new ChronicleError('INVALID_ARGUMENT', `${what}: connectionString must be a non-empty string`);
  }
  const schemaName = options.schema ?? 'chronicle';
  if (typeof schemaName !== 'string' || !SCHEMA.test(schemaName)) {
    throw new ChronicleError('INVALID_ARGUMENT', `${what}: schema must match ${SCHEMA} (lower case, unquoted)`);
  }
  const poolSize = options.poolSize ?? 10;
  if (!Number.isSafeInteger(poolSize) || poolSize < 1) {
    throw new ChronicleError('INVALID_ARGUMENT', `${what}: poolSize must be a positive integer`);
  }
  if (pool) {
    const { connectionString: cs, host, port, user, password, database, ssl } = pool.options;
    return {
      pool,
      schema: `"${schemaName}"`,
      schemaName,
      clientConfig: { connectionString: cs, host, port, user, password, database, ssl, types },
      end: async () => {},
    };
  }
  // JIT off on the store's own sessions: its statements are short index reads whose generic-plan estimates can pass
  // jit_above_cost on a large log, and compiling one costs tens of ms against a fraction of one to run it. A pool the
  // caller passes keeps its own settings.
  const owned = new pg.Pool({ connectionString, max: poolSize, types, options: '-c jit=off' });
  // An idle client that loses its server emits on the pool; without a listener that would crash the process.
  owned.on('error', () => {});
  return {
    pool: owned,
    schema: `"${schemaName}"`,
    schemaName,
    clientConfig: { connectionString, types, options: '-c jit=off' },
    end: () => owned.end(),
  };
}

const INT8 = 20;
const NUMERIC = 1700;

/**
 * Type parsing for the adapters' own queries: bigint columns (positions, versions, counts) come back as numbers while
 * they are safe integers and as strings past 2^53, instead of pg's strings always. Passed per query and per pool, so
 * the process-wide pg.types a host application configures is left alone.
 */
export const types = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === INT8 && format !== 'binary') {
      return (value: string) => {
        const n = Number(value);
        return Number.isSafeInteger(n) ? n : value;
      };
    }
    if (oid === NUMERIC && format !== 'binary') return (value: string) => value;
    return pg.types.getTypeParser(oid, format as 'text');
  },
} as pg.CustomTypesConfig;
