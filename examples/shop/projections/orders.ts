// Read model of GetOrderStatus and ListOrdersByCustomer: one row per order with its lines and status history.
import { defineProjection, type RecordedEvent, type SqlReadTx } from 'chronicle-es';
import { shopEvents } from '../messages/events.js';
import type { OrderStatus } from '../messages/orders.js';
import { createTables, text } from './sql.js';

export const ordersProjection = defineProjection({
  name: 'orders',
  version: 1,
  events: shopEvents,
  setup(tx: SqlReadTx) {
    return createTables(tx, [
      // `seq` is the global position of OrderCreated: newest-first paging sorts by it, unique and never reused.
      `CREATE TABLE ${tx.table('orders')} (
        order_id ${text(tx)} PRIMARY KEY,
        seq BIGINT NOT NULL UNIQUE,
        customer_id ${text(tx)} NOT NULL,
        customer_name ${text(tx)} NOT NULL,
        status ${text(tx)} NOT NULL,
        currency ${text(tx)} NOT NULL,
        total_cents BIGINT NOT NULL,
        line_count BIGINT NOT NULL,
        lines ${text(tx)} NOT NULL,
        history ${text(tx)} NOT NULL,
        created_at ${text(tx)} NOT NULL
      )`,
      `CREATE INDEX ${tx.table('orders_by_customer')} ON ${tx.table('orders')} (customer_id, seq)`,
    ]);
  },
  handlers: {
    async OrderCreated(event, tx) {
      const { orderId, customerId, customerName, currency, totalCents, lines } = event.data;
      const at = event.metadata.timestamp;
      await tx.run(`INSERT INTO ${tx.table('orders')} VALUES (?, ?, ?, ?, 'created', ?, ?, ?, ?, ?, ?)`, [
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

// The history is JSON kept as text and rebuilt here (read, append, write back): the engines' JSON functions differ.
async function moveTo(tx: SqlReadTx, event: RecordedEvent<string, { orderId: string }>, status: OrderStatus): Promise<void> {
  const { orderId } = event.data;
  const row = await tx.get<{ history: string }>(`SELECT history FROM ${tx.table('orders')} WHERE order_id = ?`, [orderId]);
  if (!row) return;
  const history = [...(JSON.parse(row.history) as unknown[]), { status, at: event.metadata.timestamp }];
  await tx.run(`UPDATE ${tx.table('orders')} SET status = ?, history = ? WHERE order_id = ?`, [
    status,
    JSON.stringify(history),
    orderId,
  ]);
}
