// The environment the Shop reads: defaults that need nothing, PostgreSQL by URL, and a clear error for every mistake.
import { describe, expect, it } from 'vitest';
import { readShopConfig } from './config.js';

describe('readShopConfig', () => {
  it('needs nothing: everything on SQLite under ./data, one process doing all', () => {
    expect(readShopConfig({})).toEqual({
      role: 'all',
      production: false,
      port: 3000,
      host: '127.0.0.1',
      opsHost: '127.0.0.1',
      dataDir: './data',
      paymentTimeoutMs: 900_000,
      lowStockThreshold: 5,
      metricsPublic: false,
      console: true,
      logLevel: 'info',
      openTelemetry: false,
    });
  });

  it('serves the console in development unless SHOP_CONSOLE=false, and in production only with SHOP_CONSOLE=true', () => {
    expect(readShopConfig({ SHOP_CONSOLE: 'false' }).console).toBe(false);
    expect(readShopConfig({ NODE_ENV: 'production' }).console).toBe(false);
    expect(readShopConfig({ NODE_ENV: 'production', SHOP_CONSOLE: 'true' }).console).toBe(true);
    expect(readShopConfig({ NODE_ENV: 'production', SHOP_CONSOLE: '' }).console).toBe(false);
    expect(() => readShopConfig({ SHOP_CONSOLE: 'yes' })).toThrow('SHOP_CONSOLE must be true or false; got yes');
  });

  it('takes the log level from LOG_LEVEL, and refuses one pino does not know', () => {
    expect(readShopConfig({ LOG_LEVEL: 'debug' }).logLevel).toBe('debug');
    expect(readShopConfig({ LOG_LEVEL: 'silent' }).logLevel).toBe('silent');
    expect(readShopConfig({ LOG_LEVEL: '' }).logLevel).toBe('info');
    expect(() => readShopConfig({ LOG_LEVEL: 'verbose' })).toThrow(
      'LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent; got verbose',
    );
    expect(() => readShopConfig({ LOG_LEVEL: 'INFO' })).toThrow(/LOG_LEVEL must be one of/);
  });

  it('turns the OpenTelemetry bridge on with SHOP_OPENTELEMETRY=true, and refuses anything but true or false', () => {
    expect(readShopConfig({ SHOP_OPENTELEMETRY: 'true' }).openTelemetry).toBe(true);
    expect(readShopConfig({ SHOP_OPENTELEMETRY: 'false' }).openTelemetry).toBe(false);
    expect(() => readShopConfig({ SHOP_OPENTELEMETRY: 'yes' })).toThrow('SHOP_OPENTELEMETRY must be true or false; got yes');
  });

  it('takes the payment timeout in seconds and the low-stock threshold in units', () => {
    expect(readShopConfig({ SHOP_PAYMENT_TIMEOUT: '60', SHOP_LOW_STOCK_THRESHOLD: '12' })).toMatchObject({
      paymentTimeoutMs: 60_000,
      lowStockThreshold: 12,
    });
    expect(readShopConfig({ SHOP_PAYMENT_TIMEOUT: '31536000' }).paymentTimeoutMs).toBe(31_536_000_000);
    expect(readShopConfig({ SHOP_LOW_STOCK_THRESHOLD: '1' }).lowStockThreshold).toBe(1);
    // Set but empty is unset, as for every other variable.
    expect(readShopConfig({ SHOP_PAYMENT_TIMEOUT: '' }).paymentTimeoutMs).toBe(900_000);
  });

  it('puts each store on PostgreSQL by its own URL, in the schema CHRONICLE_PG_SCHEMA names (default shop)', () => {
    const config = readShopConfig({
      SHOP_ROLE: 'project',
      CHRONICLE_EVENT_STORE: 'postgres://app:secret@db-1:5432/events',
      CHRONICLE_READ_STORE: 'postgresql://app@db-2/read',
      SHOP_WORKER_ID: 'worker-a',
    });
    expect(config).toMatchObject({
      role: 'project',
      eventStore: { connectionString: 'postgres://app:secret@db-1:5432/events', schema: 'shop' },
      readStore: { connectionString: 'postgresql://app@db-2/read', schema: 'shop' },
      workerId: expect.stringMatching(/^worker-a-[0-9a-f]{6}$/),
    });
    // Two processes given the same name (a restart beside a stale one) never hold a lease as the same owner.
    expect(readShopConfig({ SHOP_WORKER_ID: 'worker-a' }).workerId).not.toBe(config.workerId);
    const mixed = readShopConfig({ CHRONICLE_READ_STORE: 'postgres://db/read', CHRONICLE_PG_SCHEMA: 'tenant_7' });
    expect(mixed.eventStore).toBeUndefined();
    expect(mixed.readStore).toEqual({ connectionString: 'postgres://db/read', schema: 'tenant_7' });
    const pooled = readShopConfig({ CHRONICLE_EVENT_STORE: 'postgres://db/e', CHRONICLE_PG_POOL_SIZE: '4' });
    expect(pooled.eventStore).toEqual({ connectionString: 'postgres://db/e', schema: 'shop', poolSize: 4 });
  });

  it('takes every role, the ports, and the retry bound', () => {
    for (const role of ['all', 'write', 'project', 'read'] as const) expect(readShopConfig({ SHOP_ROLE: role }).role).toBe(role);
    expect(readShopConfig({ PORT: '0', OPS_PORT: '9100', OPS_HOST: '10.0.0.1' })).toMatchObject({
      port: 0,
      opsPort: 9100,
      opsHost: '10.0.0.1',
    });
    expect(readShopConfig({ SHOP_COMMAND_RETRIES: '0' }).commandRetries).toBe(0);
    expect(readShopConfig({ NODE_ENV: 'production' })).toMatchObject({ production: true, host: '0.0.0.0' });
  });

  it('refuses bad values, naming the variable', () => {
    const bad: Array<[NodeJS.ProcessEnv, RegExp]> = [
      [{ SHOP_ROLE: 'projector' }, /SHOP_ROLE must be one of all, write, project, read; got projector/],
      [
        { SHOP_PAYMENT_TIMEOUT: '0' },
        /SHOP_PAYMENT_TIMEOUT must be a whole number of seconds from 1 to 31536000 \(a year\); got 0/,
      ],
      [{ SHOP_PAYMENT_TIMEOUT: '15m' }, /SHOP_PAYMENT_TIMEOUT must be a whole number of seconds .*; got 15m/],
      [{ SHOP_PAYMENT_TIMEOUT: '1.5' }, /SHOP_PAYMENT_TIMEOUT must be a whole number of seconds .*; got 1\.5/],
      [{ SHOP_PAYMENT_TIMEOUT: '-60' }, /SHOP_PAYMENT_TIMEOUT must be a whole number of seconds/],
      [{ SHOP_PAYMENT_TIMEOUT: '31536001' }, /SHOP_PAYMENT_TIMEOUT must be a whole number of seconds/],
      [{ SHOP_LOW_STOCK_THRESHOLD: '0' }, /SHOP_LOW_STOCK_THRESHOLD must be a whole number of units from 1 to 1000000; got 0/],
      [{ SHOP_LOW_STOCK_THRESHOLD: 'five' }, /SHOP_LOW_STOCK_THRESHOLD must be a whole number of units .*; got five/],
      [{ PORT: '70000' }, /PORT must be a port number/],
      [{ PORT: '3000x' }, /PORT must be a port number/],
      [{ OPS_PORT: '-1' }, /OPS_PORT must be a port number/],
      [
        { CHRONICLE_EVENT_STORE: 'mysql://db/events' },
        /CHRONICLE_EVENT_STORE must be a postgres:\/\/user@host:port\/database URL/,
      ],
      [{ CHRONICLE_READ_STORE: 'not a url' }, /CHRONICLE_READ_STORE must be a postgres:/],
      [{ CHRONICLE_PG_SCHEMA: 'Shop-1' }, /CHRONICLE_PG_SCHEMA must be a lower-case identifier/],
      [{ CHRONICLE_PG_SCHEMA: 'x"; DROP SCHEMA public; --' }, /CHRONICLE_PG_SCHEMA/],
      [{ CHRONICLE_READ_STORE: 'postgres://db/read', READ_STORE_PATH: './read.db' }, /READ_STORE_PATH .* set one/],
      [{ SHOP_WORKER_ID: 'a b' }, /SHOP_WORKER_ID/],
      [{ CHRONICLE_PG_POOL_SIZE: '0' }, /CHRONICLE_PG_POOL_SIZE must be an integer from 1 to 100/],
      [{ CHRONICLE_PG_POOL_SIZE: '1e1' }, /CHRONICLE_PG_POOL_SIZE/],
      [{ CHRONICLE_PG_POOL_SIZE: '101' }, /CHRONICLE_PG_POOL_SIZE/],
      [{ SHOP_COMMAND_RETRIES: '2.5' }, /SHOP_COMMAND_RETRIES must be an integer/],
    ];
    for (const [env, message] of bad) expect(() => readShopConfig(env), JSON.stringify(env)).toThrow(message);
  });

  it('takes JetStream from CHRONICLE_NATS_URL, with the stream and subjects defaulted, and a durable only in read', () => {
    expect(readShopConfig({ CHRONICLE_NATS_URL: 'nats://127.0.0.1:4222' }).jetStream).toEqual({
      servers: ['nats://127.0.0.1:4222'],
      stream: 'SHOP_EVENTS',
      subjectPrefix: 'shop.events',
    });
    const cluster = readShopConfig({
      SHOP_ROLE: 'project',
      CHRONICLE_NATS_URL: 'nats://n1:4222, tls://n2:4222',
      SHOP_NATS_STREAM: 'ORDERS-EU',
      SHOP_NATS_SUBJECTS: 'acme.shop_eu',
    });
    expect(cluster.jetStream).toEqual({
      servers: ['nats://n1:4222', 'tls://n2:4222'],
      stream: 'ORDERS-EU',
      subjectPrefix: 'acme.shop_eu',
    });
    const read = readShopConfig({ SHOP_ROLE: 'read', CHRONICLE_NATS_URL: 'nats://n1', SHOP_NATS_DURABLE: 'eu-read-1' });
    expect(read.jetStream?.durable).toBe('eu-read-1');
    // Without CHRONICLE_NATS_URL a read node stays what it was: queries on a store other processes fill.
    expect(readShopConfig({ SHOP_ROLE: 'read' }).jetStream).toBeUndefined();
  });

  it("derives a read node's durable from where its read store is: one durable per read store", () => {
    const durableOf = (env: NodeJS.ProcessEnv) =>
      readShopConfig({ SHOP_ROLE: 'read', CHRONICLE_NATS_URL: 'nats://n1:4222', ...env }).jetStream?.durable;
    const sqlite = durableOf({ DATA_DIR: '/srv/shop' });
    expect(sqlite).toMatch(/^shop_read_[0-9a-f]{12}$/);
    // The same file however it is named, and a restart, find the same durable again.
    expect(durableOf({ READ_STORE_PATH: '/srv/shop/read.db' })).toBe(sqlite);
    expect(durableOf({ DATA_DIR: '/srv/shop' })).toBe(sqlite);
    const others = [
      durableOf({ DATA_DIR: '/srv/other' }),
      durableOf({ CHRONICLE_READ_STORE: 'postgres://app:secret@db-2/read' }),
      durableOf({ CHRONICLE_READ_STORE: 'postgres://app:other@db-2/read', CHRONICLE_PG_SCHEMA: 'eu' }),
      durableOf({ CHRONICLE_READ_STORE: 'redis://cache:6379/2' }),
      durableOf({ CHRONICLE_READ_STORE: 'redis://cache:6379/2', SHOP_REDIS_PREFIX: 'shop-eu' }),
    ];
    expect(new Set([sqlite, ...others]).size).toBe(6);
    // A password is not where the store is: changing it keeps the durable.
    expect(durableOf({ CHRONICLE_READ_STORE: 'postgres://app:rotated@db-2/read' })).toBe(others[1]);
  });

  it('puts a read node fed through JetStream on Redis, under SHOP_REDIS_PREFIX (default shop)', () => {
    const config = readShopConfig({
      SHOP_ROLE: 'read',
      CHRONICLE_NATS_URL: 'nats://n1:4222',
      CHRONICLE_READ_STORE: 'redis://:pw@cache:6379/3',
    });
    expect(config.redisReadStore).toEqual({ url: 'redis://:pw@cache:6379/3', prefix: 'shop' });
    expect(config.readStore).toBeUndefined();
    expect(
      readShopConfig({
        SHOP_ROLE: 'read',
        CHRONICLE_NATS_URL: 'nats://n1:4222',
        CHRONICLE_READ_STORE: 'rediss://cache',
        SHOP_REDIS_PREFIX: 'shop:eu-1',
      }).redisReadStore,
    ).toEqual({ url: 'rediss://cache', prefix: 'shop:eu-1' });
  });

  it('refuses JetStream and Redis settings that cannot work, naming the variable', () => {
    const nats = { CHRONICLE_NATS_URL: 'nats://n1:4222' };
    const bad: Array<[NodeJS.ProcessEnv, RegExp]> = [
      [{ CHRONICLE_NATS_URL: 'http://n1:4222' }, /CHRONICLE_NATS_URL must be nats:\/\/host:port/],
      [{ CHRONICLE_NATS_URL: 'nats://n1:4222,' }, /CHRONICLE_NATS_URL must be/],
      [{ CHRONICLE_NATS_URL: 'n1:4222' }, /CHRONICLE_NATS_URL must be/],
      [{ SHOP_NATS_STREAM: 'S' }, /SHOP_NATS_STREAM is set but CHRONICLE_NATS_URL is not/],
      [{ SHOP_NATS_SUBJECTS: 'a.b' }, /SHOP_NATS_SUBJECTS is set but CHRONICLE_NATS_URL is not/],
      [{ SHOP_ROLE: 'read', SHOP_NATS_DURABLE: 'd' }, /SHOP_NATS_DURABLE is set but CHRONICLE_NATS_URL is not/],
      [{ ...nats, SHOP_NATS_STREAM: 'shop.events' }, /SHOP_NATS_STREAM must be 1-255 characters without whitespace/],
      [{ ...nats, SHOP_NATS_STREAM: 'a b' }, /SHOP_NATS_STREAM/],
      [{ ...nats, SHOP_NATS_SUBJECTS: 'shop.*' }, /SHOP_NATS_SUBJECTS must be dot-separated tokens/],
      [{ ...nats, SHOP_NATS_SUBJECTS: 'shop..events' }, /SHOP_NATS_SUBJECTS/],
      [{ ...nats, SHOP_ROLE: 'read', SHOP_NATS_DURABLE: 'read>1' }, /SHOP_NATS_DURABLE must be 1-255 characters/],
      [
        { ...nats, SHOP_ROLE: 'all', SHOP_NATS_DURABLE: 'read-1' },
        /SHOP_NATS_DURABLE names the consumer of a SHOP_ROLE=read process; SHOP_ROLE=all/,
      ],
      [
        { ...nats, SHOP_ROLE: 'project', CHRONICLE_READ_STORE: 'redis://cache' },
        /redis:\/\/… is a read store for a SHOP_ROLE=read process fed through JetStream .*got SHOP_ROLE=project$/,
      ],
      [{ SHOP_ROLE: 'read', CHRONICLE_READ_STORE: 'redis://cache' }, /got SHOP_ROLE=read without CHRONICLE_NATS_URL$/],
      [
        { ...nats, SHOP_ROLE: 'read', CHRONICLE_READ_STORE: 'redis://cache', READ_STORE_PATH: 'r.db' },
        /READ_STORE_PATH .* on Redis: set one/,
      ],
      [
        { ...nats, SHOP_ROLE: 'read', CHRONICLE_READ_STORE: 'redis://cache/db1' },
        /CHRONICLE_READ_STORE must be redis:\/\/\[user:password@\]host:port\[\/db\]/,
      ],
      [
        { ...nats, SHOP_ROLE: 'read', CHRONICLE_READ_STORE: 'redis://cache', SHOP_REDIS_PREFIX: 'a b' },
        /SHOP_REDIS_PREFIX must be/,
      ],
      [{ SHOP_REDIS_PREFIX: 'shop' }, /SHOP_REDIS_PREFIX is set but CHRONICLE_READ_STORE is not a redis:\/\/ URL/],
    ];
    for (const [env, message] of bad) expect(() => readShopConfig(env), JSON.stringify(env)).toThrow(message);
  });

  it('never repeats a password from a bad URL in its error', () => {
    expect(() => readShopConfig({ CHRONICLE_EVENT_STORE: 'mysql://app:hunter2@db/events' })).toThrow(
      /got mysql:\/\/app:…@db\/events$/,
    );
    expect(() => readShopConfig({ CHRONICLE_EVENT_STORE: 'pg://app:p@ss/w@rd@db/e' })).toThrow(/got pg:\/\/app:…@db\/e$/);
    // A NATS URL's user part may be a token: nothing before the @ is repeated.
    expect(() => readShopConfig({ CHRONICLE_NATS_URL: 'nats://s3cr3t-token@n1:4222,http://u:pw@n2' })).toThrow(
      /got nats:\/\/…@n1:4222,http:\/\/…@n2$/,
    );
    const redis = { SHOP_ROLE: 'read', CHRONICLE_NATS_URL: 'nats://n1', CHRONICLE_READ_STORE: 'redis://:hunter2@cache/x' };
    expect(() => readShopConfig(redis)).toThrow(/got redis:\/\/:…@cache\/x$/);
  });
});
