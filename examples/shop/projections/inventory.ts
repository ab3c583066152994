// Read model of GetInventory: units on hand and reserved per product.
import { defineProjection, type SqlReadTx } from 'chronicle-es';
import { shopEvents } from '../messages/events.js';
import { createTables, text } from './sql.js';

export const inventoryProjection = defineProjection({
  name: 'inventory',
  version: 1,
  events: shopEvents,
  setup(tx: SqlReadTx) {
    return createTables(tx, [
      `CREATE TABLE ${tx.table('stock')} (
        product_id ${text(tx)} PRIMARY KEY,
        on_hand BIGINT NOT NULL DEFAULT 0,
        reserved BIGINT NOT NULL DEFAULT 0
      )`,
    ]);
  },
  handlers: {
    async ProductCreated(event, tx) {
      await tx.run(`INSERT INTO ${tx.table('stock')} (product_id) VALUES (?)`, [event.data.productId]);
    },
    ProductRestocked: (event, tx) => move(tx, event.data.productId, event.data.quantity, 0),
    StockReserved: (event, tx) => move(tx, event.data.productId, 0, event.data.quantity),
    StockReleased: (event, tx) => move(tx, event.data.productId, 0, -event.data.quantity),
    StockShipped: (event, tx) => move(tx, event.data.productId, -event.data.quantity, -event.data.quantity),
  },
});

async function move(tx: SqlReadTx, productId: string, onHand: number, reserved: number): Promise<void> {
  await tx.run(`UPDATE ${tx.table('stock')} SET on_hand = on_hand + ?, reserved = reserved + ? WHERE product_id = ?`, [
    onHand,
    reserved,
    productId,
  ]);
}
