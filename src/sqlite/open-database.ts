// Opens a SQLite file the way every Chronicle store wants it: checked options, WAL, a busy timeout, migrated.
import Database from 'better-sqlite3';
import { ChronicleError } from 'chronicle-es';
import { storeError } from './sqlite-error.js';

export type Synchronous = 'full' | 'normal' | 'off';

export type OpenDatabaseOptions = {
  path: string;
  synchronous: Synchronous;
  /** The levels this store accepts (the event store refuses 'off': an acknowledged append must survive kill -9). */
  allowed: readonly Synchronous[];
  busyTimeoutMs: number;
  migrate: (db: Database.Database) => void;
  /** How driver errors become ChronicleErrors; default {@link storeError}. */
  translate?: (err: unknown, sql: string) => ChronicleError;
};

/**
 * Validates the options, opens the file in WAL mode and migrates it.
 * @throws INVALID_ARGUMENT bad options; STORE_ERROR (or what `translate` makes of it) when the file cannot be opened or migrated
 */
export function openDatabase(options: OpenDatabaseOptions): Database.Database {
  const { path, synchronous, allowed, busyTimeoutMs, migrate, translate = storeError } = options;
  if (typeof path !== 'string' || path.length === 0) {
    throw new ChronicleError('INVALID_ARGUMENT', 'path must be a non-empty string');
  }
  if (!allowed.includes(synchronous)) {
    throw new ChronicleError(
      'INVALID_ARGUMENT',
      `synchronous must be ${allowed.map((s) => `'${s}'`).join(' or ')}, got ${JSON.stringify(synchronous)}`,
    );
  }
  if (!Number.isSafeInteger(busyTimeoutMs) || busyTimeoutMs < 0) {
    throw new ChronicleError('INVALID_ARGUMENT', 'busyTimeoutMs must be a non-negative integer');
  }
  let db: Database.Database;
  try {
    db = new Database(path, { timeout: busyTimeoutMs });
  } catch (err) {
    throw translate(err, `open ${path}`);
  }
  try {
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${synchronous.toUpperCase()}`);
    migrate(db);
  } catch (err) {
    db.close();
    throw translate(err, 'PRAGMA / migration');
  }
  return db;
}
