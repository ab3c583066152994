// The oversell race at the level of the event-store port, as the README's "Consistency across entities" quotes it:
// read the product's events, decide on the stock they fold to, append on the condition that none of them changed.
import { createInMemoryEventStore, type EventStore, isChronicleError, Query, validate } from 'chronicle-es';
import { describe, expect, it } from 'vitest';
import { ProductRestocked, StockReserved } from '../messages/catalog.js';

// #region reserve
/** Reserves one unit of a product for an order; false when none is left. Exact under any concurrency. */
async function reserve(store: EventStore, productId: string, orderId: string): Promise<boolean> {
  // A stream is a tag: this selects the product stream's events (and any event tagged with it).
  const query = Query.tags(`product-${productId}`);
  for (;;) {
    const { events, head } = await store.read(query);
    let available = 0;
    for (const e of events) {
      if (e.type === 'ProductRestocked') available += validate(ProductRestocked, e.data).quantity;
      if (e.type === 'StockReserved') available -= validate(StockReserved, e.data).quantity;
    }
    if (available < 1) return false;
    try {
      await store.append(
        [{ streamId: `product-${productId}`, type: 'StockReserved', data: { productId, orderId, quantity: 1 } }],
        // Fails with CONCURRENCY_CONFLICT if an event matching the query was stored after the position read.
        { condition: { failIfEventsMatch: query, after: head } },
      );
      return true;
    } catch (err) {
      if (!isChronicleError(err, 'CONCURRENCY_CONFLICT')) throw err;
      // Another decision changed what this one read: read again and decide again.
    }
  }
}
// #endregion reserve

describe('the oversell race on the port', () => {
  it('50 concurrent reservations of 10 units: exactly 10 succeed', async () => {
    const store = createInMemoryEventStore();
    await store.append('product-mug', [{ type: 'ProductRestocked', data: { productId: 'mug', quantity: 10 } }]);
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => reserve(store, 'mug', `o${i}`)));
    expect(results.filter(Boolean)).toHaveLength(10);
    expect((await store.readStream('product-mug')).filter((e) => e.type === 'StockReserved')).toHaveLength(10);
  });

  it('a reservation of another product is not held up by them: disjoint queries never conflict', async () => {
    const store = createInMemoryEventStore();
    await store.append('product-mug', [{ type: 'ProductRestocked', data: { productId: 'mug', quantity: 1 } }]);
    await store.append('product-cup', [{ type: 'ProductRestocked', data: { productId: 'cup', quantity: 1 } }]);
    const head = await store.headPosition();
    // Both decided on the same head; the cup's append commits although the mug's landed after that head.
    const [mug, cup] = await Promise.all([store.read(Query.tags('product-mug')), store.read(Query.tags('product-cup'))]);
    expect([mug.head, cup.head]).toEqual([head, head]);
    await store.append(
      [{ streamId: 'product-mug', type: 'StockReserved', data: { productId: 'mug', orderId: 'a', quantity: 1 } }],
      {
        condition: { failIfEventsMatch: Query.tags('product-mug'), after: mug.head },
      },
    );
    await store.append(
      [{ streamId: 'product-cup', type: 'StockReserved', data: { productId: 'cup', orderId: 'b', quantity: 1 } }],
      {
        condition: { failIfEventsMatch: Query.tags('product-cup'), after: cup.head },
      },
    );
    await expect(
      store.append([{ streamId: 'product-mug', type: 'StockReserved', data: { productId: 'mug', orderId: 'c', quantity: 1 } }], {
        condition: { failIfEventsMatch: Query.tags('product-mug'), after: mug.head },
      }),
    ).rejects.toSatisfy((err) => isChronicleError(err, 'CONCURRENCY_CONFLICT'));
  });
});
