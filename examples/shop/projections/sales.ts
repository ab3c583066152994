// Read model of GetSalesSummary: orders per status, revenue per currency, and units sold per product.
// Revenue counts paid orders (shipped ones included); cancelling a paid order takes it back out.
import { defineProjection } from 'chronicle-es';
import type { SqliteReadTx } from 'chronicle-es/sqlite';
import { shopEvents } from '../messages/events.js';
import type { OrderLine, OrderStatus } from '../messages/orders.js';
import { addCents } from './cents-sum.js';

export const salesProjection = defineProjection({
  name: 'sales',
  // 2: revenue sums became decimal strings (cents-sum.ts).
  version: 2,
  events: shopEvents,
  setup(tx: SqliteReadTx) {
    tx.run(`CREATE TABLE ${tx.table('status_counts')} (status TEXT PRIMARY KEY, orders INTEGER NOT NULL)`);
    tx.run(`CREATE TABLE ${tx.table('revenue')} (currency TEXT PRIMARY KEY, cents TEXT NOT NULL)`);
    tx.run(`CREATE TABLE ${tx.table('product_sales')} (
      product_id TEXT PRIMARY KEY,
      name TEXT NOT NULL,
      currency TEXT NOT NULL,
      units_sold INTEGER NOT NULL,
      revenue_cents TEXT NOT NULL
    )`);
    tx.run(`CREATE INDEX ${tx.table('product_sales_by_units')} ON ${tx.table('product_sales')} (units_sold DESC, product_id)`);
    // What each order contributes, so a later payment or cancellation can be counted against it.
    tx.run(`CREATE TABLE ${tx.table('orders')} (
      order_id TEXT PRIMARY KEY,
      status TEXT NOT NULL,
      currency TEXT NOT NULL,
      total_cents INTEGER NOT NULL,
      lines TEXT NOT NULL
    )`);
  },
  handlers: {
    OrderCreated(event, tx) {
      const { orderId, currency, totalCents, lines } = event.data;
      tx.run(`INSERT INTO ${tx.table('orders')} VALUES (?, 'created', ?, ?, ?)`, [
        orderId,
        currency,
        totalCents,
        JSON.stringify(lines),
      ]);
      count(tx, 'created', 1);
    },
    OrderPaid(event, tx) {
      const order = moveTo(tx, event.data.orderId, 'paid');
      if (order) book(tx, order, 1);
    },
    OrderShipped(event, tx) {
      moveTo(tx, event.data.orderId, 'shipped');
    },
    OrderCancelled(event, tx) {
      const { orderId, wasPaid } = event.data;
      const order = moveTo(tx, orderId, 'cancelled');
      if (order && wasPaid) book(tx, order, -1);
    },
  },
});

type OrderRow = { status: OrderStatus; currency: string; total_cents: number; lines: string };

function moveTo(tx: SqliteReadTx, orderId: string, status: OrderStatus): OrderRow | undefined {
  const order = tx.get<OrderRow>(`SELECT status, currency, total_cents, lines FROM ${tx.table('orders')} WHERE order_id = ?`, [
    orderId,
  ]);
  if (!order) return undefined;
  tx.run(`UPDATE ${tx.table('orders')} SET status = ? WHERE order_id = ?`, [status, orderId]);
  count(tx, order.status, -1);
  count(tx, status, 1);
  return order;
}

function count(tx: SqliteReadTx, status: OrderStatus, delta: number): void {
  tx.run(
    `INSERT INTO ${tx.table('status_counts')} VALUES (?, ?) ON CONFLICT (status) DO UPDATE SET orders = orders + excluded.orders`,
    [status, delta],
  );
}

// Money sums are read, added in JS (cents-sum.ts) and written back. Units stay INTEGER: every unit sold was restocked
// first, at most 10^6 a restock, so passing 2^53 units of one product takes some 9 · 10^9 restocks of it.
function book(tx: SqliteReadTx, order: OrderRow, sign: 1 | -1): void {
  const revenue = tx.get<{ cents: string }>(`SELECT cents FROM ${tx.table('revenue')} WHERE currency = ?`, [order.currency]);
  tx.run(`INSERT INTO ${tx.table('revenue')} VALUES (?, ?) ON CONFLICT (currency) DO UPDATE SET cents = excluded.cents`, [
    order.currency,
    addCents(revenue?.cents, sign * order.total_cents),
  ]);
  for (const line of JSON.parse(order.lines) as OrderLine[]) {
    const sold = tx.get<{ revenue_cents: string }>(
      `SELECT revenue_cents FROM ${tx.table('product_sales')} WHERE product_id = ?`,
      [line.productId],
    );
    tx.run(
      `INSERT INTO ${tx.table('product_sales')} VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (product_id) DO UPDATE SET units_sold = units_sold + excluded.units_sold,
         revenue_cents = excluded.revenue_cents, name = excluded.name`,
      [
        line.productId,
        line.name,
        order.currency,
        sign * line.quantity,
        addCents(sold?.revenue_cents, sign * line.quantity * line.unitPriceCents),
      ],
    );
  }
}
