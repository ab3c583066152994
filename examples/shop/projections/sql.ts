// The few SQL spellings the Shop's read models need on both read stores (SQLite and PostgreSQL).
import type { SqlReadTx } from 'chronicle-es';

/**
 * TEXT that compares and sorts byte by byte on both engines: SQLite's default (BINARY), PostgreSQL's "C" collation.
 * The server's default collation (en_US and friends) would order names and cursors differently from SQLite.
 */
export const text = (tx: SqlReadTx): string => (tx.dialect === 'postgres' ? 'TEXT COLLATE "C"' : 'TEXT');

/** Runs a generation's DDL, in order, inside its transaction (both stores await an async `setup`). */
export async function createTables(tx: SqlReadTx, statements: readonly string[]): Promise<void> {
  for (const sql of statements) await tx.run(sql);
}

/**
 * A LIKE pattern matching `needle` anywhere, its own `%`, `_` and `!` taken literally, for `LIKE ? ESCAPE '!'` (not a
 * backslash, which string literals of the two engines, and placeholder translation, could read differently).
 */
export const containing = (needle: string): string => `%${needle.replace(/[!%_]/g, (c) => `!${c}`)}%`;
