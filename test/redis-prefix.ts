// Key prefixes for Redis tests: a fresh one per test file, so one shared server works, and deleting its keys after.
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { REDIS_URL } from './support/redis.js';

/** A prefix no other test (or earlier run) has used. */
export const freshPrefix = (label: string) => `chronicle-test:${label}:${randomUUID().slice(0, 8)}`;

/** Deletes every key under `prefix` (SCAN, then UNLINK: never KEYS on a shared server). */
export async function dropPrefix(prefix: string): Promise<number> {
  const client = new Redis(REDIS_URL, { lazyConnect: true });
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

/** Every key under `prefix`, sorted. */
export async function keysUnder(prefix: string): Promise<string[]> {
  const client = new Redis(REDIS_URL, { lazyConnect: true });
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
