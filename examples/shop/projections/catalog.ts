// Read model of ListAllProducts: the catalog sorted by name, with what is available to order.
// (Shipping takes units that were already reserved, so it does not change what is available.)
import { defineProjection, type SqlReadTx } from 'chronicle-es';
import { shopEvents } from '../messages/events.js';
import { createTables, text } from './sql.js';

export const catalogProjection = defineProjection({
  name: 'catalog',
  version: 1,
  events: shopEvents,
  setup(tx: SqlReadTx) {
    // sort_key orders by name case-insensitively; product_id breaks ties so cursors are stable.
    return createTables(tx, [
      `CREATE TABLE ${tx.table('products')} (
        product_id ${text(tx)} PRIMARY KEY,
        sku ${text(tx)} NOT NULL,
        name ${text(tx)} NOT NULL,
        sort_key ${text(tx)} NOT NULL,
        search_text ${text(tx)} NOT NULL,
        price_cents BIGINT NOT NULL,
        currency ${text(tx)} NOT NULL,
        available BIGINT NOT NULL DEFAULT 0,
        deleted INTEGER NOT NULL DEFAULT 0
      )`,
      `CREATE INDEX ${tx.table('products_by_name')} ON ${tx.table('products')} (sort_key, product_id)`,
    ]);
  },
  handlers: {
    async ProductCreated(event, tx) {
      const { productId, sku, name, priceCents, currency } = event.data;
      await tx.run(
        `INSERT INTO ${tx.table('products')} (product_id, sku, name, sort_key, search_text, price_cents, currency)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
        [productId, sku, name, name.toLowerCase(), `${name} ${sku}`.toLowerCase(), priceCents, currency],
      );
    },
    async ProductPriceChanged(event, tx) {
      const { productId, priceCents } = event.data;
      await tx.run(`UPDATE ${tx.table('products')} SET price_cents = ? WHERE product_id = ?`, [priceCents, productId]);
    },
    async ProductDeleted(event, tx) {
      await tx.run(`UPDATE ${tx.table('products')} SET deleted = 1 WHERE product_id = ?`, [event.data.productId]);
    },
    ProductRestocked: (event, tx) => addAvailable(tx, event.data.productId, event.data.quantity),
    StockReserved: (event, tx) => addAvailable(tx, event.data.productId, -event.data.quantity),
    StockReleased: (event, tx) => addAvailable(tx, event.data.productId, event.data.quantity),
  },
});

async function addAvailable(tx: SqlReadTx, productId: string, delta: number): Promise<void> {
  await tx.run(`UPDATE ${tx.table('products')} SET available = available + ? WHERE product_id = ?`, [delta, productId]);
}
