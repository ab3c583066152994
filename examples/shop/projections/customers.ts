// Read model of GetCustomerById: one row per customer with its order count and spending.
import { defineProjection } from 'chronicle-es';
import type { SqliteReadTx } from 'chronicle-es/sqlite';
import { shopEvents } from '../messages/events.js';
import { addCents } from './cents-sum.js';

export const customersProjection = defineProjection({
  name: 'customers',
  // 2: spending sums became decimal strings (cents-sum.ts).
  version: 2,
  events: shopEvents,
  setup(tx: SqliteReadTx) {
    tx.run(`CREATE TABLE ${tx.table('customers')} (
      customer_id TEXT PRIMARY KEY,
      name TEXT NOT NULL,
      email TEXT NOT NULL,
      address TEXT,
      order_count INTEGER NOT NULL DEFAULT 0,
      total_spent_cents TEXT NOT NULL DEFAULT '0',
      spent_by_currency TEXT NOT NULL DEFAULT '{}'
    )`);
    // Who placed which order and for how much, so payments and cancellations can be credited to the customer.
    tx.run(`CREATE TABLE ${tx.table('orders')} (
      order_id TEXT PRIMARY KEY,
      customer_id TEXT NOT NULL,
      currency TEXT NOT NULL,
      total_cents INTEGER NOT NULL
    )`);
  },
  handlers: {
    CustomerRegistered(event, tx) {
      const { customerId, name, email, address } = event.data;
      tx.run(`INSERT INTO ${tx.table('customers')} (customer_id, name, email, address) VALUES (?, ?, ?, ?)`, [
        customerId,
        name,
        email,
        address ? JSON.stringify(address) : null,
      ]);
    },
    CustomerDetailsUpdated(event, tx) {
      const { customerId, name, email, address } = event.data;
      tx.run(
        `UPDATE ${tx.table('customers')}
         SET name = coalesce(?, name), email = coalesce(?, email), address = coalesce(?, address) WHERE customer_id = ?`,
        [name ?? null, email ?? null, address ? JSON.stringify(address) : null, customerId],
      );
    },
    OrderCreated(event, tx) {
      const { orderId, customerId, currency, totalCents } = event.data;
      tx.run(`INSERT INTO ${tx.table('orders')} VALUES (?, ?, ?, ?)`, [orderId, customerId, currency, totalCents]);
      tx.run(`UPDATE ${tx.table('customers')} SET order_count = order_count + 1 WHERE customer_id = ?`, [customerId]);
    },
    OrderPaid(event, tx) {
      credit(tx, event.data.orderId, 1);
    },
    OrderCancelled(event, tx) {
      const { orderId, wasPaid } = event.data;
      if (wasPaid) credit(tx, orderId, -1);
    },
  },
});

function credit(tx: SqliteReadTx, orderId: string, sign: 1 | -1): void {
  const order = tx.get<{ customer_id: string; currency: string; total_cents: number }>(
    `SELECT customer_id, currency, total_cents FROM ${tx.table('orders')} WHERE order_id = ?`,
    [orderId],
  );
  if (!order) return;
  const customer = tx.get<{ total_spent_cents: string; spent_by_currency: string }>(
    `SELECT total_spent_cents, spent_by_currency FROM ${tx.table('customers')} WHERE customer_id = ?`,
    [order.customer_id],
  );
  if (!customer) return;
  // Sums across orders may pass 2^53: added exactly in JS and stored as decimal strings (cents-sum.ts).
  const amount = sign * order.total_cents;
  const byCurrency = JSON.parse(customer.spent_by_currency) as Record<string, string>;
  byCurrency[order.currency] = addCents(byCurrency[order.currency], amount);
  tx.run(`UPDATE ${tx.table('customers')} SET total_spent_cents = ?, spent_by_currency = ? WHERE customer_id = ?`, [
    addCents(customer.total_spent_cents, amount),
    JSON.stringify(byCurrency),
    order.customer_id,
  ]);
}
