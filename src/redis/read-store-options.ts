// The options of the Redis read store, and the one place they are checked.
import { ChronicleError } from 'chronicle-es';
import type { Redis } from 'ioredis';

/** Options of createRedisReadStore: which server (a URL or your own connection), and where its keys go. */
export type RedisReadStoreOptions = {
  /**
   * The server, as `redis://[user:password@]host:port[/db]` or `rediss://…` (TLS); the store opens its own connection
   * and closes it on close(). Give this or `client`.
   */
  url?: string;
  /**
   * A connection of your own (ioredis 5, to a standalone server or a Sentinel-managed primary; not a Cluster), with
   * its own retry and timeout settings. The store never closes it.
   */
  client?: Redis;
  /** What every key of the store starts with, so several stores (or apps) share one database. Default `chronicle`. */
  prefix?: string;
  /**
   * Rows of each generation kept in this process across batches (least recently used dropped first), so handlers
   * that read rows written or read shortly before skip the round trip. A commit by any other process empties it.
   * Default 10,000; 0 turns it off.
   */
  cacheRows?: number;
  /**
   * Keep projection leases (`store.leases`) in Redis, so projectors sharing this store become workers that each hold
   * some projections, and every write is fenced by its lease. Off by default: projectors then share the store by
   * compare-and-set alone (enough for one consumer of a JetStream source).
   */
  leases?: boolean;
};

const DEFAULT_CACHE_ROWS = 10_000;

/** The options with their defaults. @throws INVALID_ARGUMENT naming what is wrong (never the URL: it may hold a password) */
export function checkOptions(options: RedisReadStoreOptions | undefined) {
  if (typeof options !== 'object' || options === null) {
    throw new ChronicleError('INVALID_ARGUMENT', 'createRedisReadStore needs options with a url or a client');
  }
  const { url, client, prefix = 'chronicle', cacheRows = DEFAULT_CACHE_ROWS, leases = false } = options;
  if (typeof leases !== 'boolean') throw new ChronicleError('INVALID_ARGUMENT', 'createRedisReadStore: leases must be a boolean');
  if (!Number.isSafeInteger(cacheRows) || cacheRows < 0) {
    throw new ChronicleError('INVALID_ARGUMENT', 'createRedisReadStore: cacheRows must be a non-negative integer');
  }
  if ((url === undefined) === (client === undefined)) {
    throw new ChronicleError('INVALID_ARGUMENT', 'createRedisReadStore: give exactly one of url and client');
  }
  if (url !== undefined) {
    let protocol: string | undefined;
    try {
      protocol = typeof url === 'string' ? new URL(url).protocol : undefined;
    } catch {
      protocol = undefined;
    }
    if (protocol !== 'redis:' && protocol !== 'rediss:') {
      // The URL itself is left out: it may carry a password.
      throw new ChronicleError('INVALID_ARGUMENT', 'createRedisReadStore: url must be a redis:// or rediss:// URL');
    }
  }
  if (client !== undefined && typeof (client as { evalsha?: unknown }).evalsha !== 'function') {
    throw new ChronicleError('INVALID_ARGUMENT', 'createRedisReadStore: client must be an ioredis Redis connection');
  }
  return { prefix, url, client, cacheRows, leases };
}
