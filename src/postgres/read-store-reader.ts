// Query-side reads of a PostgreSQL read store. `table()` must answer synchronously, so the active generation of each
// projection is cached; a swap (by this store or another process) drops the old generation's tables in its own
// transaction, so a read that names them fails with undefined_table once the swap commits — never serving stale
// rows — and is then renamed to the new generation and run again.
import { assertReadModelName, ChronicleError, type SqlReader, type SqlValue } from 'chronicle-es';
import type pg from 'pg';
import { types } from './connection.js';
import { sqlState, storeError } from './pg-error.js';
import { physicalTable } from './read-store-schema.js';
import { literals, renameGenerations, type Translation } from './read-store-sql.js';
import { compose, resultAt, resync, sessionOf } from './read-store-statements.js';
import { failureOf } from './read-store-tx.js';

/**
 * What query handlers read a projection's served generation with: read-only statements (each runs in a READ ONLY
 * transaction), `?` placeholders. Rows as in {@link PostgresReadTx}.
 */
export interface PostgresReader extends SqlReader {
  readonly dialect: 'postgres';
  get<T = Record<string, unknown>>(sql: string, params?: readonly SqlValue[]): Promise<T | undefined>;
  all<T = Record<string, unknown>>(sql: string, params?: readonly SqlValue[]): Promise<T[]>;
  /**
   * The schema-qualified name of a table of the served generation, e.g. `"chronicle"."orders__items__g3"`. Resolved
   * from the store's cache: a name handed out before a swap elsewhere is renamed when this reader runs it, and the
   * next `table()` after that answers the new one. Before this store knows of a generation it answers a `g0`
   * placeholder that the read resolves; a read of a projection that has no tables yet rejects with NOT_FOUND.
   * @throws INVALID_ARGUMENT bad name, CLOSED
   */
  table(name: string): string;
}

const UNDEFINED_TABLE = '42P01';

/** The active generation of each projection, as far as this process knows; only generations that exist are kept. */
export class Generations {
  private readonly known = new Map<string, number>();

  constructor(
    private readonly pool: pg.Pool,
    private readonly schema: string,
  ) {}

  get(projection: string): number | undefined {
    return this.known.get(projection);
  }

  set(projection: string, generation: number): void {
    if (generation > 0) this.known.set(projection, generation);
    else this.known.delete(projection);
  }

  /** Reads the active generations of `projections` from the store. */
  async load(projections: readonly string[]): Promise<void> {
    let rows: { name: string; generation: number }[];
    try {
      ({ rows } = await this.pool.query<{ name: string; generation: number }>({
        text: `SELECT name, generation FROM ${this.schema}.chronicle_projections WHERE name = ANY($1)`,
        values: [projections],
        types,
      }));
    } catch (err) {
      throw storeError(err, 'reading active generations');
    }
    for (const name of projections) this.known.delete(name);
    for (const row of rows) this.set(row.name, row.generation);
  }

  /** The statement with every projection table it names in that projection's known generation. */
  renamed(sql: string, translation: Translation, translate: (sql: string) => Translation): Translation {
    const stale = translation.tables.some((t) => this.known.get(t.projection) !== t.generation);
    return stale ? translate(renameGenerations(sql, this.known)) : translation;
  }
}

export type ReaderContext = {
  pool: pg.Pool;
  /** The store's quoted schema. */
  schema: string;
  generations: Generations;
  translate: (sql: string) => Translation;
  /** Runs a read once the store is open and migrated. @throws CLOSED */
  guard<T>(work: () => Promise<T>): Promise<T>;
  assertOpen(): void;
};

/** A reader of `projection`'s served generation. */
export function createReader(projection: string, context: ReaderContext): PostgresReader {
  const { pool, schema, generations, translate, guard } = context;

  async function rows(sql: string, params: readonly SqlValue[] | undefined): Promise<Record<string, unknown>[]> {
    let translation = translate(sql);
    const args = literals(sql, translation.parts.length - 1, params);
    return guard(async () => {
      const unknown = translation.tables.filter((t) => generations.get(t.projection) === undefined).map((t) => t.projection);
      if (unknown.length > 0) await generations.load(unknown);
      for (const { projection: name } of translation.tables) {
        if (generations.get(name) === undefined) {
          throw new ChronicleError('NOT_FOUND', `projection ${name} has no tables yet`, { details: { projection: name } });
        }
      }
      translation = generations.renamed(sql, translation, translate);
      try {
        return await execute(translation, args, sql);
      } catch (err) {
        if (sqlState((err as ChronicleError).cause) !== UNDEFINED_TABLE || translation.tables.length === 0) throw err;
        // Another process swapped a rebuild in since the generation was cached: read the served tables instead.
        await generations.load(translation.tables.map((t) => t.projection));
        const renamed = generations.renamed(sql, translation, translate);
        if (renamed === translation) throw err;
        return execute(renamed, args, sql);
      }
    });
  }

  // Runs one read; a statement the session no longer holds as prepared (26000: someone ran DISCARD ALL on a shared
  // pool) or whose plan no longer fits its table (0A000) is prepared again, once.
  async function execute(
    translation: Translation,
    args: readonly string[],
    sql: string,
    again = true,
  ): Promise<Record<string, unknown>[]> {
    let client: pg.PoolClient;
    try {
      client = await pool.connect();
    } catch (err) {
      throw storeError(err, 'read');
    }
    let broken: Error | undefined;
    let failure: ChronicleError | undefined;
    try {
      const session = await sessionOf(client);
      const { text, last } = compose(session, schema, ['SET TRANSACTION READ ONLY'], [{ translation, args }], []);
      try {
        const result = await client.query({ text, types });
        return resultAt(result as unknown as pg.QueryResult | pg.QueryResult[], last).rows;
      } catch (err) {
        await resync(client, session, err).catch((e: Error) => {
          broken = e;
        });
        failure = failureOf(err, sql);
      }
    } finally {
      client.release(broken);
    }
    const state = sqlState(failure.cause);
    if (again && !broken && (state === '26000' || state === '0A000')) return execute(translation, args, sql, false);
    throw failure;
  }

  return {
    dialect: 'postgres',
    get: async <T>(sql: string, params?: readonly SqlValue[]) => (await rows(sql, params))[0] as T | undefined,
    all: async <T>(sql: string, params?: readonly SqlValue[]) => (await rows(sql, params)) as T[],
    table(name) {
      context.assertOpen();
      assertReadModelName('table', name);
      return `${schema}.${physicalTable(projection, name, generations.get(projection) ?? 0)}`;
    },
  };
}
