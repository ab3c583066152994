// The read models are written once for both read stores: the same commands on a Shop over SQLite and one over
// PostgreSQL give the same answer to every query, paging, searching, ordering and money sums included.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Principal } from 'chronicle-es';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshSchema, pgAvailable } from '../../../test/support/postgres.js';
import { createShop, type ShopOf } from '../app.js';
import { settle } from './support.js';

const admin: Principal = { id: 'same', roles: ['admin'] };
const dataDir = mkdtempSync(join(tmpdir(), 'shop-same-'));
const schema = freshSchema('shop_same');
let shops: Array<ShopOf<'all'>> = [];

beforeAll(async () => {
  if (!pgAvailable) return;
  const postgres = { connectionString: schema.connectionString, schema: schema.schema };
  shops = [
    await createShop({ dataDir, pollIntervalMs: 20 }),
    await createShop({ dataDir, eventStore: postgres, readStore: postgres, pollIntervalMs: 20 }),
  ];
});
afterAll(async () => {
  for (const shop of shops) await shop.close();
  rmSync(dataDir, { recursive: true, force: true });
  if (pgAvailable) await schema.drop();
});

// Names whose order differs between byte order and a language's collation, and searches for LIKE's own characters.
const PRODUCTS: Array<[string, string, number]> = [
  ['zebra', 'Zebra mug', 1200],
  ['apple', 'apple peeler', 350],
  ['umlaut', 'Äpfel-Schäler', 990],
  ['banana', 'Banana hook', 1500],
  ['percent', '50% off sign', 100],
  ['under', 'snake_case ruler', 700],
  ['tilde', '~tilde tray', 800],
  ['upper', 'BANANA crate', 2500],
];
const CUSTOMERS = ['ada', 'grace', 'edsger'];

async function script(shop: ShopOf<'all'>): Promise<number> {
  let position = 0;
  const send = async (name: string, payload: unknown) => {
    try {
      position = (await shop.commandBus.dispatch(name, payload, { principal: admin })).position;
    } catch {
      // Refusals are part of the script: both Shops must refuse the same ones.
    }
    // The workflows react before the next step (an allocation before the shipping), as they would on a quiet day, so
    // both runs write the same log in the same order.
    position = await settle(shop);
  };
  for (const id of CUSTOMERS)
    await send('RegisterCustomer', { customerId: id, name: `Customer ${id}`, email: `${id}@example.com` });
  await send('UpdateCustomerDetails', {
    customerId: 'ada',
    address: { street: '1 Rue', city: 'Paris', postalCode: '75001', country: 'FR' },
  });
  for (const [id, name, price] of PRODUCTS) {
    await send('CreateProduct', {
      productId: id,
      sku: `SKU-${id.toUpperCase()}`,
      name,
      priceCents: price,
      currency: id === 'upper' ? 'USD' : 'EUR',
    });
    await send('RestockProduct', { productId: id, quantity: 50 });
  }
  await send('ChangeProductPrice', { productId: 'apple', priceCents: 375 });
  await send('DeleteProduct', { productId: 'tilde' });
  // Over the first six products (in euros, on sale); the one in dollars is ordered on its own.
  for (let i = 0; i < 12; i++) {
    const [a, b] = [PRODUCTS[i % 6][0], PRODUCTS[(i + 2) % 6][0]];
    await send('CreateOrder', {
      orderId: `ord-${i}`,
      customerId: CUSTOMERS[i % CUSTOMERS.length],
      lines: [
        { productId: a, quantity: 1 + (i % 4) },
        { productId: b, quantity: 2 },
      ],
    });
    if (i % 3 !== 2) await send('PayOrder', { orderId: `ord-${i}` });
    if (i % 4 === 0) await send('ShipOrder', { orderId: `ord-${i}` });
    if (i % 4 === 1) await send('CancelOrder', { orderId: `ord-${i}`, reason: 'changed my mind' });
  }
  await send('CreateOrder', { orderId: 'ord-usd', customerId: 'grace', lines: [{ productId: 'upper', quantity: 3 }] });
  await send('PayOrder', { orderId: 'ord-usd' });
  // More than the stock left: refused on both.
  await send('CreateOrder', { orderId: 'too-many', customerId: 'ada', lines: [{ productId: 'zebra', quantity: 49 }] });
  return position;
}

/** Every query's answer, paging to the end; event times (the only thing the two runs do not share) blanked. */
async function answers(shop: ShopOf<'all'>, head: number): Promise<Record<string, unknown>> {
  await shop.projector.waitForPosition(head, { timeoutMs: 20_000 });
  // A refusal (an order the script never got to place) is an answer too.
  const run = (name: string, payload: Record<string, unknown>) =>
    shop.queryBus.run(name, payload, { principal: admin }).catch((err: { code?: string }) => ({ refused: err.code }));
  const pages = async (name: string, payload: Record<string, unknown>) => {
    const all: unknown[] = [];
    let cursor: string | undefined;
    do {
      const page = (await run(name, { ...payload, ...(cursor && { cursor }) })) as {
        items: unknown[];
        nextCursor: string | null;
      };
      all.push(page);
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    return all;
  };
  const out: Record<string, unknown> = {};
  out.catalog = await pages('ListAllProducts', { limit: 3 });
  out.catalogAll = await pages('ListAllProducts', { limit: 2, includeDeleted: true });
  for (const search of ['banana', 'BAN', 'ä', '50%', '%', '_', 'e_c', 'sku-u', 'nothing']) {
    out[`search ${search}`] = await pages('ListAllProducts', { limit: 10, search, includeDeleted: true });
  }
  for (const id of CUSTOMERS) {
    out[`customer ${id}`] = await run('GetCustomerById', { customerId: id });
    out[`orders of ${id}`] = await pages('ListOrdersByCustomer', { customerId: id, limit: 1 });
  }
  for (const id of [...Array.from({ length: 12 }, (_, i) => `ord-${i}`), 'ord-usd', 'too-many']) {
    out[`order ${id}`] = await run('GetOrderStatus', { orderId: id });
  }
  for (const [id] of PRODUCTS) out[`inventory ${id}`] = await run('GetInventory', { productId: id });
  out.sales = await run('GetSalesSummary', { top: 5 });
  const times = new Set(['at', 'createdAt', 'paymentDueAt', 'since']);
  return JSON.parse(JSON.stringify(out, (key, value) => (times.has(key) && value !== null ? '<time>' : value)));
}

describe.skipIf(!pgAvailable)('the same Shop on SQLite and on PostgreSQL', () => {
  it('answers every query alike', async () => {
    const heads = [await script(shops[0]), await script(shops[1])];
    expect(heads[1]).toBe(heads[0]);
    const [sqlite, postgres] = [await answers(shops[0], heads[0]), await answers(shops[1], heads[1])];
    expect(postgres).toEqual(sqlite);
    // The answers say something: byte order puts upper case first and Ä last; searches are literal.
    const names = (sqlite.catalogAll as Array<{ items: Array<{ name: string }> }>).flatMap((p) => p.items.map((i) => i.name));
    expect(names).toEqual([...names].sort((a, b) => (a.toLowerCase() < b.toLowerCase() ? -1 : 1)));
    expect(names.at(-1)).toBe('Äpfel-Schäler');
    const found = (key: string) =>
      (sqlite[key] as Array<{ items: Array<{ productId: string }> }>)[0].items.map((i) => i.productId);
    expect(found('search 50%')).toEqual(['percent']);
    expect(found('search _')).toEqual(['under']);
    expect(found('search BAN').sort()).toEqual(['banana', 'upper']);
    expect(found('search nothing')).toEqual([]);
    expect(Object.keys(sqlite).filter((key) => JSON.stringify(sqlite[key]).includes('"refused"'))).toEqual(['order too-many']);
    expect((sqlite.sales as { revenue: unknown[] }).revenue).toHaveLength(2);
  });
});
