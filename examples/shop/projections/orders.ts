// Read model of GetOrderStatus and ListOrdersByCustomer: one row per order with its lines, its status history, its
// timeline (the statuses and the fulfilment steps between them) and, while unpaid, when it expires.
import { defineProjection, FORGOTTEN, type RecordedEvent, type SqlReadTx } from 'chronicle-es';
import { shopEvents } from '../messages/events.js';
import type { OrderStatus, OrderStep } from '../messages/orders.js';
import { createTables, text } from './sql.js';

export const ordersProjection = defineProjection({
  name: 'orders',
  // 2: the timeline (fulfilment steps) and the payment deadline.
  version: 2,
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
        timeline ${text(tx)} NOT NULL,
        payment_due_at ${text(tx)},
        created_at ${text(tx)} NOT NULL
      )`,
      `CREATE INDEX ${tx.table('orders_by_customer')} ON ${tx.table('orders')} (customer_id, seq)`,
    ]);
  },
  handlers: {
    async OrderCreated(event, tx) {
      const { orderId, customerId, customerName, currency, totalCents, lines, paymentTimeoutMs } = event.data;
      const at = event.metadata.timestamp;
      await tx.run(`INSERT INTO ${tx.table('orders')} VALUES (?, ?, ?, ?, 'created', ?, ?, ?, ?, ?, ?, ?, ?)`, [
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
        JSON.stringify([{ step: 'created', at }]),
        paymentDueAt(at, paymentTimeoutMs),
        at,
      ]);
    },
    OrderPaid: (event, tx) => moveTo(tx, event, 'paid'),
    OrderShipped: (event, tx) => moveTo(tx, event, 'shipped'),
    OrderCancelled: (event, tx) => moveTo(tx, event, 'cancelled'),
    OrderExpired: (event, tx) => moveTo(tx, event, 'expired'),
    ShipmentAllocated: (event, tx) => step(tx, event, 'allocated'),
    CustomerNotified: (event, tx) => step(tx, event, 'customer-notified'),
    // The customer's name was copied into its orders: the copies go with the customer.
    async CustomerForgotten(event, tx) {
      await tx.run(`UPDATE ${tx.table('orders')} SET customer_name = ? WHERE customer_id = ?`, [
        FORGOTTEN,
        event.data.customerId,
      ]);
    },
    ShipmentReleased: (event, tx) => step(tx, event, 'shipment-released'),
  },
});

/**
 * When an order placed at `at` with `paymentTimeoutMs` expires, as ISO-8601: the scheduled ExpireOrder is recorded in
 * the same append as OrderCreated, so with the same timestamp, and is due exactly then. Null without a timeout.
 */
export function paymentDueAt(at: string, paymentTimeoutMs: number | undefined): string | null {
  return paymentTimeoutMs === undefined ? null : new Date(Date.parse(at) + paymentTimeoutMs).toISOString();
}

type Row = { history: string; timeline: string };

// History and timeline are JSON kept as text and rebuilt here (read, append, write back): the engines' JSON functions
// differ. Every status after `created` settles the payment deadline: paid, or no longer to be paid.
async function moveTo(tx: SqlReadTx, event: RecordedEvent<string, { orderId: string }>, status: OrderStatus): Promise<void> {
  const { orderId } = event.data;
  const row = await tx.get<Row>(`SELECT history, timeline FROM ${tx.table('orders')} WHERE order_id = ?`, [orderId]);
  if (!row) return;
  const at = event.metadata.timestamp;
  await tx.run(
    `UPDATE ${tx.table('orders')} SET status = ?, history = ?, timeline = ?, payment_due_at = NULL WHERE order_id = ?`,
    [status, appended(row.history, { status, at }), appended(row.timeline, { step: status, at }), orderId],
  );
}

async function step(tx: SqlReadTx, event: RecordedEvent<string, { orderId: string }>, name: OrderStep): Promise<void> {
  const { orderId } = event.data;
  const row = await tx.get<Row>(`SELECT history, timeline FROM ${tx.table('orders')} WHERE order_id = ?`, [orderId]);
  if (!row) return;
  await tx.run(`UPDATE ${tx.table('orders')} SET timeline = ? WHERE order_id = ?`, [
    appended(row.timeline, { step: name, at: event.metadata.timestamp }),
    orderId,
  ]);
}

const appended = (json: string, entry: object): string => JSON.stringify([...(JSON.parse(json) as unknown[]), entry]);
