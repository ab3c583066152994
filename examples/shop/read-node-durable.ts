// The default name of a JetStream-fed read node's durable consumer, derived from where its read store is: one durable
// per read store, so two read nodes with stores of their own never share one (each would take the other's deliveries
// for lost ones and reset the consumer), and a restarted node finds its own again.
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import { resolve } from 'node:path';

/** Where a read node's read store is, as far as telling one store from another goes. */
export type ReadStoreIdentity =
  | { kind: 'sqlite'; path: string }
  | { kind: 'postgres'; connectionString: string; schema: string }
  | { kind: 'redis'; url: string; prefix: string };

const LOOPBACK = /^(localhost|127\.\d+\.\d+\.\d+|\[::1\]|::1)$/i;

/** The identity of the read store a read node's options name: Redis, else PostgreSQL, else the SQLite file. */
export function readStoreIdentity(where: {
  redisReadStore?: { url: string; prefix: string };
  readStore?: { connectionString: string; schema: string };
  readStorePath: string;
}): ReadStoreIdentity {
  if (where.redisReadStore) return { kind: 'redis', ...where.redisReadStore };
  if (where.readStore) return { kind: 'postgres', ...where.readStore };
  return { kind: 'sqlite', path: where.readStorePath };
}

/**
 * `shop_read_<12 hex>`, a hash of the store's location: the file's absolute path on this host, or the server, database
 * and schema (PostgreSQL) or key prefix (Redis), never a password. A file, or a server on localhost, is only the same
 * store on the same host, so the host name counts there.
 */
export function readNodeDurable(store: ReadStoreIdentity): string {
  let identity: string;
  if (store.kind === 'sqlite') {
    identity = `sqlite|${hostname()}|${resolve(store.path)}`;
  } else {
    const url = new URL(store.kind === 'postgres' ? store.connectionString : store.url);
    const local = LOOPBACK.test(url.hostname) ? hostname() : '';
    const where = `${url.hostname}:${url.port}${url.pathname}`;
    identity = `${store.kind}|${local}|${where}|${store.kind === 'postgres' ? store.schema : store.prefix}`;
  }
  return `shop_read_${createHash('sha256').update(identity).digest('hex').slice(0, 12)}`;
}
