// Crypto-shredding keys in PostgreSQL, by default in the event store's schema: one row per subject, deleted by forget.
// Its table is a migration component of its own ('subject_keys'), applied on first use. A deleted row stays in the
// table's pages until VACUUM reclaims them: run VACUUM on the table after forgetting, where that matters.
import {
  assertSubject,
  assertSubjects,
  ChronicleError,
  newSubjectKey,
  type SubjectKey,
  type SubjectKeyStore,
} from 'chronicle-es';
import { openConnection, type PostgresConnectionOptions } from './connection.js';
import { migrate } from './migrate.js';
import { storeError } from './pg-error.js';

/** Options of createPostgresKeyStore: the event store's connection options (same schema by default). */
export type PostgresKeyStoreOptions = PostgresConnectionOptions;

const MIGRATIONS = [
  {
    version: 1,
    name: 'subject_keys: one data key per subject (crypto-shredding)',
    sql: (s: string) => `CREATE TABLE ${s}.subject_keys (
      subject text PRIMARY KEY,
      key_id text NOT NULL,
      key bytea NOT NULL
    )`,
  },
];

/**
 * The key store in the given schema (default `chronicle`, the event store's).
 * @throws INVALID_ARGUMENT bad connection options
 */
export function createPostgresKeyStore(options: PostgresKeyStoreOptions): SubjectKeyStore {
  const connection = openConnection({ poolSize: 2, ...options }, 'key store');
  const { pool, schema: s, schemaName } = connection;
  let closed = false;
  let ready: Promise<void> | undefined;
  const migrated = (): Promise<void> => {
    ready ??= migrate(connection, 'subject_keys', MIGRATIONS).catch((err) => {
      ready = undefined;
      throw err;
    });
    return ready;
  };
  async function query(text: string, values: unknown[], what: string, name: string) {
    if (closed) throw new ChronicleError('CLOSED', 'key store is closed');
    await migrated();
    try {
      return await pool.query({ text, values, rowMode: 'array', name: `${name}_${schemaName}` });
    } catch (err) {
      throw storeError(err, what);
    }
  }
  const toMap = (rows: unknown[][]) =>
    new Map<string, SubjectKey>(
      rows.map(([subject, id, key]) => [subject as string, { id: id as string, key: new Uint8Array(key as Buffer) }]),
    );
  const select = `SELECT subject, key_id, key FROM ${s}.subject_keys WHERE subject = ANY($1::text[])`;
  // Insert-if-absent, then read back in a statement of its own: an insert racing ours for one subject makes ours wait
  // for it and then do nothing, and the read (a new snapshot) sees the row that won.
  const upsert = `INSERT INTO ${s}.subject_keys (subject, key_id, key)
    SELECT * FROM unnest($1::text[], $2::text[], $3::bytea[]) ON CONFLICT (subject) DO NOTHING`;
  return {
    async keysFor(subjects) {
      if (closed) throw new ChronicleError('CLOSED', 'key store is closed');
      assertSubjects(subjects);
      const distinct = [...new Set(subjects)];
      if (distinct.length === 0) return new Map();
      const found = toMap((await query(select, [distinct], 'find subject keys', 'chronicle_keys_find')).rows);
      const missing = distinct.filter((subject) => !found.has(subject));
      if (missing.length === 0) return found;
      const fresh = missing.map(() => newSubjectKey());
      await query(
        upsert,
        [missing, fresh.map((k) => k.id), fresh.map((k) => Buffer.from(k.key))],
        'create subject keys',
        'chronicle_keys_create',
      );
      for (const [subject, key] of toMap((await query(select, [missing], 'find subject keys', 'chronicle_keys_find')).rows)) {
        found.set(subject, key);
      }
      return found;
    },
    async findKeys(subjects) {
      if (closed) throw new ChronicleError('CLOSED', 'key store is closed');
      assertSubjects(subjects);
      if (subjects.length === 0) return new Map();
      return toMap((await query(select, [[...new Set(subjects)]], 'find subject keys', 'chronicle_keys_find')).rows);
    },
    async forget(subject) {
      if (closed) throw new ChronicleError('CLOSED', 'key store is closed');
      assertSubject(subject);
      const result = await query(
        `DELETE FROM ${s}.subject_keys WHERE subject = $1`,
        [subject],
        'forget subject key',
        'chronicle_keys_forget',
      );
      return (result.rowCount ?? 0) > 0;
    },
    async close() {
      if (closed) return;
      closed = true;
      await connection.end();
    },
  };
}
