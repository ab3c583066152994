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
      metricsPublic: false,
    });
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

  it('never repeats a password from a bad URL in its error', () => {
    expect(() => readShopConfig({ CHRONICLE_EVENT_STORE: 'mysql://app:hunter2@db/events' })).toThrow(
      /got mysql:\/\/app:…@db\/events$/,
    );
    expect(() => readShopConfig({ CHRONICLE_EVENT_STORE: 'pg://app:p@ss/w@rd@db/e' })).toThrow(/got pg:\/\/app:…@db\/e$/);
  });
});
