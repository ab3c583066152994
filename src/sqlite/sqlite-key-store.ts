// Crypto-shredding keys in a SQLite file, by default the event store's own: one row per subject, deleted by forget.
// The connection runs with secure_delete, so a deleted key's bytes are overwritten in the file, and forget
// checkpoints and truncates the WAL, so no older copy of the page holding the key stays in the -wal file.
import type Database from 'better-sqlite3';
import {
  assertSubject,
  assertSubjects,
  ChronicleError,
  newSubjectKey,
  type SubjectKey,
  type SubjectKeyStore,
} from 'chronicle-es';
import { openDatabase } from './open-database.js';
import { prepareStatement } from './prepared-statement.js';
import { storeError } from './sqlite-error.js';

/** Options of createSqliteKeyStore. */
export type SqliteKeyStoreOptions = {
  /** Database file, usually the event store's (`store.path`); created if missing. */
  path: string;
  /** How long a write waits for another connection holding the file's write lock. Default 5000 ms. */
  busyTimeoutMs?: number;
};

const CREATE = `CREATE TABLE IF NOT EXISTS subject_keys (
  subject TEXT PRIMARY KEY,
  key_id TEXT NOT NULL,
  key BLOB NOT NULL
) WITHOUT ROWID`;

// SQLite limits bound parameters per statement; lookups go in chunks.
const CHUNK = 200;

/**
 * Opens the key store in the SQLite file at `options.path` (its table is created on first open; the event store's
 * migrations are untouched). Keys are created durably (synchronous FULL) before an event using them is written.
 * @throws INVALID_ARGUMENT bad options; STORE_ERROR when the file cannot be opened
 */
export function createSqliteKeyStore(options: SqliteKeyStoreOptions): SubjectKeyStore {
  const { path, busyTimeoutMs = 5000 } = options ?? ({} as SqliteKeyStoreOptions);
  const db: Database.Database = openDatabase({
    path,
    synchronous: 'full',
    allowed: ['full'],
    busyTimeoutMs,
    migrate: (d) => {
      d.pragma('secure_delete = ON');
      d.exec(CREATE);
    },
  });
  let closed = false;
  const open = () => {
    if (closed) throw new ChronicleError('CLOSED', 'key store is closed');
  };
  const insert = prepareStatement<never>(
    db,
    'INSERT INTO subject_keys (subject, key_id, key) VALUES (?, ?, ?) ON CONFLICT DO NOTHING',
    'rows',
  );
  const remove = db.prepare('DELETE FROM subject_keys WHERE subject = ?');
  const selects = new Map<number, ReturnType<typeof prepareStatement<[string, string, Buffer]>>>();
  const select = (count: number) => {
    let statement = selects.get(count);
    if (statement === undefined) {
      statement = prepareStatement<[string, string, Buffer]>(
        db,
        `SELECT subject, key_id, key FROM subject_keys WHERE subject IN (${Array(count).fill('?').join(', ')})`,
        'raw',
      );
      selects.set(count, statement);
    }
    return statement;
  };
  const find = (subjects: readonly string[]): Map<string, SubjectKey> => {
    const found = new Map<string, SubjectKey>();
    const distinct = [...new Set(subjects)];
    for (let i = 0; i < distinct.length; i += CHUNK) {
      const chunk = distinct.slice(i, i + CHUNK);
      for (const [subject, id, key] of select(chunk.length).all(...chunk)) found.set(subject, { id, key: new Uint8Array(key) });
    }
    return found;
  };
  // Insert-if-absent then read, in one write transaction: concurrent creators (other connections, other processes)
  // all read the one row that won.
  const create = db.transaction((subjects: readonly string[]) => {
    for (const subject of new Set(subjects)) {
      const fresh = newSubjectKey();
      insert.run(subject, fresh.id, Buffer.from(fresh.key));
    }
    return find(subjects);
  });
  return {
    async keysFor(subjects) {
      open();
      assertSubjects(subjects);
      if (subjects.length === 0) return new Map();
      const known = find(subjects);
      if (known.size === new Set(subjects).size) return known;
      try {
        return create.immediate(subjects);
      } catch (err) {
        throw storeError(err, 'create subject keys');
      }
    },
    async findKeys(subjects) {
      open();
      assertSubjects(subjects);
      return find(subjects);
    },
    async forget(subject) {
      open();
      assertSubject(subject);
      let deleted: boolean;
      try {
        deleted = remove.run(subject).changes > 0;
      } catch (err) {
        throw storeError(err, 'DELETE FROM subject_keys');
      }
      if (deleted) {
        // The WAL still holds the page as it was before the delete (with the key) until a checkpoint overwrites it.
        // A reader in another connection can keep the checkpoint from finishing; the next forget tries again.
        try {
          db.pragma('wal_checkpoint(TRUNCATE)');
        } catch (err) {
          throw storeError(err, 'PRAGMA wal_checkpoint(TRUNCATE)');
        }
      }
      return deleted;
    },
    async close() {
      if (closed) return;
      closed = true;
      db.close();
    },
  };
}
