// Read model of GetInventory and ListLowStock: units on hand and reserved per product, and its open low-stock alert.
import { defineProjection, type SqlReadTx } from 'chronicle-es';
import { shopEvents } from '../messages/events.js';
import { createTables, text } from './sql.js';

export const inventoryProjection = defineProjection({
  name: 'inventory',
  // 2: low-stock alerts.
  version: 2,
  events: shopEvents,
  setup(tx: SqlReadTx) {
    return createTables(tx, [
      `CREATE TABLE ${tx.table('stock')} (
        product_id ${text(tx)} PRIMARY KEY,
        on_hand BIGINT NOT NULL DEFAULT 0,
        reserved BIGINT NOT NULL DEFAULT 0
      )`,
      // One row per open alert: raised inserts it, cleared deletes it.
      `CREATE TABLE ${tx.table('low_stock')} (
        product_id ${text(tx)} PRIMARY KEY,
        threshold BIGINT NOT NULL,
        since ${text(tx)} NOT NULL
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
    async LowStockAlertRaised(event, tx) {
      const { productId, threshold } = event.data;
      // The alert's own stream says raised and cleared alternate; ON CONFLICT only keeps a hand-made log from stopping us.
      await tx.run(
        `INSERT INTO ${tx.table('low_stock')} AS l VALUES (?, ?, ?)
         ON CONFLICT (product_id) DO UPDATE SET threshold = excluded.threshold, since = excluded.since`,
        [productId, threshold, event.metadata.timestamp],
      );
    },
    async LowStockAlertCleared(event, tx) {
      await tx.run(`DELETE FROM ${tx.table('low_stock')} WHERE product_id = ?`, [event.data.productId]);
    },
  },
});

async function move(tx: SqlReadTx, productId: string, onHand: number, reserved: number): Promise<void> {
  await tx.run(`UPDATE ${tx.table('stock')} SET on_hand = on_hand + ?, reserved = reserved + ? WHERE product_id = ?`, [
    onHand,
    reserved,
    productId,
  ]);
}
