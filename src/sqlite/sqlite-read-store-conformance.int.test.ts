// The read-store conformance suite against the SQLite read store on a file, shared by two stores for the race cases.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeReadStoreConformance } from 'chronicle-es/testing';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { createSqliteReadStore, type SqliteReader, type SqliteReadStore, type SqliteReadTx } from './sqlite-read-store.js';

const dir = mkdtempSync(join(tmpdir(), 'chronicle-read-conformance-'));
let files = 0;
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describeReadStoreConformance<SqliteReadTx, SqliteReader>(
  'sqlite (file)',
  {
    control: true,
    create: () => createSqliteReadStore({ path: join(dir, `read-${++files}.db`) }),
    share: (store) => createSqliteReadStore({ path: (store as SqliteReadStore).path }),
    createTable: (tx, table) => tx.run(`CREATE TABLE ${tx.table(table)} (k TEXT PRIMARY KEY, v INTEGER NOT NULL)`),
    write: (tx, table, key, value) =>
      tx.run(`INSERT INTO ${tx.table(table)} (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v`, [key, value]),
    read: (reader, table) =>
      Object.fromEntries(reader.all<{ k: string; v: number }>(`SELECT k, v FROM ${reader.table(table)}`).map((r) => [r.k, r.v])),
  },
  { describe, it, beforeAll, afterAll },
);
