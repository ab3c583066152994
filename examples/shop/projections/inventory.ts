// Read model of GetInventory: units on hand and reserved per product.
import { defineProjection } from 'chronicle-es';
import type { SqliteReadTx } from 'chronicle-es/sqlite';
import { shopEvents } from '../messages/events.js';

export const inventoryProjection = defineProjection({
  name: 'inventory',
  version: 1,
  events: shopEvents,
  setup(tx: SqliteReadTx) {
    tx.run(`CREATE TABLE ${tx.table('stock')} (
      product_id TEXT PRIMARY KEY,
      on_hand INTEGER NOT NULL DEFAULT 0,
      reserved INTEGER NOT NULL DEFAULT 0
    )`);
  },
  handlers: {
    ProductCreated(event, tx) {
      tx.run(`INSERT INTO ${tx.table('stock')} (product_id) VALUES (?)`, [event.data.productId]);
    },
    ProductRestocked(event, tx) {
      const { productId, quantity } = event.data;
      move(tx, productId, quantity, 0);
    },
    StockReserved(event, tx) {
      const { productId, quantity } = event.data;
      move(tx, productId, 0, quantity);
    },
    StockReleased(event, tx) {
      const { productId, quantity } = event.data;
      move(tx, productId, 0, -quantity);
    },
    StockShipped(event, tx) {
      const { productId, quantity } = event.data;
      move(tx, productId, -quantity, -quantity);
    },
  },
});

function move(tx: SqliteReadTx, productId: string, onHand: number, reserved: number): void {
  tx.run(`UPDATE ${tx.table('stock')} SET on_hand = on_hand + ?, reserved = reserved + ? WHERE product_id = ?`, [
    onHand,
    reserved,
    productId,
  ]);
}
