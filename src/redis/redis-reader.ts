// Query-side reads of a Redis read store: every call resolves the projection's served generation and reads its table
// in one script, so a swap made by any process is seen at once and a read never mixes two generations.
import { assertReadModelName, ChronicleError } from 'chronicle-es';
import type { Redis } from 'ioredis';
import type { ReadStoreKeys } from './read-store-keys.js';
import { COUNT_ROWS, READ_ROWS, SCAN_ROWS } from './read-store-scripts.js';
import { parseStored } from './redis-error.js';

/** Read-only access to one table of a projection's served generation. Rows are the JSON values handlers set. */
export interface RedisTableReader<V = unknown> {
  /** The row at `key`, or undefined. @throws NOT_FOUND before the projection's first generation; INVALID_ARGUMENT; STORE_ERROR, CLOSED */
  get(key: string): Promise<V | undefined>;
  /** The rows at `keys` in their order, all from one generation. @throws NOT_FOUND, INVALID_ARGUMENT, STORE_ERROR, CLOSED */
  getMany(keys: readonly string[]): Promise<(V | undefined)[]>;
  /** How many rows the table holds. @throws NOT_FOUND, STORE_ERROR, CLOSED */
  size(): Promise<number>;
  /**
   * Every row, a page of about `count` (default 500) per round trip (HSCAN), each key once. Not a snapshot: a row
   * written meanwhile may show either value, one added or deleted meanwhile may or may not show.
   * @throws NOT_FOUND; CONCURRENCY_CONFLICT when another generation is swapped in during the scan (start again);
   * INVALID_ARGUMENT bad count; STORE_ERROR, CLOSED
   */
  entries(options?: { count?: number }): AsyncIterableIterator<[string, V]>;
}

/** What query handlers read a Redis projection with: its served generation's tables, resolved at every call. */
export interface RedisReader {
  /** A table of the served generation; one never written reads as empty. @throws INVALID_ARGUMENT bad name; CLOSED */
  table<V = unknown>(name: string): RedisTableReader<V>;
}

/** What a reader needs from its store. */
export type ReaderContext = {
  client: Redis;
  keys: ReadStoreKeys;
  assertOpen(): void;
  /** Runs a Redis call while the store is open, translating its failure. */
  call<T>(operation: string, work: () => Promise<T>): Promise<T>;
};

const DEFAULT_SCAN_COUNT = 500;
const MAX_SCAN_COUNT = 100_000;

const noTables = (projection: string) =>
  new ChronicleError('NOT_FOUND', `projection ${projection} has no tables yet`, { details: { projection } });

const parse = <V>(projection: string, table: string, key: string, json: string): V =>
  parseStored<V>(json, `${projection} table ${table}: row ${JSON.stringify(key)}`, { projection, table, key });

/** A reader of `projection`'s served generation. */
export function createRedisReader(projection: string, context: ReaderContext): RedisReader {
  const { client, keys, call, assertOpen } = context;
  const record = keys.record(projection);
  const base = keys.generationBase(projection);
  return {
    table<V = unknown>(table: string): RedisTableReader<V> {
      assertOpen();
      assertReadModelName('table', table);
      const decode = (key: string, json: string | null): V | undefined =>
        json === null ? undefined : parse<V>(projection, table, key, json);

      const getMany = async (keysWanted: readonly string[]): Promise<(V | undefined)[]> => {
        if (!Array.isArray(keysWanted) || keysWanted.some((k) => typeof k !== 'string')) {
          throw new ChronicleError('INVALID_ARGUMENT', `table ${table}: row keys must be strings`, { details: { table } });
        }
        const reply = (await call(`reading ${projection}.${table}`, () =>
          READ_ROWS.run(client, [record], [base, table, ...keysWanted]),
        )) as [string, ...(string | null)[]] | null;
        if (reply === null) throw noTables(projection);
        return keysWanted.map((k, i) => decode(k, reply[i + 1] ?? null));
      };

      return {
        async get(key) {
          return (await getMany([key]))[0];
        },
        getMany,
        async size() {
          const reply = (await call(`counting ${projection}.${table}`, () => COUNT_ROWS.run(client, [record], [base, table]))) as
            | [string, number]
            | null;
          if (reply === null) throw noTables(projection);
          return reply[1];
        },
        async *entries(options = {}) {
          const count = options.count ?? DEFAULT_SCAN_COUNT;
          if (!Number.isSafeInteger(count) || count < 1 || count > MAX_SCAN_COUNT) {
            throw new ChronicleError('INVALID_ARGUMENT', `entries: count must be an integer from 1 to ${MAX_SCAN_COUNT}`);
          }
          // HSCAN may return a key twice (when the hash is resized meanwhile); each is yielded once.
          const yielded = new Set<string>();
          let generation: string | undefined;
          let cursor = '0';
          do {
            const reply = (await call(`scanning ${projection}.${table}`, () =>
              SCAN_ROWS.run(client, [record], [base, table, cursor, String(count)]),
            )) as [string, string, string[]] | null;
            if (reply === null) throw noTables(projection);
            const [served, next, flat] = reply;
            generation ??= served;
            if (served !== generation) {
              throw new ChronicleError(
                'CONCURRENCY_CONFLICT',
                `projection ${projection}: generation ${served} was swapped in while ${table} was being scanned in ${generation}; scan again`,
                { details: { projection, table, generation: Number(generation), served: Number(served) } },
              );
            }
            for (let i = 0; i < flat.length; i += 2) {
              const key = flat[i];
              if (yielded.has(key)) continue;
              yielded.add(key);
              yield [key, parse<V>(projection, table, key, flat[i + 1])];
            }
            cursor = next;
          } while (cursor !== '0');
        },
      };
    },
  };
}
