// A product's stock as its stream holds it, read through the Shop's event definitions (validated, never cast).
import { type EventStore, validate } from 'chronicle-es';
import { ProductRestocked, StockReleased, StockReserved, StockShipped } from '../messages/catalog.js';

/** Units on hand and reserved, summed from the product's stream; undefined if it has no events. */
export async function stockOf(store: EventStore, productId: string): Promise<{ onHand: number; reserved: number } | undefined> {
  const events = await store.readStream(`product-${productId}`);
  if (events.length === 0) return undefined;
  let onHand = 0;
  let reserved = 0;
  for (const e of events) {
    if (e.type === 'ProductRestocked') onHand += validate(ProductRestocked, e.data).quantity;
    if (e.type === 'StockReserved') reserved += validate(StockReserved, e.data).quantity;
    if (e.type === 'StockReleased') reserved -= validate(StockReleased, e.data).quantity;
    if (e.type === 'StockShipped') {
      const { quantity } = validate(StockShipped, e.data);
      onHand -= quantity;
      reserved -= quantity;
    }
  }
  return { onHand, reserved };
}
