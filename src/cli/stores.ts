// Which store a `--store` / `--read-store` value names, and opening it through the package's public entries, loaded
// only for the scheme given: `--store x.db` never loads pg, a postgres:// URL never loads better-sqlite3.
import { existsSync, statSync } from 'node:fs';
import { ChronicleError, type EventStore, type ProjectionStore } from 'chronicle-es';

/** A store named on the command line. */
export type StoreSpec =
  | { kind: 'sqlite'; path: string }
  | { kind: 'postgres'; url: string; schema: string }
  | { kind: 'redis'; url: string; prefix: string };

/** How the global options name the stores' schema and key prefix. */
export type StoreNaming = { schema: string; readSchema?: string; redisPrefix: string };

const SCHEME = /^([a-z][a-z0-9+.-]*):\/\//i;

/**
 * Reads a store value: a postgres:// (postgresql://) or redis:// (rediss://) URL, or else a SQLite file path.
 * @throws INVALID_ARGUMENT an unknown scheme, a URL that does not parse, an empty value
 */
export function parseStore(value: string, naming: StoreNaming, role: 'store' | 'read-store'): StoreSpec {
  if (value.trim() === '') throw new ChronicleError('INVALID_ARGUMENT', `--${role} is empty`);
  const scheme = SCHEME.exec(value)?.[1].toLowerCase();
  if (scheme === undefined) {
    if (value === ':memory:') throw new ChronicleError('INVALID_ARGUMENT', `--${role} :memory: would be an empty store`);
    return { kind: 'sqlite', path: value };
  }
  const known = ['postgres', 'postgresql', ...(role === 'read-store' ? ['redis', 'rediss'] : [])];
  if (!known.includes(scheme)) {
    const accepted = role === 'store' ? 'a SQLite file or a postgres:// URL' : 'a SQLite file, a postgres:// or a redis:// URL';
    throw new ChronicleError('INVALID_ARGUMENT', `unknown store ${scheme}:// for --${role}: give ${accepted}`);
  }
  try {
    new URL(value);
  } catch {
    // The value itself is left out: it may carry a password.
    throw new ChronicleError('INVALID_ARGUMENT', `--${role} is not a valid ${scheme}:// URL`);
  }
  if (scheme.startsWith('redis')) return { kind: 'redis', url: value, prefix: naming.redisPrefix };
  return { kind: 'postgres', url: value, schema: role === 'store' ? naming.schema : (naming.readSchema ?? naming.schema) };
}

/** For messages and reports: a URL without its password. */
export function describeStore(spec: StoreSpec): string {
  if (spec.kind === 'sqlite') return `sqlite ${spec.path}`;
  const url = new URL(spec.url);
  if (url.password !== '') url.password = '***';
  return spec.kind === 'postgres' ? `postgres ${url} (schema ${spec.schema})` : `redis ${url} (prefix ${spec.prefix})`;
}

// Opening a SQLite path that does not exist would create an empty store and report nothing wrong.
function assertFile(path: string, role: string): void {
  if (!existsSync(path)) throw new ChronicleError('NOT_FOUND', `no ${role} at ${path}: no such file`);
  if (!statSync(path).isFile()) throw new ChronicleError('INVALID_ARGUMENT', `${path} is not a file`);
}

/**
 * Opens the event store `spec` names. A SQLite file must exist unless `create` (an import's target).
 * @throws NOT_FOUND missing file; the store's own codes (STORE_ERROR for a file that is not a database)
 */
export async function openEventStore(spec: StoreSpec, options: { create?: boolean } = {}): Promise<EventStore> {
  switch (spec.kind) {
    case 'sqlite': {
      if (!options.create) assertFile(spec.path, 'event store');
      const { createSqliteEventStore } = await import('chronicle-es/sqlite');
      // An import's target at 'normal' skips an fsync per batch; closing checkpoints the WAL into the file.
      return createSqliteEventStore({ path: spec.path, synchronous: options.create ? 'normal' : 'full' });
    }
    case 'postgres': {
      const { createPostgresEventStore } = await import('chronicle-es/postgres');
      return createPostgresEventStore({ connectionString: spec.url, schema: spec.schema, poolSize: 4 });
    }
    case 'redis':
      throw new ChronicleError('INVALID_ARGUMENT', 'an event store cannot be on Redis: give a SQLite file or a postgres:// URL');
  }
}

/**
 * Opens the read store `spec` names; a SQLite file must exist.
 * @throws NOT_FOUND missing file; the store's own codes (READ_STORE_CORRUPT, INVALID_ARGUMENT for an event store's file)
 */
export async function openReadStore(spec: StoreSpec): Promise<ProjectionStore<unknown, unknown>> {
  switch (spec.kind) {
    case 'sqlite': {
      assertFile(spec.path, 'read store');
      const { createSqliteReadStore } = await import('chronicle-es/sqlite');
      // The CLI only reads and leaves requests: a full quick check of a large file on every command would cost more.
      return createSqliteReadStore({ path: spec.path, quickCheck: false }) as ProjectionStore<unknown, unknown>;
    }
    case 'postgres': {
      const { createPostgresReadStore } = await import('chronicle-es/postgres');
      return createPostgresReadStore({ connectionString: spec.url, schema: spec.schema, poolSize: 2 }) as ProjectionStore<
        unknown,
        unknown
      >;
    }
    case 'redis': {
      const { createRedisReadStore } = await import('chronicle-es/redis');
      return createRedisReadStore({ url: spec.url, prefix: spec.prefix }) as ProjectionStore<unknown, unknown>;
    }
  }
}
