// 16 writers restocking one product at once through HTTP, spread over the given write nodes, each quantity unique so
// the stream shows exactly whose update landed.
import { type EventStore, validate } from 'chronicle-es';
import { expect } from 'vitest';
import { ProductRestocked } from '../messages/catalog.js';
import type { Node } from './pg-cluster.js';

export type RestockRace = {
  /** Quantities whose command answered 200. */
  acked: number[];
  /** The 409 answers. */
  conflicts: Array<{ body: any; type: string | null }>;
  /** Quantities of the ProductRestocked events in the product's stream afterwards. */
  stream: number[];
};

const WRITERS = 16;
const EACH = 10;

/**
 * Creates `productId`, then runs the race and reads the stream back. Checks on the way that every acknowledged
 * command got a version of its own, holding its own update, and that nothing but 200 or 409 came back.
 */
export async function restockRace(writers: readonly Node[], eventStore: EventStore, productId: string): Promise<RestockRace> {
  const created = await writers[0].command('CreateProduct', {
    productId,
    sku: productId.toUpperCase(),
    name: `Product ${productId}`,
    priceCents: 100,
    currency: 'EUR',
  });
  expect(created.status).toBe(200);
  const acked = new Map<number, number>();
  let oks = 0;
  const conflicts: RestockRace['conflicts'] = [];
  await Promise.all(
    Array.from({ length: WRITERS }, async (_, writer) => {
      const node = writers[writer % writers.length];
      for (let k = 0; k < EACH; k++) {
        const quantity = writer * EACH + k + 1;
        const res = await node.command('RestockProduct', { productId, quantity });
        if (res.status === 200) {
          oks++;
          acked.set(res.body.version, quantity);
        } else if (res.status === 409) conflicts.push({ body: res.body, type: res.type });
        else throw new Error(`RestockProduct → ${res.status} ${JSON.stringify(res.body)}`);
      }
    }),
  );
  const events = await eventStore.readStream(`product-${productId}`);
  const restocked = events.filter((e) => e.type === 'ProductRestocked');
  // Each acknowledgement names the version its event holds: no two share one, and that event is its own update.
  expect(acked.size).toBe(oks);
  for (const [version, quantity] of acked) {
    expect(events.find((e) => e.version === version)?.data).toMatchObject({ productId, quantity });
  }
  return {
    acked: [...acked.values()],
    conflicts,
    stream: restocked.map((e) => validate(ProductRestocked, e.data).quantity),
  };
}
