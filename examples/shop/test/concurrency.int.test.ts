// The last units under contention: concurrent orders over HTTP never oversell and never see a 409. The orders go out
// as one burst (support.ts), so they really do contend rather than arriving one after another.
import type { SqliteEventStore } from 'chronicle-es/sqlite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { given, startShop, type TestShop } from './support.js';

let shop: TestShop;
// The Shop types its store as the EventStore port; the test knows it is the SQLite one.
const groupCommitStats = () => (shop.shop.eventStore as SqliteEventStore).stats();
beforeAll(async () => {
  shop = await startShop();
});
afterAll(() => shop.close());

describe('concurrent orders', () => {
  it('50 concurrent orders for 10 available units: exactly 10 succeed, 40 get 422', async () => {
    const customers = Array.from({ length: 5 }, (_, i) => `rush-${i}`);
    await given(shop, { customers, products: [{ productId: 'last-units', stock: 10 }] });
    const responses = await shop.burst(
      Array.from({ length: 50 }, (_, i) => ({
        name: 'CreateOrder',
        body: {
          orderId: `rush-order-${i}`,
          customerId: customers[i % customers.length],
          lines: [{ productId: 'last-units', quantity: 1 }],
        },
      })),
    );
    const statuses = responses.map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(10);
    expect(statuses.filter((s) => s === 422)).toHaveLength(40);
    for (const r of responses.filter((r) => r.status === 422)) expect(r.body.detail).toContain('not enough stock');

    const head = Math.max(...responses.filter((r) => r.status === 200).map((r) => r.body.position));
    const inventory = await shop.query('GetInventory', { productId: 'last-units', minPosition: head });
    // (Sold out, so the workflows raise a low-stock alert in their own time: GetInventory may show it already.)
    expect(inventory.body).toMatchObject({ productId: 'last-units', onHand: 10, reserved: 10, available: 0 });
    const reserved = (await shop.shop.eventStore.readStream('product-last-units')).filter((e) => e.type === 'StockReserved');
    expect(reserved).toHaveLength(10);
    // The premise: more orders than units were decided on the same stock and written in one transaction, so the
    // version check (not the arrival order of requests) is what kept all but ten from landing.
    expect(groupCommitStats().largestGroup).toBeGreaterThan(10);
  });

  it('orders spanning two contended products reserve both or neither', async () => {
    await given(shop, {
      customers: ['pair'],
      products: [
        { productId: 'left', stock: 7 },
        { productId: 'right', stock: 12 },
      ],
    });
    const responses = await shop.burst(
      Array.from({ length: 30 }, (_, i) => ({
        name: 'CreateOrder',
        body: {
          orderId: `pair-${i}`,
          customerId: 'pair',
          lines:
            i % 2
              ? [
                  { productId: 'left', quantity: 1 },
                  { productId: 'right', quantity: 1 },
                ]
              : [{ productId: 'right', quantity: 1 }],
        },
      })),
    );
    expect(responses.every((r) => r.status === 200 || r.status === 422)).toBe(true);
    const head = await shop.eventCount();
    const left = (await shop.query('GetInventory', { productId: 'left', minPosition: head })).body;
    const right = (await shop.query('GetInventory', { productId: 'right', minPosition: head })).body;
    const okPairs = responses.filter((r, i) => r.status === 200 && i % 2).length;
    const okSingles = responses.filter((r, i) => r.status === 200 && !(i % 2)).length;
    expect(left.reserved).toBe(okPairs);
    expect(right.reserved).toBe(okPairs + okSingles);
    expect(right.available).toBe(0);
    expect(left.available).toBeGreaterThanOrEqual(0);
  });
});
