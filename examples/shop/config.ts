// The Shop's configuration, read once from the environment (see README "Configuration"). Every mistake is reported
// at startup with the variable's name, never discovered later by a request.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { isChronicleError } from 'chronicle-es';
import { assertSubjectPrefix } from 'chronicle-es/nats';
import type { PostgresLocation, RedisLocation, ShopJetStreamOptions, ShopRole } from './app.js';
import { DEFAULT_STREAM, DEFAULT_SUBJECT_PREFIX, redactNatsUser } from './jetstream-names.js';
import { readNodeDurable, readStoreIdentity } from './read-node-durable.js';

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
  /** The read store on Redis (CHRONICLE_READ_STORE=redis://…): only for `read` fed through JetStream. */
  redisReadStore?: RedisLocation;
  /**
   * NATS JetStream (CHRONICLE_NATS_URL): the relay runs where the projector runs (`all`, `project`); a `read` process
   * has no event store and projects into its own read store from a durable consumer (`durable`, set only in `read`).
   */
  jetStream?: ShopJetStreamOptions & Required<Pick<ShopJetStreamOptions, 'stream' | 'subjectPrefix'>>;
  /**
   * The projector worker's id (role `project` or `all`): SHOP_WORKER_ID with a random suffix per process, so a
   * restarted worker never shares its lease (and fencing token) with a stale process of the same name that is still
   * alive somewhere; absent: one the projector makes up.
   */
  workerId?: string;
  /** Conflicts a command re-decides before it answers 409; absent: the Shop's default. */
  commandRetries?: number;
  /** How long an order may stay unpaid before it expires, in ms (SHOP_PAYMENT_TIMEOUT is in seconds; default 900). */
  paymentTimeoutMs: number;
  /** Fewer units available than this raise a low-stock alert (SHOP_LOW_STOCK_THRESHOLD; default 5). */
  lowStockThreshold: number;
  metricsPublic: boolean;
  /** The web console at /console (SHOP_CONSOLE): on in development unless `false`, off in production unless `true`. */
  console: boolean;
  /** Pino's level for every log line (LOG_LEVEL; default info). */
  logLevel: LogLevel;
  /**
   * Spans through the tracer provider the process registers with @opentelemetry/api (SHOP_OPENTELEMETRY=true), e.g.
   * an SDK set up by `node --import ./tracing.js`.
   */
  openTelemetry: boolean;
};

/** The levels LOG_LEVEL takes: pino's, and `silent` for none. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** The longest payment timeout SHOP_PAYMENT_TIMEOUT takes: a year, in seconds. */
export const MAX_PAYMENT_TIMEOUT_S = 365 * 24 * 3600;

const ROLES: readonly ShopRole[] = ['all', 'write', 'project', 'read'];
// As the PostgreSQL adapters accept it: an unquoted identifier, so the name can reach SQL without escaping.
const SCHEMA = /^[a-z_][a-z0-9_]{0,62}$/;
const WORKER_ID = /^[A-Za-z0-9._:-]{1,100}$/;
const DEFAULT_SCHEMA = 'shop';
// JetStream stream and consumer names: no whitespace, no subject or path separators, no wildcards.
const JETSTREAM_NAME = /^[^\s.*>/\\]{1,255}$/;
const REDIS_PREFIX = /^[A-Za-z0-9._:-]{1,100}$/;
const NATS_SETTINGS = ['SHOP_NATS_STREAM', 'SHOP_NATS_SUBJECTS', 'SHOP_NATS_DURABLE'] as const;

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
  const readValue = set('CHRONICLE_READ_STORE');
  const onRedis = readValue !== undefined && /^rediss?:/i.test(readValue);
  const readStore = onRedis ? undefined : postgresOf('CHRONICLE_READ_STORE', readValue, schema, poolSize);
  const readStorePath = set('READ_STORE_PATH');
  if ((readStore || onRedis) && readStorePath) {
    const engine = onRedis ? 'Redis' : 'PostgreSQL';
    throw new Error(`READ_STORE_PATH names a SQLite file, but CHRONICLE_READ_STORE puts the read store on ${engine}: set one`);
  }
  const dataDir = set('DATA_DIR') ?? './data';

  const natsUrl = set('CHRONICLE_NATS_URL');
  let jetStream: ShopConfig['jetStream'];
  if (natsUrl === undefined) {
    for (const name of NATS_SETTINGS) {
      if (set(name) !== undefined) throw new Error(`${name} is set but CHRONICLE_NATS_URL is not: set it to use JetStream`);
    }
  } else {
    jetStream = {
      servers: natsServers(natsUrl),
      stream: jetStreamName('SHOP_NATS_STREAM', set('SHOP_NATS_STREAM') ?? DEFAULT_STREAM),
      subjectPrefix: subjectPrefixOf(set('SHOP_NATS_SUBJECTS') ?? DEFAULT_SUBJECT_PREFIX),
    };
  }

  let redisReadStore: RedisLocation | undefined;
  const redisPrefix = set('SHOP_REDIS_PREFIX');
  if (onRedis) {
    // The Shop's projector writes SQL read models; only a read node projecting from JetStream fills the Redis one.
    if (role !== 'read' || !jetStream) {
      throw new Error(
        'CHRONICLE_READ_STORE=redis://… is a read store for a SHOP_ROLE=read process fed through JetStream ' +
          `(set CHRONICLE_NATS_URL); got SHOP_ROLE=${role}${jetStream ? '' : ' without CHRONICLE_NATS_URL'}`,
      );
    }
    redisReadStore = { url: redisUrl(readValue), prefix: redisPrefixOf(redisPrefix ?? 'shop') };
  } else if (redisPrefix !== undefined) {
    throw new Error('SHOP_REDIS_PREFIX is set but CHRONICLE_READ_STORE is not a redis:// URL');
  }

  const durable = set('SHOP_NATS_DURABLE');
  if (jetStream && role === 'read') {
    jetStream.durable =
      durable === undefined
        ? readNodeDurable(
            readStoreIdentity({ redisReadStore, readStore, readStorePath: readStorePath ?? join(dataDir, 'read.db') }),
          )
        : jetStreamName('SHOP_NATS_DURABLE', durable);
  } else if (durable !== undefined) {
    throw new Error(`SHOP_NATS_DURABLE names the consumer of a SHOP_ROLE=read process; SHOP_ROLE=${role} consumes nothing`);
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

  const timeout = set('SHOP_PAYMENT_TIMEOUT') ?? '900';
  const timeoutS = Number(timeout);
  if (!(/^\d+$/.test(timeout) && timeoutS >= 1 && timeoutS <= MAX_PAYMENT_TIMEOUT_S)) {
    throw new Error(
      `SHOP_PAYMENT_TIMEOUT must be a whole number of seconds from 1 to ${MAX_PAYMENT_TIMEOUT_S} (a year); got ${timeout}`,
    );
  }
  const threshold = set('SHOP_LOW_STOCK_THRESHOLD') ?? '5';
  const lowStockThreshold = Number(threshold);
  if (!(/^\d+$/.test(threshold) && lowStockThreshold >= 1 && lowStockThreshold <= 1_000_000)) {
    throw new Error(`SHOP_LOW_STOCK_THRESHOLD must be a whole number of units from 1 to 1000000; got ${threshold}`);
  }

  const consoleValue = set('SHOP_CONSOLE');
  if (consoleValue !== undefined && consoleValue !== 'true' && consoleValue !== 'false') {
    throw new Error(`SHOP_CONSOLE must be true or false; got ${consoleValue}`);
  }
  const otel = set('SHOP_OPENTELEMETRY') ?? 'false';
  if (otel !== 'true' && otel !== 'false') throw new Error(`SHOP_OPENTELEMETRY must be true or false; got ${otel}`);
  const logLevel = (set('LOG_LEVEL') ?? 'info') as LogLevel;
  if (!LOG_LEVELS.includes(logLevel)) throw new Error(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}; got ${logLevel}`);

  return {
    role,
    production,
    port,
    host,
    ...(opsValue !== undefined && { opsPort: portOf('OPS_PORT', opsValue) }),
    opsHost: set('OPS_HOST') ?? host,
    dataDir,
    ...(eventStore && { eventStore }),
    ...(readStore && { readStore }),
    ...(readStorePath !== undefined && { readStorePath }),
    ...(redisReadStore && { redisReadStore }),
    ...(jetStream && { jetStream }),
    ...(workerId !== undefined && { workerId: `${workerId}-${randomBytes(3).toString('hex')}` }),
    ...(commandRetries !== undefined && { commandRetries }),
    paymentTimeoutMs: timeoutS * 1000,
    lowStockThreshold,
    metricsPublic: env.SHOP_METRICS_PUBLIC === 'true',
    console: consoleValue === undefined ? !production : consoleValue === 'true',
    logLevel,
    openTelemetry: otel === 'true',
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
    const redis = name === 'CHRONICLE_READ_STORE' ? ' (or redis://host:port/db for a read node fed through JetStream)' : '';
    throw new Error(
      `${name} must be a postgres://user@host:port/database URL${redis}, or unset for SQLite; got ${redact(value)}`,
    );
  }
  return { connectionString: value, schema, ...(poolSize !== undefined && { poolSize }) };
}

// One URL or several, comma-separated (a cluster's servers): each nats:// or tls:// with a host.
function natsServers(value: string): string[] {
  const servers = value.split(',').map((s) => s.trim());
  for (const server of servers) {
    let url: URL | undefined;
    try {
      url = new URL(server);
    } catch {
      url = undefined;
    }
    if (!url || (url.protocol !== 'nats:' && url.protocol !== 'tls:') || url.hostname === '') {
      throw new Error(
        `CHRONICLE_NATS_URL must be nats://host:port (or tls://…), comma-separated for several; got ${redactNatsUser(value)}`,
      );
    }
  }
  return servers;
}

function jetStreamName(name: string, value: string): string {
  if (!JETSTREAM_NAME.test(value)) {
    throw new Error(`${name} must be 1-255 characters without whitespace, '.', '*', '>', '/' or '\\'; got ${value}`);
  }
  return value;
}

function subjectPrefixOf(value: string): string {
  try {
    assertSubjectPrefix(value);
  } catch (err) {
    if (!isChronicleError(err, 'INVALID_ARGUMENT')) throw err;
    throw new Error(
      `SHOP_NATS_SUBJECTS must be dot-separated tokens of letters, digits, _ and - (e.g. shop.events); got ${value}`,
    );
  }
  return value;
}

function redisUrl(value: string): string {
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (!url || url.hostname === '' || !/^\/?\d*$/.test(url.pathname)) {
    throw new Error(`CHRONICLE_READ_STORE must be redis://[user:password@]host:port[/db] (or rediss://…); got ${redact(value)}`);
  }
  return value;
}

function redisPrefixOf(value: string): string {
  if (!REDIS_PREFIX.test(value)) {
    throw new Error(`SHOP_REDIS_PREFIX must be 1-100 letters, digits or . _ : -; got ${value}`);
  }
  return value;
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
