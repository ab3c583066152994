// Read model of ListAllProducts: the catalog sorted by name, with what is available to order.
// (Shipping takes units that were already reserved, so it does not change what is available.)
import { defineProjection } from 'chronicle-es';
import type { SqliteReadTx } from 'chronicle-es/sqlite';
import { shopEvents } from '../messages/events.js';

export const catalogProjection = defineProjection({
  name: 'catalog',
  version: 1,
  events: shopEvents,
  setup(tx: SqliteReadTx) {
    // sort_key orders by name case-insensitively; product_id breaks ties so cursors are stable.
    tx.run(`CREATE TABLE ${tx.table('products')} (
      product_id TEXT PRIMARY KEY,
      sku TEXT NOT NULL,
      name TEXT NOT NULL,
      sort_key TEXT NOT NULL,
      search_text TEXT NOT NULL,
      price_cents INTEGER NOT NULL,
      currency TEXT NOT NULL,
      available INTEGER NOT NULL DEFAULT 0,
      deleted INTEGER NOT NULL DEFAULT 0
    )`);
    tx.run(`CREATE INDEX ${tx.table('products_by_name')} ON ${tx.table('products')} (sort_key, product_id)`);
  },
  handlers: {
    ProductCreated(event, tx) {
      const { productId, sku, name, priceCents, currency } = event.data;
      tx.run(
        `INSERT INTO ${tx.table('products')} (product_id, sku, name, sort_key, search_text, price_cents, currency)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
        [productId, sku, name, name.toLowerCase(), `${name} ${sku}`.toLowerCase(), priceCents, currency],
      );
    },
    ProductPriceChanged(event, tx) {
      const { productId, priceCents } = event.data;
      tx.run(`UPDATE ${tx.table('products')} SET price_cents = ? WHERE product_id = ?`, [priceCents, productId]);
    },
    ProductDeleted(event, tx) {
      tx.run(`UPDATE ${tx.table('products')} SET deleted = 1 WHERE product_id = ?`, [event.data.productId]);
    },
    ProductRestocked(event, tx) {
      const { productId, quantity } = event.data;
      addAvailable(tx, productId, quantity);
    },
    StockReserved(event, tx) {
      const { productId, quantity } = event.data;
      addAvailable(tx, productId, -quantity);
    },
    StockReleased(event, tx) {
      const { productId, quantity } = event.data;
      addAvailable(tx, productId, quantity);
    },
  },
});

function addAvailable(tx: SqliteReadTx, productId: string, delta: number): void {
  tx.run(`UPDATE ${tx.table('products')} SET available = available + ? WHERE product_id = ?`, [delta, productId]);
}
