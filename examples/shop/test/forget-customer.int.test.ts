// ForgetCustomer over HTTP on the real SQLite files: admin only; afterwards the customer's name, email and address
// read as "[forgotten]" in every read model (also after a rebuild), the address is free again, and the shredding grep
// finds the plain values in neither the event store file (its events are encrypted, its customers row anonymised, the
// file under secure_delete and its WAL checkpointed) nor (after a checkpoint) the read store's.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { andThen, type EventStore, FORGOTTEN, type StateStoredStore, type WriteTx } from 'chronicle-es';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { given, KEYS, startShop, type TestShop } from './support.js';

let shop: TestShop;
beforeAll(async () => {
  shop = await startShop();
  await given(shop, { products: [{ productId: 'fg-mug', stock: 10 }] });
});
afterAll(() => shop.close());

const onSqlite = process.env.SHOP_TEST_STORES !== 'postgres';

/** Occurrences of `value` in a SQLite file and its -wal. */
function grep(path: string, value: string): number {
  const needle = Buffer.from(value);
  let n = 0;
  for (const file of [path, `${path}-wal`]) {
    if (!existsSync(file)) continue;
    const bytes = readFileSync(file);
    for (let at = bytes.indexOf(needle); at !== -1; at = bytes.indexOf(needle, at + 1)) n++;
  }
  return n;
}
// As SQLite's auto-checkpoint eventually does: the WAL's pages copied into the file and the WAL emptied.
function checkpoint(path: string): void {
  const db = new Database(path);
  try {
    db.pragma('wal_checkpoint(TRUNCATE)');
  } finally {
    db.close();
  }
}

async function ok(name: string, body: unknown, key = KEYS.admin) {
  const res = await shop.command(name, body, { key });
  expect(res.status, `${name} → ${JSON.stringify(res.body)}`).toBe(200);
  return res.body as { position: number };
}

describe('ForgetCustomer', () => {
  it('is for admins only, and refuses an unknown customer', async () => {
    await ok('RegisterCustomer', { customerId: 'fg-eve', name: 'Eve Forget', email: 'eve.forget@example.com' });
    for (const key of [KEYS.clerk, KEYS.reader, KEYS.ada]) {
      const before = await shop.settle();
      expect((await shop.command('ForgetCustomer', { customerId: 'fg-eve' }, { key })).status).toBe(403);
      expect(await shop.eventCount()).toBe(before);
    }
    expect((await shop.command('ForgetCustomer', { customerId: 'fg-nobody' }, { key: KEYS.admin })).status).toBe(404);
    expect((await shop.command('ForgetCustomer', { customerId: 'fg-eve', extra: 1 }, { key: KEYS.admin })).status).toBe(400);
    const read = await shop.query('GetCustomerById', { customerId: 'fg-eve' }, { key: KEYS.admin });
    expect(read.body).toMatchObject({ name: 'Eve Forget' });
  });

  it('forgets name, email and address everywhere, frees the address, and the grep finds none of them', async () => {
    const name = 'Hedy Lamarr Forgettable';
    const email = 'hedy.lamarr.forget@example.com';
    const street = 'Frequency Hopping Lane 1942';
    const address = { street, city: 'Vienna', postalCode: '1010', country: 'AT' };
    await ok('RegisterCustomer', { customerId: 'fg-hedy', name, email, address });
    const created = await ok('CreateOrder', {
      orderId: 'fg-hedy-1',
      customerId: 'fg-hedy',
      lines: [{ productId: 'fg-mug', quantity: 1 }],
    });
    const position = await shop.settle();
    const customer = await shop.query('GetCustomerById', { customerId: 'fg-hedy', minPosition: position }, { key: KEYS.admin });
    expect(customer.body).toMatchObject({ name, email, address, orderCount: 1 });
    const order = await shop.query(
      'GetOrderStatus',
      { orderId: 'fg-hedy-1', minPosition: created.position },
      { key: KEYS.admin },
    );
    expect(order.body).toMatchObject({ customerName: name });
    // Taken: nobody else may register it.
    expect(
      (await shop.command('RegisterCustomer', { customerId: 'fg-copy', name: 'X', email }, { key: KEYS.admin })).status,
    ).toBe(422);

    const events = join(shop.dataDir, 'events.db');
    const reads = join(shop.dataDir, 'read.db');
    const values = [name, email, street];
    const before = onSqlite
      ? { events: values.map((v) => grep(events, v)), reads: values.map((v) => grep(reads, v)) }
      : undefined;

    const forgotten = await ok('ForgetCustomer', { customerId: 'fg-hedy' });
    // Forgetting anonymised the row in step with the stream: the row's version is the stream's, and nothing is left.
    {
      // Read in a transaction of the Shop's own store: the same check on SQLite and PostgreSQL.
      const store = shop.shop.eventStore as EventStore & StateStoredStore<WriteTx>;
      let found: unknown[] = [];
      await store.transact((tx) =>
        andThen(
          tx.all(
            `SELECT name, email, email_normalized, version, forgotten,
               (SELECT count(*) FROM customer_addresses a WHERE a.customer_id = c.customer_id) AS addresses
             FROM customers c WHERE customer_id = ?`,
            ['fg-hedy'],
          ),
          (rows) => {
            found = rows;
            return [];
          },
        ),
      );
      const numbers = (r: Record<string, unknown>) => ({
        ...r,
        version: Number(r.version),
        forgotten: Number(r.forgotten),
        addresses: Number(r.addresses),
      });
      expect(found.map((r) => numbers(r as Record<string, unknown>))).toEqual([
        { name: '', email: '', email_normalized: 'forgotten:fg-hedy', version: 2, forgotten: 1, addresses: 0 },
      ]);
      expect((await store.streamInfo('customer-fg-hedy')).version).toBe(2);
    }
    const after = await shop.settle();
    expect(after).toBeGreaterThanOrEqual(forgotten.position);
    const read = await shop.query('GetCustomerById', { customerId: 'fg-hedy', minPosition: after }, { key: KEYS.admin });
    expect(read.body).toMatchObject({ customerId: 'fg-hedy', name: FORGOTTEN, email: FORGOTTEN, address: null, orderCount: 1 });
    const orderAfter = await shop.query('GetOrderStatus', { orderId: 'fg-hedy-1', minPosition: after }, { key: KEYS.admin });
    expect(orderAfter.body).toMatchObject({ customerName: FORGOTTEN, status: expect.any(String) });
    // Before the address is taken again below (its new holder's row holds it, rightly).
    if (before !== undefined) {
      checkpoint(reads);
      const afterGrep = { events: values.map((v) => grep(events, v)), reads: values.map((v) => grep(reads, v)) };
      console.log(JSON.stringify({ shredding: 'shop-sqlite', values: ['name', 'email', 'street'], before, after: afterGrep }));
      // The events hold them only encrypted, but the customers row (the write model) and its address row hold them in
      // plain text until the customer is forgotten.
      expect(before.events.every((n) => n > 0)).toBe(true);
      expect(before.reads.some((n) => n > 0)).toBe(true);
      expect(afterGrep).toEqual({ events: [0, 0, 0], reads: [0, 0, 0] });
    }
    // Idempotent: again is fine and records nothing.
    const count = await shop.eventCount();
    await ok('ForgetCustomer', { customerId: 'fg-hedy' });
    expect(await shop.eventCount()).toBe(count);
    // A forgotten customer's details cannot change; its address is free for someone else.
    expect(
      (await shop.command('UpdateCustomerDetails', { customerId: 'fg-hedy', name: 'Back' }, { key: KEYS.admin })).status,
    ).toBe(404);
    await ok('RegisterCustomer', { customerId: 'fg-new', name: 'New Owner', email: 'HEDY.lamarr.forget@example.com' });

    // The log read through the store: every personal field of the forgotten customer is the placeholder.
    const log = await shop.shop.eventStore.readAll();
    const hers = log.filter(
      (e) => typeof e.data === 'object' && e.data !== null && 'customerId' in e.data && e.data.customerId === 'fg-hedy',
    );
    expect(hers.map((e) => e.type)).toEqual(['CustomerRegistered', 'OrderCreated', 'CustomerForgotten']);
    expect(JSON.stringify(hers)).not.toMatch(/Hedy|hedy\.lamarr|Frequency/);
  });

  it('a rebuild of the read models keeps the customer forgotten', async () => {
    await ok('RegisterCustomer', { customerId: 'fg-rb', name: 'Rebuilt Person', email: 'rebuilt.person@example.com' });
    await ok('ForgetCustomer', { customerId: 'fg-rb' });
    await shop.settle();
    const { projector } = shop.shop;
    await projector.rebuild('customers');
    const position = await shop.settle();
    const read = await shop.query('GetCustomerById', { customerId: 'fg-rb', minPosition: position }, { key: KEYS.admin });
    expect(read.body).toMatchObject({ name: FORGOTTEN, email: FORGOTTEN });
  });
});
