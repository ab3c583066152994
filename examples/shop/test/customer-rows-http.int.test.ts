// Over HTTP, the Shop's customers are rows: a registration writes its row in the customers table (address normalized)
// and its event on the customer's stream; an address held in another letter case is refused with 422 and leaves no row.
import { andThen, type EventStore, type StateStoredStore, type WriteTx } from 'chronicle-es';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KEYS, startShop, type TestShop } from './support.js';

let shop: TestShop;
beforeAll(async () => {
  shop = await startShop();
});
afterAll(async () => {
  await shop?.close();
});

async function rows(sql: string): Promise<unknown[]> {
  // The Shop's own store: the table is in its database, whichever engine holds it.
  const store = shop.shop.eventStore as EventStore & StateStoredStore<WriteTx>;
  let found: unknown[] = [];
  await store.transact((tx) =>
    andThen(tx.all(sql), (all) => {
      found = all;
      return [];
    }),
  );
  return found;
}

describe('customers as rows, over HTTP', () => {
  it('a registration writes the row and the event; a taken address is refused and writes neither', async () => {
    const address = { street: '1 Main St', city: 'Paris', postalCode: '75001', country: 'FR' };
    const res = await shop.command(
      'RegisterCustomer',
      { customerId: 'ada', name: 'Ada', email: 'ada@example.com', address },
      { key: KEYS.ada },
    );
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(await rows("SELECT customer_id, email_normalized, version FROM customers WHERE customer_id = 'ada'")).toEqual([
      { customer_id: 'ada', email_normalized: 'ada@example.com', version: 1 },
    ]);
    expect(await rows("SELECT city, country FROM customer_addresses WHERE customer_id = 'ada'")).toEqual([
      { city: 'Paris', country: 'FR' },
    ]);
    expect((await shop.shop.eventStore?.readStream('customer-ada'))?.map((e) => e.type)).toEqual(['CustomerRegistered']);

    const taken = await shop.command(
      'RegisterCustomer',
      { customerId: 'bob', name: 'Bob', email: 'ADA@example.com' },
      { key: KEYS.bob },
    );
    expect(taken.status).toBe(422);
    expect(await rows("SELECT customer_id FROM customers WHERE customer_id = 'bob'")).toEqual([]);
    expect((await shop.shop.eventStore?.streamInfo('customer-bob'))?.version).toBe(0);
  });
});
