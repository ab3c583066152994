// Read models given events: the arithmetic of spending, revenue and stock, checked table by table.
import { createSqliteReadStore } from 'chronicle-es/sqlite';
import { projectionSpec } from 'chronicle-es/testing';
import { describe, it } from 'vitest';
import { customersProjection } from './customers.js';
import { inventoryProjection } from './inventory.js';
import { salesProjection } from './sales.js';

const readStore = () => createSqliteReadStore({ path: ':memory:' });
const lines = [
  { productId: 'mug', sku: 'MUG', name: 'Mug', quantity: 2, unitPriceCents: 1000 },
  { productId: 'tea', sku: 'TEA', name: 'Tea', quantity: 1, unitPriceCents: 500 },
];
const order = (orderId: string) => ({
  streamId: `order-${orderId}`,
  type: 'OrderCreated',
  data: { orderId, customerId: 'ada', customerName: 'Ada', lines, currency: 'EUR', totalCents: 2500 },
});
const on = (orderId: string, type: string, data: object = {}) => ({
  streamId: `order-${orderId}`,
  type,
  data: { orderId, ...data },
});

describe('customers projection', () => {
  it('counts every order and credits only paid ones, debiting a paid order that is cancelled', () =>
    projectionSpec(customersProjection, { readStore })
      .given([
        { type: 'CustomerRegistered', data: { customerId: 'ada', name: 'Ada', email: 'ada@example.com' } },
        order('o1'),
        on('o1', 'OrderPaid'),
        order('o2'),
        on('o2', 'OrderPaid'),
        on('o2', 'OrderCancelled', { wasPaid: true }),
        order('o3'),
        on('o3', 'OrderCancelled', { wasPaid: false }),
        { type: 'CustomerDetailsUpdated', data: { customerId: 'ada', email: 'ada@lovelace.org' } },
      ])
      .expectRows('customers', [
        {
          customer_id: 'ada',
          name: 'Ada',
          email: 'ada@lovelace.org',
          address: null,
          order_count: 3,
          total_spent_cents: '2500',
          spent_by_currency: '{"EUR":"2500"}',
        },
      ]));
});

describe('sales projection', () => {
  it('moves orders between statuses and books revenue once per paid order', () =>
    projectionSpec(salesProjection, { readStore })
      .given([
        order('o1'),
        on('o1', 'OrderPaid'),
        on('o1', 'OrderShipped'),
        order('o2'),
        on('o2', 'OrderPaid'),
        on('o2', 'OrderCancelled', { wasPaid: true }),
        order('o3'),
      ])
      .expectRows('status_counts', [
        { status: 'created', orders: 1 },
        { status: 'paid', orders: 0 },
        { status: 'shipped', orders: 1 },
        { status: 'cancelled', orders: 1 },
      ]));

  it('keeps revenue and units per product for paid orders only', () =>
    projectionSpec(salesProjection, { readStore })
      .given([
        order('o1'),
        on('o1', 'OrderPaid'),
        order('o2'),
        on('o2', 'OrderPaid'),
        on('o2', 'OrderCancelled', { wasPaid: true }),
      ])
      .expectRows('product_sales', [
        { product_id: 'mug', name: 'Mug', currency: 'EUR', units_sold: 2, revenue_cents: '2000' },
        { product_id: 'tea', name: 'Tea', currency: 'EUR', units_sold: 1, revenue_cents: '500' },
      ]));
});

describe('inventory projection', () => {
  it('follows restock, reserve, release and ship', () =>
    projectionSpec(inventoryProjection, { readStore })
      .given([
        {
          streamId: 'product-mug',
          type: 'ProductCreated',
          data: { productId: 'mug', sku: 'MUG', name: 'Mug', priceCents: 1, currency: 'EUR' },
        },
        { streamId: 'product-mug', type: 'ProductRestocked', data: { productId: 'mug', quantity: 10 } },
        { streamId: 'product-mug', type: 'StockReserved', data: { productId: 'mug', orderId: 'o1', quantity: 3 } },
        { streamId: 'product-mug', type: 'StockReserved', data: { productId: 'mug', orderId: 'o2', quantity: 4 } },
        { streamId: 'product-mug', type: 'StockReleased', data: { productId: 'mug', orderId: 'o1', quantity: 3 } },
        { streamId: 'product-mug', type: 'StockShipped', data: { productId: 'mug', orderId: 'o2', quantity: 4 } },
      ])
      .expectRows('stock', [{ product_id: 'mug', on_hand: 6, reserved: 0 }]));
});
