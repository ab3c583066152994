// The Shop's configuration, read once from the environment (see README "Configuration"). Every mistake is reported
// at startup with the variable's name, never discovered later by a request.
import { randomBytes } from 'node:crypto';
import type { PostgresLocation, ShopRole } from './app.js';

export type ShopConfig = {
  role: ShopRole;
  production: boolean;
  port: number;
  host: string;
  /** A second listener for metrics and the event stream. */
  opsPort?: number;
  opsHost: string;
  /** Holds the SQLite files (unless the stores are on PostgreSQL) and, in development, the demo keys. */
  dataDir: string;
  /** The event store on PostgreSQL; absent: SQLite `events.db` under `dataDir`. */
  eventStore?: PostgresLocation;
  /** The read store on PostgreSQL; absent: SQLite, at `readStorePath` or `read.db` under `dataDir`. */
  readStore?: PostgresLocation;
  readStorePath?: string;
  /**
   * The projector worker's id (role `project` or `all`): SHOP_WORKER_ID with a random suffix per process, so a
   * restarted worker never shares its lease (and fencing token) with a stale process of the same name that is still
   * alive somewhere; absent: one the projector makes up.
   */
  workerId?: string;
  /** Conflicts a command re-decides before it answers 409; absent: the Shop's default. */
  commandRetries?: number;
  metricsPublic: boolean;
};

const ROLES: readonly ShopRole[] = ['all', 'write', 'project', 'read'];
// As the PostgreSQL adapters accept it: an unquoted identifier, so the name can reach SQL without escaping.
const SCHEMA = /^[a-z_][a-z0-9_]{0,62}$/;
const WORKER_ID = /^[A-Za-z0-9._:-]{1,100}$/;
const DEFAULT_SCHEMA = 'shop';

/** Reads the Shop's configuration. @throws Error naming the variable and what it accepts */
export function readShopConfig(env: NodeJS.ProcessEnv): ShopConfig {
  const set = (name: string): string | undefined => (env[name] === undefined || env[name] === '' ? undefined : env[name]);
  const production = env.NODE_ENV === 'production';

  const role = (set('SHOP_ROLE') ?? 'all') as ShopRole;
  if (!ROLES.includes(role)) throw new Error(`SHOP_ROLE must be one of ${ROLES.join(', ')}; got ${env.SHOP_ROLE}`);

  const port = portOf('PORT', set('PORT') ?? '3000');
  const opsValue = set('OPS_PORT');
  const host = set('HOST') ?? (production ? '0.0.0.0' : '127.0.0.1');

  const schema = set('CHRONICLE_PG_SCHEMA') ?? DEFAULT_SCHEMA;
  if (!SCHEMA.test(schema)) {
    throw new Error(`CHRONICLE_PG_SCHEMA must be a lower-case identifier (${SCHEMA.source}); got ${schema}`);
  }
  const pool = set('CHRONICLE_PG_POOL_SIZE');
  const poolSize = pool === undefined ? undefined : Number(pool);
  // PostgreSQL's max_connections (100 by default) is shared by every process: each store opens a pool of this size.
  if (poolSize !== undefined && !(/^\d+$/.test(pool ?? '') && poolSize >= 1 && poolSize <= 100)) {
    throw new Error(`CHRONICLE_PG_POOL_SIZE must be an integer from 1 to 100; got ${pool}`);
  }
  const eventStore = postgresOf('CHRONICLE_EVENT_STORE', set('CHRONICLE_EVENT_STORE'), schema, poolSize);
  const readStore = postgresOf('CHRONICLE_READ_STORE', set('CHRONICLE_READ_STORE'), schema, poolSize);
  const readStorePath = set('READ_STORE_PATH');
  if (readStore && readStorePath) {
    throw new Error('READ_STORE_PATH names a SQLite file, but CHRONICLE_READ_STORE puts the read store on PostgreSQL: set one');
  }

  const workerId = set('SHOP_WORKER_ID');
  if (workerId !== undefined && !WORKER_ID.test(workerId)) {
    throw new Error(`SHOP_WORKER_ID must be 1-100 letters, digits or . _ : -; got ${workerId}`);
  }
  const retries = set('SHOP_COMMAND_RETRIES');
  const commandRetries = retries === undefined ? undefined : Number(retries);
  if (commandRetries !== undefined && !(Number.isSafeInteger(commandRetries) && commandRetries >= 0 && commandRetries <= 1000)) {
    throw new Error(`SHOP_COMMAND_RETRIES must be an integer from 0 to 1000; got ${retries}`);
  }

  return {
    role,
    production,
    port,
    host,
    ...(opsValue !== undefined && { opsPort: portOf('OPS_PORT', opsValue) }),
    opsHost: set('OPS_HOST') ?? host,
    dataDir: set('DATA_DIR') ?? './data',
    ...(eventStore && { eventStore }),
    ...(readStore && { readStore }),
    ...(readStorePath !== undefined && { readStorePath }),
    ...(workerId !== undefined && { workerId: `${workerId}-${randomBytes(3).toString('hex')}` }),
    ...(commandRetries !== undefined && { commandRetries }),
    metricsPublic: env.SHOP_METRICS_PUBLIC === 'true',
  };
}

function portOf(name: string, value: string): number {
  const port = Number(value);
  if (!/^\d+$/.test(value) || port > 65535) throw new Error(`${name} must be a port number (0 picks a free one); got ${value}`);
  return port;
}

function postgresOf(
  name: string,
  value: string | undefined,
  schema: string,
  poolSize: number | undefined,
): PostgresLocation | undefined {
  if (value === undefined) return undefined;
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:')) {
    throw new Error(`${name} must be a postgres://user@host:port/database URL, or unset for SQLite; got ${redact(value)}`);
  }
  return { connectionString: value, schema, ...(poolSize !== undefined && { poolSize }) };
}

// A connection string may carry a password: an error message (logged, perhaps shipped elsewhere) never does.
function redact(value: string): string {
  const start = value.indexOf('//');
  const at = value.lastIndexOf('@');
  if (start < 0 || at < start) return value;
  const credentials = value.slice(start + 2, at);
  const colon = credentials.indexOf(':');
  return colon < 0 ? value : `${value.slice(0, start + 2)}${credentials.slice(0, colon)}:…${value.slice(at)}`;
}
