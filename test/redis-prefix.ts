// Key prefixes for Redis tests: a fresh one per test file, so one shared server works, and deleting its keys after.
// No import-time probe of the server (support/redis.ts has that): the benches drop their keys with `dropPrefix` too.
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { REDIS_URL } from './support/redis-url.js';

/** A prefix no other test (or earlier run) has used. */
export const freshPrefix = (label: string) => `chronicle-test:${label}:${randomUUID().slice(0, 8)}`;

/** Deletes every key under `prefix` on `url` (SCAN, then UNLINK: never KEYS on a shared server); how many it deleted. */
export async function dropPrefix(prefix: string, url: string = REDIS_URL): Promise<number> {
  const client = new Redis(url, { lazyConnect: true });
  let dropped = 0;
  try {
    let cursor = '0';
    do {
      const [next, found] = await client.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      if (found.length > 0) dropped += await client.unlink(found);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    client.disconnect();
  }
  return dropped;
}

/** Every key under `prefix` on `url`, sorted. */
export async function keysUnder(prefix: string, url: string = REDIS_URL): Promise<string[]> {
  const client = new Redis(url, { lazyConnect: true });
  const keys: string[] = [];
  try {
    let cursor = '0';
    do {
      const [next, found] = await client.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      keys.push(...found);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    client.disconnect();
  }
  return keys.sort();
}
