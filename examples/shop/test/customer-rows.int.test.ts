// Customers moved to the state-stored write model (write-model/): a store written by the current, event-sourced Shop
// is migrated — tables created, customer streams folded into rows at their versions — and state-stored commands then
// continue the same streams; the unique index keeps e-mails unique, also when registrations race. On SQLite and
// PostgreSQL.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { andThen, createCommandBus, type EventStore, type Principal, type StateStoredStore, type WriteTx } from 'chronicle-es';
import { createPostgresEventStore } from 'chronicle-es/postgres';
import { createSqliteEventStore } from 'chronicle-es/sqlite';
import { afterAll, describe, expect, it } from 'vitest';
import { freshSchema, PG_URL, pgAvailable } from '../../../test/support/postgres.js';
import { registerCommands } from '../commands.js';
import { emailTag } from '../domain/tags.js';
import { customerRowHandler, migrateCustomerTables } from '../write-model/customer-rows.js';
import { moveCustomerStreams } from '../write-model/move-customer-streams.js';

type Store = EventStore & StateStoredStore<WriteTx>;
const admin: Principal = { id: 'root', roles: ['admin'] };
const address = { street: '1 Main St', city: 'Berlin', postalCode: '10115', country: 'DE' };

async function all<T>(store: Store, sql: string): Promise<T[]> {
  let rows: T[] = [];
  await store.transact((tx) =>
    andThen(tx.all<T>(sql), (found) => {
      rows = found;
      return [];
    }),
  );
  return rows;
}

const dir = mkdtempSync(join(tmpdir(), 'shop-customer-rows-'));
const schemas: Array<{ drop(): Promise<void> }> = [];
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await Promise.all(schemas.map((s) => s.drop()));
});

const targets: Array<{ name: string; enabled: boolean; open: () => Store }> = [
  { name: 'sqlite', enabled: true, open: () => createSqliteEventStore({ path: join(dir, 'events.db') }) },
  {
    name: 'postgres',
    enabled: pgAvailable,
    open: (() => {
      let schema: string | undefined;
      return () => {
        if (schema === undefined) {
          const fresh = freshSchema('shopcustomers');
          schemas.push(fresh);
          schema = fresh.schema;
        }
        // The write tables go where the store's are: its schema first on the connection's search path.
        return createPostgresEventStore({ connectionString: `${PG_URL}?options=-c%20search_path%3D${schema}`, schema });
      };
    })(),
  },
];

for (const target of targets) {
  describe.skipIf(!target.enabled)(`customers as rows on ${target.name}`, () => {
    it('moves customer streams written by the current Shop into the table, then continues them state-stored', async () => {
      // The current version writes customers event-sourced.
      const before = target.open();
      const bus = createCommandBus();
      // Its store here does not encrypt: forgetting records CustomerForgotten, with no key to delete.
      registerCommands(bus, before, { forgetSubject: async () => {} });
      const dispatch = (name: string, data: unknown) => bus.dispatch(name, data, { principal: admin });
      await dispatch('RegisterCustomer', { customerId: 'c1', name: 'Ada', email: 'ada@example.com', address });
      await dispatch('RegisterCustomer', { customerId: 'c2', name: 'Bob', email: 'bob@example.com' });
      await dispatch('UpdateCustomerDetails', { customerId: 'c2', email: 'Robert@Example.com', address });
      await dispatch('UpdateCustomerDetails', { customerId: 'c2', name: 'Robert' });
      await dispatch('RegisterCustomer', { customerId: 'c4', name: 'Gone', email: 'gone@example.com', address });
      await dispatch('ForgetCustomer', { customerId: 'c4' });
      await before.close();

      const store = target.open();
      try {
        expect((await migrateCustomerTables(store)).applied).toEqual(['001_customers.sql', '002_forgotten_customers.sql']);
        expect(await moveCustomerStreams(store)).toBe(3);
        // Again: nothing more to move, nothing to apply.
        expect(await moveCustomerStreams(store)).toBe(0);
        expect((await migrateCustomerTables(store)).applied).toEqual([]);
        const rows = await all<{ customer_id: string; name: string; email: string; version: number; forgotten: number }>(
          store,
          'SELECT customer_id, name, email, version, forgotten FROM customers ORDER BY customer_id',
        );
        expect(rows.map((r) => ({ ...r, version: Number(r.version), forgotten: Number(r.forgotten) }))).toEqual([
          { customer_id: 'c1', name: 'Ada', email: 'ada@example.com', version: 1, forgotten: 0 },
          { customer_id: 'c2', name: 'Robert', email: 'Robert@Example.com', version: 3, forgotten: 0 },
          // A customer forgotten before the move is moved as forgotten: no personal value, its address free.
          { customer_id: 'c4', name: '', email: '', version: 2, forgotten: 1 },
        ]);
        expect(await all(store, 'SELECT customer_id, city FROM customer_addresses ORDER BY customer_id')).toEqual([
          { customer_id: 'c1', city: 'Berlin' },
          { customer_id: 'c2', city: 'Berlin' },
        ]);

        const handle = customerRowHandler(store);
        // A migrated customer's stream goes on where it stood.
        const moved = await handle({ type: 'UpdateCustomerDetails', data: { customerId: 'c1', name: 'Ada L.' } }, {});
        expect(moved.version).toBe(2);
        const events = await store.readStream('customer-c1');
        expect(events.map((e) => [e.type, e.version])).toEqual([
          ['CustomerRegistered', 1],
          ['CustomerDetailsUpdated', 2],
        ]);
        // An e-mail change is tagged with both addresses, as the event-sourced side tags it.
        await handle({ type: 'UpdateCustomerDetails', data: { customerId: 'c1', email: 'ada@lovelace.example' } }, {});
        const [changed] = await store.readStream('customer-c1', { from: 3 });
        expect([...changed.tags].sort()).toEqual([emailTag('ada@example.com'), emailTag('ada@lovelace.example')].sort());
        // An address a migrated customer holds is taken, in any letter case; a repeat changes nothing.
        await expect(
          handle({ type: 'RegisterCustomer', data: { customerId: 'c3', name: 'Eve', email: 'ROBERT@example.com' } }, {}),
        ).rejects.toMatchObject({ code: 'DOMAIN_RULE' });
        await expect(
          handle({ type: 'UpdateCustomerDetails', data: { customerId: 'c1', email: 'robert@example.COM' } }, {}),
        ).rejects.toMatchObject({ code: 'DOMAIN_RULE' });
        await expect(
          handle({ type: 'UpdateCustomerDetails', data: { customerId: 'nobody', name: 'X' } }, {}),
        ).rejects.toMatchObject({ code: 'NOT_FOUND' });
        expect((await store.streamInfo('customer-c3')).version).toBe(0);
        expect((await store.streamInfo('customer-nobody')).version).toBe(0);

        // Twenty registrations racing for one address: the unique index lets one in, the others are refused.
        const outcomes = await Promise.all(
          Array.from({ length: 20 }, (_, i) =>
            handle(
              {
                type: 'RegisterCustomer',
                data: { customerId: `r${i}`, name: `R ${i}`, email: i % 2 ? 'Race@example.com' : 'race@EXAMPLE.com' },
              },
              {},
            ).then(
              () => 'ok',
              (err: { code?: string }) => err.code,
            ),
          ),
        );
        expect(outcomes.filter((o) => o === 'ok')).toHaveLength(1);
        expect(outcomes.filter((o) => o === 'DOMAIN_RULE')).toHaveLength(19);
        expect(await all(store, "SELECT customer_id FROM customers WHERE email_normalized = 'race@example.com'")).toHaveLength(1);

        // Forgetting on the table: the row anonymised at the stream's version, the address row gone, the e-mail free;
        // again records nothing; the details of a forgotten customer cannot change.
        const forgotten = await handle({ type: 'ForgetCustomer', data: { customerId: 'c2' } }, {});
        expect(forgotten.version).toBe(4);
        const [event] = await store.readStream('customer-c2', { from: 4 });
        expect(event.type).toBe('CustomerForgotten');
        expect(event.tags).toContain(emailTag('Robert@Example.com'));
        expect((await handle({ type: 'ForgetCustomer', data: { customerId: 'c2' } }, {})).version).toBe(4);
        expect((await store.streamInfo('customer-c2')).version).toBe(4);
        await expect(
          handle({ type: 'UpdateCustomerDetails', data: { customerId: 'c2', name: 'Back' } }, {}),
        ).rejects.toMatchObject({ code: 'NOT_FOUND' });
        await expect(
          handle({ type: 'RegisterCustomer', data: { customerId: 'c2', name: 'Back', email: 'back@example.com' } }, {}),
        ).rejects.toMatchObject({ code: 'DOMAIN_RULE' });
        const c2 = await all<{ name: string; email: string; version: number }>(
          store,
          "SELECT name, email, email_normalized, version FROM customers WHERE customer_id = 'c2'",
        );
        expect(c2.map((r) => ({ ...r, version: Number(r.version) }))).toEqual([
          { name: '', email: '', email_normalized: 'forgotten:c2', version: 4 },
        ]);
        expect(await all(store, "SELECT city FROM customer_addresses WHERE customer_id = 'c2'")).toEqual([]);
        await handle({ type: 'RegisterCustomer', data: { customerId: 'c5', name: 'New', email: 'robert@example.com' } }, {});

        // Forget racing detail changes of one customer: whatever the order, the row ends forgotten at its stream's
        // version, and every change after the forget is refused.
        await handle({ type: 'RegisterCustomer', data: { customerId: 'c6', name: 'Racer', email: 'racer@example.com' } }, {});
        const raced = await Promise.all([
          ...Array.from({ length: 10 }, (_, i) =>
            handle({ type: 'UpdateCustomerDetails', data: { customerId: 'c6', name: `Racer ${i}` } }, {}).then(
              () => 'ok',
              (err: { code?: string }) => err.code,
            ),
          ),
          handle({ type: 'ForgetCustomer', data: { customerId: 'c6' } }, {}).then(() => 'forgot'),
        ]);
        expect(raced).toContain('forgot');
        expect(raced.every((o) => o === 'ok' || o === 'forgot' || o === 'NOT_FOUND')).toBe(true);
        const c6 = await all<{ name: string; version: number; forgotten: number }>(
          store,
          "SELECT name, version, forgotten FROM customers WHERE customer_id = 'c6'",
        );
        const c6Stream = await store.readStream('customer-c6');
        expect(c6.map((r) => ({ name: r.name, version: Number(r.version), forgotten: Number(r.forgotten) }))).toEqual([
          { name: '', version: c6Stream.length, forgotten: 1 },
        ]);
        expect(c6Stream.at(-1)?.type).toBe('CustomerForgotten');
        expect(c6Stream).toHaveLength(2 + raced.filter((o) => o === 'ok').length);
      } finally {
        await store.close();
      }
    }, 60_000);
  });
}
