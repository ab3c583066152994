// Crypto-shredding over the state-stored `transact` of the real SQLite and PostgreSQL stores: the events a
// transaction's work returns are stored encrypted (the raw store sees no plain value), read decrypted through the
// wrapper, redacted after forget; a subject whose key was not fetched up front is refused with nothing written; and
// withUpcasting over the wrapper passes transact through (its events stamped, still encrypted).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  andThen,
  createInMemoryEventStore,
  createInMemorySubjectKeyStore,
  defineEvent,
  type EventStore,
  FORGOTTEN,
  isChronicleError,
  personal,
  type StateStoredStore,
  type StreamLifecycle,
  type WriteTx,
  withCryptoShredding,
  withUpcasting,
} from 'chronicle-es';
import { createPostgresEventStore, createPostgresKeyStore } from 'chronicle-es/postgres';
import { createSqliteEventStore, createSqliteKeyStore } from 'chronicle-es/sqlite';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { freshSchema, PG_URL, pgAvailable } from './support/postgres.js';

const Registered = defineEvent(
  'MemberRegistered',
  z.object({ memberId: z.string(), name: personal(z.string()), plan: z.string() }),
  { subject: 'memberId', schemaVersion: 2 },
);
const catalog = [Registered];

type Store = EventStore & StateStoredStore<WriteTx> & { lifecycle: StreamLifecycle };
type Setup = { raw: Store; store: Store & { forget(subject: string): Promise<boolean> }; table: string; close(): Promise<void> };

const ends: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const end of ends.splice(0)) await end();
});

function sqliteSetup(): Setup {
  const dir = mkdtempSync(join(tmpdir(), 'shred-transact-'));
  const path = join(dir, 'events.db');
  const raw = createSqliteEventStore({ path, secureDelete: true });
  const keys = createSqliteKeyStore({ path });
  const store = withCryptoShredding(raw, { events: catalog, keys, closeKeys: true });
  const close = async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  };
  return { raw, store, table: 'members', close };
}

function postgresSetup(): Setup {
  const fresh = freshSchema('shredtx');
  const raw = createPostgresEventStore({ connectionString: PG_URL, schema: fresh.schema, poolSize: 2 });
  const keys = createPostgresKeyStore({ connectionString: PG_URL, schema: fresh.schema });
  const store = withCryptoShredding(raw, { events: catalog, keys, closeKeys: true });
  const close = async () => {
    await store.close();
    await fresh.drop();
  };
  return { raw, store, table: `"${fresh.schema}".members`, close };
}

let n = 0;
const fresh = () => `m${++n}x${Date.now().toString(36)}`;

const stores: Array<[string, () => Setup, boolean]> = [
  ['sqlite', sqliteSetup, true],
  ['postgres', postgresSetup, pgAvailable],
];

for (const [name, setup, available] of stores) {
  describe.skipIf(!available)(`crypto-shredding over ${name} transact`, () => {
    let s: Setup;
    const opened = () => {
      if (s === undefined) {
        s = setup();
        ends.push(() => s.close());
      }
      return s;
    };
    const createTable = (store: Store, table: string) =>
      store.transact((tx) =>
        andThen(tx.run(`CREATE TABLE IF NOT EXISTS ${table} (member_id TEXT PRIMARY KEY, plan TEXT NOT NULL)`), () => []),
      );
    // A row and its event in one transaction, as a state-stored handler writes them.
    const register = (store: Store, table: string, memberId: string, memberName: string, subjects?: string[]) =>
      store.transact(
        (tx) =>
          andThen(tx.run(`INSERT INTO ${table} (member_id, plan) VALUES (?, ?)`, [memberId, 'gold']), () => [
            {
              streamId: `member-${memberId}`,
              expectedVersion: 0,
              events: [{ type: 'MemberRegistered', data: { memberId, name: memberName, plan: 'gold' } }],
            },
          ]),
        subjects === undefined ? undefined : { subjects },
      );
    const rowCount = async (store: Store, table: string, memberId: string) => {
      let rows = -1;
      await store.transact((tx) =>
        andThen(tx.get<{ n: number | string }>(`SELECT count(*) AS n FROM ${table} WHERE member_id = ?`, [memberId]), (r) => {
          rows = Number(r?.n);
          return [];
        }),
      );
      return rows;
    };

    it('stores the events of the work encrypted, reads them decrypted, and redacts them after forget', async () => {
      const { raw, store, table } = opened();
      await createTable(store, table);
      const id = fresh();
      const plain = `Grace Hopper ${id}`;
      const [result] = await register(store, table, id, plain, [id]);
      expect(result.version).toBe(1);
      const [stored] = await raw.readStream(`member-${id}`);
      expect(JSON.stringify(stored.data)).not.toContain(plain);
      expect(stored.data).toMatchObject({ memberId: id, plan: 'gold' });
      expect(stored.metadata).toHaveProperty('personal');
      const [read] = await store.readStream(`member-${id}`);
      expect(read.data).toEqual({ memberId: id, name: plain, plan: 'gold' });
      expect(await store.forget(id)).toBe(true);
      const [after] = await store.readStream(`member-${id}`);
      expect(after.data).toEqual({ memberId: id, name: FORGOTTEN, plan: 'gold' });
    });

    it('refuses a subject whose key was not fetched before the transaction, writing neither row nor event', async () => {
      const { store, table } = opened();
      await createTable(store, table);
      const id = fresh();
      const other = fresh();
      for (const subjects of [undefined, [other]]) {
        const err = await register(store, table, id, 'Ada Lovelace', subjects).catch((e: unknown) => e);
        expect(isChronicleError(err, 'INVALID_ARGUMENT')).toBe(true);
        expect((err as Error).message).toMatch(/subjects option/);
      }
      expect(await store.readStream(`member-${id}`)).toEqual([]);
      expect(await rowCount(store, table, id)).toBe(0);
      const bad = await store.transact(() => [], { subjects: [''] as string[] }).catch((e: unknown) => e);
      expect(isChronicleError(bad, 'INVALID_ARGUMENT')).toBe(true);
    });

    it("many concurrent transactions, some racing to create one subject's key: every event encrypted and readable", async () => {
      const { raw, store, table } = opened();
      await createTable(store, table);
      const shared = fresh();
      // Ten transactions name the same new subject (its key created once, agreed by all), twenty others their own.
      const ids = Array.from({ length: 30 }, (_, i) => ({ id: fresh(), subject: i < 10 ? shared : undefined }));
      await Promise.all(
        ids.map(({ id, subject }) =>
          store.transact(
            (tx) =>
              andThen(tx.run(`INSERT INTO ${table} (member_id, plan) VALUES (?, ?)`, [id, 'gold']), () => [
                {
                  streamId: `member-${id}`,
                  expectedVersion: 0,
                  events: [{ type: 'MemberRegistered', data: { memberId: subject ?? id, name: `Name ${id}`, plan: 'gold' } }],
                },
              ]),
            { subjects: [subject ?? id] },
          ),
        ),
      );
      for (const { id } of ids) {
        const [stored] = await raw.readStream(`member-${id}`);
        expect(JSON.stringify(stored.data)).not.toContain(`Name ${id}`);
        const [read] = await store.readStream(`member-${id}`);
        expect(read.data).toMatchObject({ name: `Name ${id}` });
      }
      // One key for the shared subject: forgetting it redacts all ten of its events.
      await store.forget(shared);
      for (const { id, subject } of ids) {
        const [read] = await store.readStream(`member-${id}`);
        expect(read.data).toMatchObject({ name: subject === shared ? FORGOTTEN : `Name ${id}` });
      }
    });

    it('reads archived events through the wrapper decrypted, and redacted after forget', async () => {
      const { raw, store, table } = opened();
      await createTable(store, table);
      const id = fresh();
      await register(store, table, id, `Archived ${id}`, [id]);
      await store.deleteStream(`member-${id}`);
      expect((await store.lifecycle.archive(`member-${id}`)).archived).toBe(1);
      const [stored] = await raw.lifecycle.readArchived(`member-${id}`);
      expect(JSON.stringify(stored.data)).not.toContain(`Archived ${id}`);
      const [read] = await store.lifecycle.readArchived(`member-${id}`);
      expect(read.data).toMatchObject({ name: `Archived ${id}` });
      expect((await store.lifecycle.status(`member-${id}`)).state).toBe('archived');
      await store.forget(id);
      const [after] = await store.lifecycle.readArchived(`member-${id}`);
      expect(after.data).toMatchObject({ name: FORGOTTEN });
    });

    it('passes transact through withUpcasting: the events are stamped with their schema version and encrypted', async () => {
      const { raw, store, table } = opened();
      await createTable(store, table);
      const upcasting = withUpcasting(store, catalog);
      const id = fresh();
      const plain = `Katherine Johnson ${id}`;
      await register(upcasting, table, id, plain, [id]);
      const [stored] = await raw.readStream(`member-${id}`);
      expect(stored.metadata.schemaVersion).toBe(2);
      expect(JSON.stringify(stored.data)).not.toContain(plain);
      const [read] = await upcasting.readStream(`member-${id}`);
      expect(read.data).toMatchObject({ name: plain });
      expect(await rowCount(store, table, id)).toBe(1);
    });
  });
}

it('gives a store without transact none: the wrappers add no path the store does not have', () => {
  const store = withUpcasting(
    withCryptoShredding(createInMemoryEventStore(), { events: catalog, keys: createInMemorySubjectKeyStore() }),
    catalog,
  );
  expect((store as Partial<StateStoredStore>).transact).toBeUndefined();
});

it('refuses a secureDelete that is not a boolean', () => {
  expect(() => createSqliteEventStore({ path: ':memory:', secureDelete: 'yes' as never })).toThrow(
    expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
  );
});
