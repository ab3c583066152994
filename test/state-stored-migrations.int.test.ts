// The migration runner for state-stored write tables, on SQLite and PostgreSQL: files in name order, each in one
// transaction with its record and checksum; a changed file refused; a failing file rolled back; concurrent runners
// (PostgreSQL: several pools at once) apply each file once.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  andThen,
  type EventStore,
  isChronicleError,
  runMigrations,
  type SqlMigration,
  type StateStoredStore,
  sqlMigrationsIn,
  type WriteTx,
} from 'chronicle-es';
import { createPostgresEventStore } from 'chronicle-es/postgres';
import { createSqliteEventStore } from 'chronicle-es/sqlite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshSchema, PG_URL, pgAvailable } from './support/postgres.js';

type Store = EventStore & StateStoredStore<WriteTx>;

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'chronicle-migrations-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function rows<T>(store: Store, sql: string): Promise<T[]> {
  let found: T[] = [];
  await store.transact((tx) =>
    andThen(tx.all<T>(sql), (all) => {
      found = all;
      return [];
    }),
  );
  return found;
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isChronicleError(err), String(err)).toBe(true);
  return (err as { code: string }).code;
}

type Target = { name: string; open: () => Store; qualify: (t: string) => string; cleanup: () => Promise<void> };

function sqliteTarget(): Target {
  let n = 0;
  let path = '';
  return {
    name: 'sqlite',
    open: () => {
      path ||= join(dir, `m-${++n}-${Date.now()}.db`);
      return createSqliteEventStore({ path });
    },
    qualify: (t) => t,
    cleanup: async () => {},
  };
}

function pgTarget(): Target {
  const fresh = freshSchema('migrate');
  return {
    name: 'postgres',
    open: () => createPostgresEventStore({ connectionString: PG_URL, schema: fresh.schema, poolSize: 2 }),
    qualify: (t) => `"${fresh.schema}".${t}`,
    cleanup: () => fresh.drop(),
  };
}

const targets = [
  { make: sqliteTarget, enabled: true },
  { make: pgTarget, enabled: pgAvailable },
];

for (const { make, enabled } of targets) {
  describe.skipIf(!enabled)(`runMigrations on ${make === sqliteTarget ? 'sqlite' : 'postgres'}`, () => {
    const target = make();
    const opened: Store[] = [];
    const open = () => {
      const s = target.open();
      opened.push(s);
      return s;
    };
    afterAll(async () => {
      await Promise.all(opened.map((s) => s.close()));
      await target.cleanup();
    });

    it('applies .sql files in name order, once, records each with its checksum, and refuses a changed one', async () => {
      const store = open();
      const q = target.qualify;
      const files = await mkdtemp(join(dir, 'files-'));
      // Written out of order: the runner sorts by name.
      await writeFile(
        join(files, '002_add_email.sql'),
        `ALTER TABLE ${q('customers')} ADD COLUMN email TEXT;\n-- a comment; with a semicolon\nCREATE UNIQUE INDEX customers_email ON ${q('customers')} (email);`,
      );
      await writeFile(
        join(files, '001_customers.sql'),
        `CREATE TABLE ${q('customers')} (id TEXT PRIMARY KEY, name TEXT NOT NULL, version INTEGER NOT NULL);\nINSERT INTO ${q('customers')} (id, name, version) VALUES ('c1', 'semi;colon', 0);`,
      );
      await writeFile(join(files, 'notes.txt'), 'not a migration');
      const table = q('app_migrations');
      const first = await runMigrations({ store, migrations: await sqlMigrationsIn(files), table });
      expect(first).toEqual({ applied: ['001_customers.sql', '002_add_email.sql'], skipped: [] });
      const recorded = await rows<{ name: string; checksum: string }>(store, `SELECT name, checksum FROM ${table} ORDER BY name`);
      expect(recorded.map((r) => r.name)).toEqual(['001_customers.sql', '002_add_email.sql']);
      expect(recorded.every((r) => /^[0-9a-f]{64}$/.test(r.checksum))).toBe(true);
      expect(await rows(store, `SELECT id, name, email FROM ${q('customers')}`)).toEqual([
        { id: 'c1', name: 'semi;colon', email: null },
      ]);

      // Again: nothing runs (the CREATE TABLE would fail if it did). A new file runs alone.
      await writeFile(join(files, '003_more.sql'), `INSERT INTO ${q('customers')} (id, name, version) VALUES ('c2', 'b', 0)`);
      const second = await runMigrations({ store, migrations: await sqlMigrationsIn(files), table });
      expect(second).toEqual({ applied: ['003_more.sql'], skipped: ['001_customers.sql', '002_add_email.sql'] });

      // An applied file edited: refused, and nothing after it runs.
      await writeFile(join(files, '001_customers.sql'), 'SELECT 1');
      await writeFile(join(files, '004_never.sql'), `INSERT INTO ${q('customers')} (id, name, version) VALUES ('c4', 'x', 0)`);
      expect(await codeOf(runMigrations({ store, migrations: await sqlMigrationsIn(files), table }))).toBe('INVALID_ARGUMENT');
      expect((await rows(store, `SELECT id FROM ${q('customers')} ORDER BY id`)).length).toBe(2);
    });

    it('a failing file is rolled back entirely and stops the run; the files before it stay applied', async () => {
      const store = open();
      const q = target.qualify;
      const table = q('m_fail');
      const migrations: SqlMigration[] = [
        { name: '1', sql: `CREATE TABLE ${q('t_fail')} (n INTEGER PRIMARY KEY)` },
        { name: '2', sql: `INSERT INTO ${q('t_fail')} (n) VALUES (1); INSERT INTO ${q('t_fail')} (n) VALUES (1)` },
        { name: '3', sql: `INSERT INTO ${q('t_fail')} (n) VALUES (3)` },
      ];
      const err = await runMigrations({ store, migrations, table }).catch((e: unknown) => e);
      expect(isChronicleError(err, 'STORE_ERROR')).toBe(true);
      expect((err as { details: { migration: string; statement: number } }).details).toMatchObject({
        migration: '2',
        statement: 2,
      });
      expect(await rows(store, `SELECT n FROM ${q('t_fail')}`)).toEqual([]);
      expect(await rows(store, `SELECT name FROM ${table}`)).toEqual([{ name: '1' }]);
    });

    it('refuses bad input before running anything', async () => {
      const store = open();
      expect(await codeOf(runMigrations({ store, migrations: [{ name: '../x', sql: '' }] }))).toBe('INVALID_ARGUMENT');
      expect(
        await codeOf(
          runMigrations({
            store,
            migrations: [
              { name: 'a', sql: '' },
              { name: 'a', sql: '' },
            ],
          }),
        ),
      ).toBe('INVALID_ARGUMENT');
      expect(await codeOf(runMigrations({ store, migrations: [], table: 'x; DROP TABLE y' }))).toBe('INVALID_ARGUMENT');
      expect(await codeOf(sqlMigrationsIn(join(dir, 'no-such-dir')))).toBe('STORE_ERROR');
    });

    it('concurrent runners apply each file exactly once', async () => {
      const q = target.qualify;
      const table = q('m_race');
      const migrations: SqlMigration[] = [
        // Not IF NOT EXISTS: a second application fails the run.
        { name: '1', sql: `CREATE TABLE ${q('t_race')} (n INTEGER NOT NULL)` },
        ...Array.from({ length: 5 }, (_, i) => ({ name: `${i + 2}`, sql: `INSERT INTO ${q('t_race')} (n) VALUES (${i + 2})` })),
      ];
      const stores = Array.from({ length: 4 }, open);
      const results = await Promise.all(stores.map((store) => runMigrations({ store, migrations, table })));
      const applied = results.flatMap((r) => r.applied).sort();
      expect(applied).toEqual(migrations.map((m) => m.name).sort());
      for (const r of results) expect([...r.applied, ...r.skipped].sort()).toEqual(applied);
      expect((await rows<{ n: number }>(stores[0], `SELECT n FROM ${q('t_race')} ORDER BY n`)).map((r) => Number(r.n))).toEqual([
        2, 3, 4, 5, 6,
      ]);
    });
  });
}
