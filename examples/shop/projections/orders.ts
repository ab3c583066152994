// Read model of GetOrderStatus and ListOrdersByCustomer: one row per order with its lines and status history.
import { defineProjection, type RecordedEvent } from 'chronicle-es';
import type { SqliteReadTx } from 'chronicle-es/sqlite';
import { shopEvents } from '../messages/events.js';
import type { OrderStatus } from '../messages/orders.js';

export const ordersProjection = defineProjection({
  name: 'orders',
  version: 1,
  events: shopEvents,
  setup(tx: SqliteReadTx) {
    // `seq` is the global position of OrderCreated: newest-first paging sorts by it, unique and never reused.
    tx.run(`CREATE TABLE ${tx.table('orders')} (
      order_id TEXT PRIMARY KEY,
      seq INTEGER NOT NULL UNIQUE,
      customer_id TEXT NOT NULL,
      customer_name TEXT NOT NULL,
      status TEXT NOT NULL,
      currency TEXT NOT NULL,
      total_cents INTEGER NOT NULL,
      line_count INTEGER NOT NULL,
      lines TEXT NOT NULL,
      history TEXT NOT NULL,
      created_at TEXT NOT NULL
    )`);
    tx.run(`CREATE INDEX ${tx.table('orders_by_customer')} ON ${tx.table('orders')} (customer_id, seq)`);
  },
  handlers: {
    OrderCreated(event, tx) {
      const { orderId, customerId, customerName, currency, totalCents, lines } = event.data;
      const at = event.metadata.timestamp;
      tx.run(`INSERT INTO ${tx.table('orders')} VALUES (?, ?, ?, ?, 'created', ?, ?, ?, ?, ?, ?)`, [
        orderId,
        event.position,
        customerId,
        customerName,
        currency,
        totalCents,
        lines.length,
        JSON.stringify(
          lines.map(({ productId, name, quantity, unitPriceCents }) => ({ productId, name, quantity, unitPriceCents })),
        ),
        JSON.stringify([{ status: 'created', at }]),
        at,
      ]);
    },
    OrderPaid: (event, tx) => moveTo(tx, event, 'paid'),
    OrderShipped: (event, tx) => moveTo(tx, event, 'shipped'),
    OrderCancelled: (event, tx) => moveTo(tx, event, 'cancelled'),
  },
});

function moveTo(tx: SqliteReadTx, event: RecordedEvent<string, { orderId: string }>, status: OrderStatus): void {
  const { orderId } = event.data;
  tx.run(
    `UPDATE ${tx.table('orders')}
     SET status = ?, history = json_insert(history, '$[#]', json_object('status', ?, 'at', ?)) WHERE order_id = ?`,
    [status, status, event.metadata.timestamp, orderId],
  );
}
