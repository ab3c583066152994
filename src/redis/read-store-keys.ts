// Where the Redis read store keeps what, under one prefix. Projection and table names are read-model names (letters,
// digits, single underscores), so they can never contain the `:` that separates the parts of a key.
import { ChronicleError } from 'chronicle-es';

const PREFIX = /^[A-Za-z0-9_.-]+(?::[A-Za-z0-9_.-]+)*$/;
const MAX_PREFIX = 100;

/**
 * The keys of one store. Per projection `p`:
 * - `<prefix>:projections`: set of every projection name (what `list()` reads);
 * - `<prefix>:projection:<p>`: hash, the record (version, generation, position, rebuild_*, failure, commits:<g>);
 * - `<prefix>:projection:<p>:generations`: counter allocating generation numbers, never reused;
 * - `<prefix>:projection:<p>:skips`: list of skipped events as JSON, oldest first;
 * - `<prefix>:projection:<p>:garbage`: set of generations swapped out or replaced whose keys are still to delete;
 * - `<prefix>:projection:<p>:g<g>:tables`: set of the table names generation `g` has written;
 * - `<prefix>:projection:<p>:g<g>:t:<table>`: hash, the rows of one table (key → JSON value);
 * - `<prefix>:projection:<p>:lease`: hash, the projection's lease (owner, token, expires ms, released) when kept.
 * And for leases: `<prefix>:leases`, set of the projections with a lease; `<prefix>:workers`, sorted set of workers by
 * the time (ms) their heartbeat expires; `<prefix>:workers:seen`, hash of each worker's last heartbeat (ms).
 * And for control requests: `<prefix>:control:<id>`, one request as JSON (expiring once settled or void);
 * `<prefix>:control-pending`, sorted set of pending ids by `<prefix>:control-seq`, the counter ordering them.
 */
export type ReadStoreKeys = {
  readonly prefix: string;
  readonly projections: string;
  record(projection: string): string;
  generations(projection: string): string;
  skips(projection: string): string;
  garbage(projection: string): string;
  lease(projection: string): string;
  readonly leases: string;
  readonly workers: string;
  readonly workersSeen: string;
  control(id: string): string;
  readonly controlPending: string;
  readonly controlSeq: string;
  tables(projection: string, generation: number | string): string;
  table(projection: string, generation: number | string, table: string): string;
  /** What a table's key starts with before the generation number, for scripts that resolve the served one. */
  generationBase(projection: string): string;
};

/** @throws INVALID_ARGUMENT unless `prefix` is 1-100 letters, digits, `_`, `.`, `-` in `:`-separated parts. */
export function assertPrefix(prefix: unknown): asserts prefix is string {
  if (typeof prefix !== 'string' || prefix.length > MAX_PREFIX || !PREFIX.test(prefix)) {
    throw new ChronicleError(
      'INVALID_ARGUMENT',
      `redis read store: prefix must be 1-${MAX_PREFIX} letters, digits, _ . - in parts joined by single colons; got ${JSON.stringify(prefix)}`,
      { details: { prefix } },
    );
  }
}

/** The key layout under `prefix`. @throws INVALID_ARGUMENT bad prefix */
export function readStoreKeys(prefix: string): ReadStoreKeys {
  assertPrefix(prefix);
  const projection = (name: string) => `${prefix}:projection:${name}`;
  return {
    prefix,
    projections: `${prefix}:projections`,
    record: projection,
    generations: (p) => `${projection(p)}:generations`,
    skips: (p) => `${projection(p)}:skips`,
    garbage: (p) => `${projection(p)}:garbage`,
    lease: (p) => `${projection(p)}:lease`,
    leases: `${prefix}:leases`,
    workers: `${prefix}:workers`,
    workersSeen: `${prefix}:workers:seen`,
    control: (id) => `${prefix}:control:${id}`,
    controlPending: `${prefix}:control-pending`,
    controlSeq: `${prefix}:control-seq`,
    tables: (p, g) => `${projection(p)}:g${g}:tables`,
    table: (p, g, t) => `${projection(p)}:g${g}:t:${t}`,
    generationBase: (p) => `${projection(p)}:g`,
  };
}
