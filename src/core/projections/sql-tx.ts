// The SQL a projection writes with, portable across the SQL read stores (SQLite, PostgreSQL). A handler written
// against these types runs on either store: it awaits every call (SQLite answers at once, PostgreSQL over the wire)
// and keeps to the SQL both engines share.

/** What a parameter may be: bound as the matching SQL type (bigint for integers past 2^53, boolean as 0/1 or bool). */
export type SqlValue = string | number | bigint | boolean | null;

/** Which engine runs the statements, for the rare statement the two spell differently. */
export type SqlDialect = 'sqlite' | 'postgres';

/**
 * What a portable projection handler writes with, inside the batch's transaction. Placeholders are positional `?`
 * on every dialect (a store translates them). Integers come back as numbers while they are safe integers; past
 * 2^53 a store returns them as strings rather than rounding.
 */
export interface SqlReadTx {
  readonly dialect: SqlDialect;
  /** Runs a statement that returns no rows. A store may defer it until the next read or the commit. */
  run(sql: string, params?: readonly SqlValue[]): unknown;
  get<T = Record<string, unknown>>(sql: string, params?: readonly SqlValue[]): T | undefined | Promise<T | undefined>;
  all<T = Record<string, unknown>>(sql: string, params?: readonly SqlValue[]): T[] | Promise<T[]>;
  /** The quoted physical name of a logical table (or index) in the generation being written. */
  table(name: string): string;
}

/** What a portable query handler reads a projection's served generation with (read-only statements). */
export interface SqlReader {
  readonly dialect: SqlDialect;
  get<T = Record<string, unknown>>(sql: string, params?: readonly SqlValue[]): T | undefined | Promise<T | undefined>;
  all<T = Record<string, unknown>>(sql: string, params?: readonly SqlValue[]): T[] | Promise<T[]>;
  /** @throws NOT_FOUND before the projection's first generation exists */
  table(name: string): string;
}
