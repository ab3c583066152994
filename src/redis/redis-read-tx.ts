// What Redis projection handlers write with: tables of JSON rows whose writes are buffered in the batch and sent with
// its checkpoint in one script, and whose reads see the batch's own writes first.
import { assertReadModelName, ChronicleError } from 'chronicle-es';
import { parseStored } from './redis-error.js';

/**
 * One logical table of the generation being written: rows of JSON under string keys (a Redis hash). Reads see the
 * batch's own writes; writes reach Redis only when the batch commits, all of them with its checkpoint, or none.
 */
export interface RedisTable<V = unknown> {
  /** The row at `key`, or undefined: the batch's own write if it made one, else the committed row. @throws INVALID_ARGUMENT key not a string; STORE_ERROR */
  get(key: string): Promise<V | undefined>;
  /** The rows at `keys`, in their order, in one round trip. @throws INVALID_ARGUMENT key not a string; STORE_ERROR */
  getMany(keys: readonly string[]): Promise<(V | undefined)[]>;
  /** Whether a row is at `key`. @throws INVALID_ARGUMENT key not a string; STORE_ERROR */
  has(key: string): Promise<boolean>;
  /**
   * Sets the row at `key`. The value is encoded as JSON now, so changing the object afterwards changes nothing, and
   * it reads back as JSON does (a Date as its string, undefined fields gone).
   * @throws INVALID_ARGUMENT key not a string, or the value has no JSON form (undefined, a function, a BigInt, a cycle)
   */
  set(key: string, value: V): void;
  /** Deletes the row at `key` (nothing happens if there is none). @throws INVALID_ARGUMENT key not a string */
  delete(key: string): void;
}

/** What a Redis projection's handlers (and its setup) get: the tables of the generation being written. */
export interface RedisReadTx {
  /** The table `name` of this generation; tables need no creating, an unwritten one is empty. @throws INVALID_ARGUMENT bad name; CLOSED after the batch ended */
  table<V = unknown>(name: string): RedisTable<V>;
}

/** Reads committed fields of one hash; null where a field is missing. */
export type FetchFields = (key: string, fields: readonly string[]) => Promise<(string | null)[]>;

/** What a batch writes into one table: `sets` alternates field and JSON value. */
export type TableWrites = { name: string; key: string; sets: string[]; dels: string[] };

const DELETED: unique symbol = Symbol('deleted');

const assertKey = (table: string, key: unknown): void => {
  if (typeof key !== 'string') {
    throw new ChronicleError('INVALID_ARGUMENT', `table ${table}: a row key must be a string; got ${typeof key}`, {
      details: { table },
    });
  }
};

function encode(table: string, key: string, value: unknown): string {
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch (err) {
    throw new ChronicleError('INVALID_ARGUMENT', `table ${table}: row ${JSON.stringify(key)} cannot be written as JSON`, {
      cause: err,
      details: { table, key },
    });
  }
  if (json === undefined) {
    throw new ChronicleError(
      'INVALID_ARGUMENT',
      `table ${table}: row ${JSON.stringify(key)} has no JSON form (${typeof value})`,
      {
        details: { table, key },
      },
    );
  }
  return json;
}

const decode = <V>(table: string, key: string, json: string): V =>
  parseStored<V>(json, `table ${table}: row ${JSON.stringify(key)}`, { table, key });

class BatchTable<V> implements RedisTable<V> {
  // The batch's writes: JSON, or DELETED.
  private readonly writes = new Map<string, string | typeof DELETED>();
  // Committed rows already read (null: none). They stay valid for the whole batch: the commit is refused if another
  // batch committed to this generation after the batch began.
  private readonly seen = new Map<string, string | null>();

  constructor(
    readonly name: string,
    readonly key: string,
    private readonly fetch: FetchFields,
    private readonly assertLive: () => void,
  ) {}

  async get(key: string): Promise<V | undefined> {
    return (await this.getMany([key]))[0];
  }

  async getMany(keys: readonly string[]): Promise<(V | undefined)[]> {
    this.assertLive();
    if (!Array.isArray(keys)) throw new ChronicleError('INVALID_ARGUMENT', `table ${this.name}: getMany takes an array of keys`);
    for (const key of keys) assertKey(this.name, key);
    const missing = [...new Set(keys.filter((k) => !this.writes.has(k) && !this.seen.has(k)))];
    if (missing.length > 0) {
      const values = await this.fetch(this.key, missing);
      missing.forEach((k, i) => {
        if (!this.seen.has(k)) this.seen.set(k, values[i] ?? null);
      });
    }
    // Looked up after the fetch: a write made while it was under way is the newer value.
    return keys.map((k) => {
      const json = this.writes.has(k) ? this.writes.get(k) : this.seen.get(k);
      return json === DELETED || json === null || json === undefined ? undefined : decode<V>(this.name, k, json);
    });
  }

  async has(key: string): Promise<boolean> {
    this.assertLive();
    assertKey(this.name, key);
    if (this.writes.has(key)) return this.writes.get(key) !== DELETED;
    if (!this.seen.has(key)) {
      const [value] = await this.fetch(this.key, [key]);
      if (!this.seen.has(key)) this.seen.set(key, value ?? null);
    }
    if (this.writes.has(key)) return this.writes.get(key) !== DELETED;
    return this.seen.get(key) !== null;
  }

  set(key: string, value: V): void {
    this.assertLive();
    assertKey(this.name, key);
    this.writes.set(key, encode(this.name, key, value));
  }

  delete(key: string): void {
    this.assertLive();
    assertKey(this.name, key);
    this.writes.set(key, DELETED);
  }

  planned(): TableWrites | undefined {
    if (this.writes.size === 0) return undefined;
    const sets: string[] = [];
    const dels: string[] = [];
    for (const [key, json] of this.writes) {
      if (json === DELETED) dels.push(key);
      else sets.push(key, json);
    }
    return { name: this.name, key: this.key, sets, dels };
  }
}

/**
 * The tables one batch (or a generation's setup) writes. The store creates one per apply, hands it to the work, and
 * ends it to collect the writes for its commit script; once ended it refuses every call.
 */
export class RedisBatch implements RedisReadTx {
  private readonly tables = new Map<string, BatchTable<any>>();
  private ended = false;
  private readonly assertLive = () => {
    if (this.ended) throw new ChronicleError('CLOSED', 'the batch this table belongs to has ended');
  };

  constructor(
    private readonly keyOf: (table: string) => string,
    private readonly fetch: FetchFields,
  ) {}

  table<V = unknown>(name: string): RedisTable<V> {
    this.assertLive();
    let table = this.tables.get(name);
    if (!table) {
      assertReadModelName('table', name);
      table = new BatchTable<V>(name, this.keyOf(name), this.fetch, this.assertLive);
      this.tables.set(name, table);
    }
    return table as RedisTable<V>;
  }

  /** Ends the batch and returns what it writes, table by table (tables it only read are left out). */
  end(): TableWrites[] {
    this.ended = true;
    const writes: TableWrites[] = [];
    for (const table of this.tables.values()) {
      const planned = table.planned();
      if (planned) writes.push(planned);
    }
    return writes;
  }
}
