// A process manager's state: one JSON value per correlation key, in a table of the process's own projection
// generation, so it commits (and rolls back) with the checkpoint. Written once for every read store with a `table()`:
// the SQL stores (a two-column table made in setup), the in-memory store (a Map-like table) and Redis (a hash with
// async reads, `getMany` in one round trip).
import { ChronicleError } from '../errors.js';
import { isThenable } from './process-step.js';

/** The logical table holding a process manager's state, one row per correlation key. */
export const PROCESS_STATE_TABLE = 'state';

/** Loads and saves the states of one batch. */
export interface ProcessStateTable {
  /** The stored states of `keys` as JSON (missing keys absent from the map). @throws STORE_ERROR, READ_STORE_CORRUPT */
  load(keys: readonly string[]): Promise<Map<string, string>>;
  /** Writes `changes` (null deletes a key) into the batch's transaction. @throws STORE_ERROR */
  save(changes: ReadonlyMap<string, string | null>): Promise<void>;
}

type SqlTx = {
  dialect: 'sqlite' | 'postgres';
  run(sql: string, params?: readonly unknown[]): unknown;
  get(sql: string, params?: readonly unknown[]): unknown;
  all(sql: string, params?: readonly unknown[]): unknown;
  table(name: string): string;
};
type KeyValueTable = {
  get(key: string): unknown;
  getMany?(keys: readonly string[]): Promise<unknown[]>;
  set(key: string, value: unknown): unknown;
  delete(key: string): unknown;
};

const isSql = (tx: unknown): tx is SqlTx => {
  const dialect = (tx as { dialect?: unknown } | null)?.dialect;
  return dialect === 'sqlite' || dialect === 'postgres';
};

const unsupported = (what: string) =>
  new ChronicleError(
    'INVALID_ARGUMENT',
    `process manager ${what}: its read store must give tables (tx.table()): SQLite, PostgreSQL, in-memory or Redis`,
  );

/** Creates the state table in a fresh generation (SQL stores; the others need none). @throws INVALID_ARGUMENT unsupported store */
export function setupProcessState(tx: unknown, what: string): unknown {
  if (isSql(tx)) {
    return tx.run(`CREATE TABLE ${tx.table(PROCESS_STATE_TABLE)} (id TEXT PRIMARY KEY, data TEXT NOT NULL)`);
  }
  if (typeof (tx as { table?: unknown } | null)?.table !== 'function') throw unsupported(what);
  return undefined;
}

// PostgreSQL answers a read per round trip: keys are loaded in chunks of this many per statement.
const KEYS_PER_READ = 500;

/** The state table of the batch `tx` writes. @throws INVALID_ARGUMENT unsupported store */
export function processStateTable(tx: unknown, what: string): ProcessStateTable {
  if (isSql(tx)) return sqlState(tx);
  if (typeof (tx as { table?: unknown } | null)?.table !== 'function') throw unsupported(what);
  const table = (tx as { table(name: string): KeyValueTable }).table(PROCESS_STATE_TABLE);
  return {
    async load(keys) {
      const found = new Map<string, string>();
      // Rows are the JSON value itself (Redis encodes it; in memory it is the parsed JSON), so both stay readable.
      const values = table.getMany ? await table.getMany(keys) : keys.map((k) => table.get(k));
      for (let i = 0; i < keys.length; i++) {
        const value = isThenable(values[i]) ? await values[i] : values[i];
        if (value !== undefined) found.set(keys[i], JSON.stringify(value));
      }
      return found;
    },
    async save(changes) {
      for (const [key, json] of changes) {
        const done = json === null ? table.delete(key) : table.set(key, JSON.parse(json));
        if (isThenable(done)) await done;
      }
    },
  };
}

function sqlState(tx: SqlTx): ProcessStateTable {
  const name = tx.table(PROCESS_STATE_TABLE);
  const settle = async (result: unknown) => {
    if (isThenable(result)) await result;
  };
  return {
    async load(keys) {
      const found = new Map<string, string>();
      if (tx.dialect === 'sqlite') {
        // Synchronous and prepared once: a statement per key costs less than a new statement per batch size.
        for (const key of keys) {
          const row = tx.get(`SELECT data FROM ${name} WHERE id = ?`, [key]) as { data: string } | undefined;
          if (row) found.set(key, row.data);
        }
        return found;
      }
      for (let from = 0; from < keys.length; from += KEYS_PER_READ) {
        const chunk = keys.slice(from, from + KEYS_PER_READ);
        const rows = await tx.all(`SELECT id, data FROM ${name} WHERE id IN (${chunk.map(() => '?').join(', ')})`, chunk);
        for (const row of rows as { id: string; data: string }[]) found.set(row.id, row.data);
      }
      return found;
    },
    async save(changes) {
      for (const [key, json] of changes) {
        await settle(
          json === null
            ? tx.run(`DELETE FROM ${name} WHERE id = ?`, [key])
            : tx.run(`INSERT INTO ${name} (id, data) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET data = excluded.data`, [
                key,
                json,
              ]),
        );
      }
    },
  };
}
