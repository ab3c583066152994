// Read model of GetSalesSummary: orders per status, revenue per currency, and units sold per product.
// Revenue counts paid orders (shipped ones included); cancelling a paid order takes it back out.
import { defineProjection, type SqlReadTx } from 'chronicle-es';
import { shopEvents } from '../messages/events.js';
import type { OrderLine, OrderStatus } from '../messages/orders.js';
import { addCents } from './cents-sum.js';
import { createTables, text } from './sql.js';

export const salesProjection = defineProjection({
  name: 'sales',
  // 2: revenue sums became decimal strings (cents-sum.ts).
  version: 2,
  events: shopEvents,
  setup(tx: SqlReadTx) {
    return createTables(tx, [
      `CREATE TABLE ${tx.table('status_counts')} (status ${text(tx)} PRIMARY KEY, orders BIGINT NOT NULL)`,
      `CREATE TABLE ${tx.table('revenue')} (currency ${text(tx)} PRIMARY KEY, cents ${text(tx)} NOT NULL)`,
      `CREATE TABLE ${tx.table('product_sales')} (
        product_id ${text(tx)} PRIMARY KEY,
        name ${text(tx)} NOT NULL,
        currency ${text(tx)} NOT NULL,
        units_sold BIGINT NOT NULL,
        revenue_cents ${text(tx)} NOT NULL
      )`,
      `CREATE INDEX ${tx.table('product_sales_by_units')} ON ${tx.table('product_sales')} (units_sold DESC, product_id)`,
      // What each order contributes, so a later payment or cancellation can be counted against it.
      `CREATE TABLE ${tx.table('orders')} (
        order_id ${text(tx)} PRIMARY KEY,
        status ${text(tx)} NOT NULL,
        currency ${text(tx)} NOT NULL,
        total_cents BIGINT NOT NULL,
        lines ${text(tx)} NOT NULL
      )`,
    ]);
  },
  handlers: {
    async OrderCreated(event, tx) {
      const { orderId, currency, totalCents, lines } = event.data;
      await tx.run(`INSERT INTO ${tx.table('orders')} VALUES (?, 'created', ?, ?, ?)`, [
        orderId,
        currency,
        totalCents,
        JSON.stringify(lines),
      ]);
      await count(tx, 'created', 1);
    },
    async OrderPaid(event, tx) {
      const order = await moveTo(tx, event.data.orderId, 'paid');
      if (order) await book(tx, order, 1);
    },
    async OrderShipped(event, tx) {
      await moveTo(tx, event.data.orderId, 'shipped');
    },
    async OrderCancelled(event, tx) {
      const { orderId, wasPaid } = event.data;
      const order = await moveTo(tx, orderId, 'cancelled');
      if (order && wasPaid) await book(tx, order, -1);
    },
    // Only an unpaid order expires: nothing was booked for it.
    async OrderExpired(event, tx) {
      await moveTo(tx, event.data.orderId, 'expired');
    },
  },
});

type OrderRow = { status: OrderStatus; currency: string; total_cents: number; lines: string };

async function moveTo(tx: SqlReadTx, orderId: string, status: OrderStatus): Promise<OrderRow | undefined> {
  const order = await tx.get<OrderRow>(
    `SELECT status, currency, total_cents, lines FROM ${tx.table('orders')} WHERE order_id = ?`,
    [orderId],
  );
  if (!order) return undefined;
  await tx.run(`UPDATE ${tx.table('orders')} SET status = ? WHERE order_id = ?`, [status, orderId]);
  await count(tx, order.status, -1);
  await count(tx, status, 1);
  return order;
}

// The target is aliased: PostgreSQL finds a bare column in DO UPDATE ambiguous between the row and `excluded`.
async function count(tx: SqlReadTx, status: OrderStatus, delta: number): Promise<void> {
  await tx.run(
    `INSERT INTO ${tx.table('status_counts')} AS c VALUES (?, ?)
     ON CONFLICT (status) DO UPDATE SET orders = c.orders + excluded.orders`,
    [status, delta],
  );
}

// Money sums are read, added in JS (cents-sum.ts) and written back. Units stay integers: every unit sold was restocked
// first, at most 10^6 a restock, so passing 2^53 units of one product takes some 9 · 10^9 restocks of it.
async function book(tx: SqlReadTx, order: OrderRow, sign: 1 | -1): Promise<void> {
  const revenue = await tx.get<{ cents: string }>(`SELECT cents FROM ${tx.table('revenue')} WHERE currency = ?`, [
    order.currency,
  ]);
  await tx.run(`INSERT INTO ${tx.table('revenue')} VALUES (?, ?) ON CONFLICT (currency) DO UPDATE SET cents = excluded.cents`, [
    order.currency,
    addCents(revenue?.cents, sign * order.total_cents),
  ]);
  for (const line of JSON.parse(order.lines) as OrderLine[]) {
    const sold = await tx.get<{ revenue_cents: string }>(
      `SELECT revenue_cents FROM ${tx.table('product_sales')} WHERE product_id = ?`,
      [line.productId],
    );
    await tx.run(
      `INSERT INTO ${tx.table('product_sales')} AS s VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (product_id) DO UPDATE SET units_sold = s.units_sold + excluded.units_sold,
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
