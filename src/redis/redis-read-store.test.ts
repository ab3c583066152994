// Options are checked before anything is sent: these cases need no server.
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import type { RedisReadStoreOptions } from './read-store-options.js';
import { createRedisReadStore } from './redis-read-store.js';

describe('createRedisReadStore options', () => {
  it.each([
    ['no options', undefined],
    ['neither url nor client', {}],
    ['both url and client', { url: 'redis://127.0.0.1:6379', client: new Redis({ lazyConnect: true }) }],
    ['a URL of another scheme', { url: 'postgres://127.0.0.1/x' }],
    ['a URL that is not one', { url: 'not a url' }],
    ['a client that is not ioredis', { client: {} }],
    ['a bad prefix', { url: 'redis://127.0.0.1:6379', prefix: 'has space' }],
    ['a cache size that is not a count', { url: 'redis://127.0.0.1:6379', cacheRows: -1 }],
    ['leases that are not a boolean', { url: 'redis://127.0.0.1:6379', leases: 'yes' }],
  ])('refuses %s with INVALID_ARGUMENT', (_, options) => {
    expect(() => createRedisReadStore(options as RedisReadStoreOptions)).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    );
  });

  it('keeps a password in the URL out of the error', () => {
    expect(() => createRedisReadStore({ url: 'http://user:hunter2@host' })).toThrow(
      expect.not.objectContaining({ message: expect.stringContaining('hunter2') }),
    );
  });

  it('defaults the prefix, and connects to nothing until used', async () => {
    const store = createRedisReadStore({ url: 'redis://127.0.0.1:1' });
    expect(store.prefix).toBe('chronicle');
    expect(store.leases).toBeUndefined();
    const leased = createRedisReadStore({ url: 'redis://127.0.0.1:1', leases: true });
    expect(Object.keys(leased.leases!).sort()).toEqual(['acquire', 'heartbeat', 'list', 'release']);
    await leased.close();
    await store.close();
    await expect(store.load('x')).rejects.toMatchObject({ code: 'CLOSED' });
  });

  it('refuses a projection name that could reach other keys, before sending anything', async () => {
    const store = createRedisReadStore({ url: 'redis://127.0.0.1:1' });
    const name = 'orders:g1:t:rows';
    const codes = await Promise.all(
      [
        () => store.load(name),
        () => store.apply(name, 1, undefined, 1, 0),
        () => store.beginGeneration(name, 1),
        () => store.swapGeneration(name, 1, 0),
        () => store.setFailure(name, undefined),
        () => store.skipped(name),
      ].map((call) =>
        call().then(
          () => 'resolved',
          (err) => err.code,
        ),
      ),
    );
    expect(codes).toEqual(Array(6).fill('INVALID_ARGUMENT'));
    expect(() => store.reader(name)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    await store.close();
  });
});
