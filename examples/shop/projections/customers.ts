// Read model of GetCustomerById: one row per customer with its order count and spending.
import { defineProjection, FORGOTTEN, type SqlReadTx } from 'chronicle-es';
import { shopEvents } from '../messages/events.js';
import { addCents } from './cents-sum.js';
import { createTables, text } from './sql.js';

export const customersProjection = defineProjection({
  name: 'customers',
  // 2: spending sums became decimal strings (cents-sum.ts).
  version: 2,
  events: shopEvents,
  setup(tx: SqlReadTx) {
    return createTables(tx, [
      `CREATE TABLE ${tx.table('customers')} (
        customer_id ${text(tx)} PRIMARY KEY,
        name ${text(tx)} NOT NULL,
        email ${text(tx)} NOT NULL,
        address ${text(tx)},
        order_count BIGINT NOT NULL DEFAULT 0,
        total_spent_cents ${text(tx)} NOT NULL DEFAULT '0',
        spent_by_currency ${text(tx)} NOT NULL DEFAULT '{}'
      )`,
      // Who placed which order and for how much, so payments and cancellations can be credited to the customer.
      `CREATE TABLE ${tx.table('orders')} (
        order_id ${text(tx)} PRIMARY KEY,
        customer_id ${text(tx)} NOT NULL,
        currency ${text(tx)} NOT NULL,
        total_cents BIGINT NOT NULL
      )`,
    ]);
  },
  handlers: {
    async CustomerRegistered(event, tx) {
      const { customerId, name, email, address } = event.data;
      await tx.run(`INSERT INTO ${tx.table('customers')} (customer_id, name, email, address) VALUES (?, ?, ?, ?)`, [
        customerId,
        name,
        email,
        address ? JSON.stringify(address) : null,
      ]);
    },
    async CustomerDetailsUpdated(event, tx) {
      const { customerId, name, email, address } = event.data;
      await tx.run(
        `UPDATE ${tx.table('customers')}
         SET name = coalesce(?, name), email = coalesce(?, email), address = coalesce(?, address) WHERE customer_id = ?`,
        [name ?? null, email ?? null, address ? JSON.stringify(address) : null, customerId],
      );
    },
    // Forgotten: the row keeps its id and its order figures, nothing personal. (Rebuilt, the events read as "[forgotten]".)
    async CustomerForgotten(event, tx) {
      await tx.run(`UPDATE ${tx.table('customers')} SET name = ?, email = ?, address = NULL WHERE customer_id = ?`, [
        FORGOTTEN,
        FORGOTTEN,
        event.data.customerId,
      ]);
    },
    async OrderCreated(event, tx) {
      const { orderId, customerId, currency, totalCents } = event.data;
      await tx.run(`INSERT INTO ${tx.table('orders')} VALUES (?, ?, ?, ?)`, [orderId, customerId, currency, totalCents]);
      await tx.run(`UPDATE ${tx.table('customers')} SET order_count = order_count + 1 WHERE customer_id = ?`, [customerId]);
    },
    OrderPaid: (event, tx) => credit(tx, event.data.orderId, 1),
    async OrderCancelled(event, tx) {
      const { orderId, wasPaid } = event.data;
      if (wasPaid) await credit(tx, orderId, -1);
    },
  },
});

async function credit(tx: SqlReadTx, orderId: string, sign: 1 | -1): Promise<void> {
  const order = await tx.get<{ customer_id: string; currency: string; total_cents: number }>(
    `SELECT customer_id, currency, total_cents FROM ${tx.table('orders')} WHERE order_id = ?`,
    [orderId],
  );
  if (!order) return;
  const customer = await tx.get<{ total_spent_cents: string; spent_by_currency: string }>(
    `SELECT total_spent_cents, spent_by_currency FROM ${tx.table('customers')} WHERE customer_id = ?`,
    [order.customer_id],
  );
  if (!customer) return;
  // Sums across orders may pass 2^53: added exactly in JS and stored as decimal strings (cents-sum.ts).
  const amount = sign * order.total_cents;
  const byCurrency = JSON.parse(customer.spent_by_currency) as Record<string, string>;
  byCurrency[order.currency] = addCents(byCurrency[order.currency], amount);
  await tx.run(`UPDATE ${tx.table('customers')} SET total_spent_cents = ?, spent_by_currency = ? WHERE customer_id = ?`, [
    addCents(customer.total_spent_cents, amount),
    JSON.stringify(byCurrency),
    order.customer_id,
  ]);
}
