// Read models given events: the arithmetic of spending, revenue and stock, checked table by table.
import { createSqliteReadStore } from 'chronicle-es/sqlite';
import { projectionSpec } from 'chronicle-es/testing';
import { describe, it } from 'vitest';
import { customersProjection } from './customers.js';
import { inventoryProjection } from './inventory.js';
import { ordersProjection } from './orders.js';
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

  it('counts an expired order as expired, booking nothing for it', () =>
    projectionSpec(salesProjection, { readStore })
      .given([order('o1'), on('o1', 'OrderExpired'), order('o2'), on('o2', 'OrderPaid')])
      .expectRows('status_counts', [
        { status: 'created', orders: 0 },
        { status: 'expired', orders: 1 },
        { status: 'paid', orders: 1 },
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

  it('keeps a product’s open low-stock alert: raised opens it, cleared closes it', async () => {
    const created = {
      streamId: 'product-mug',
      type: 'ProductCreated',
      data: { productId: 'mug', sku: 'MUG', name: 'Mug', priceCents: 1, currency: 'EUR' },
    };
    const alert = (type: string, data: object, timestamp: string) => ({
      streamId: 'stock-alert-mug',
      type,
      data: { productId: 'mug', ...data },
      metadata: { timestamp },
    });
    await projectionSpec(inventoryProjection, { readStore })
      .given([created, alert('LowStockAlertRaised', { available: 2, threshold: 5 }, '2030-01-01T10:00:00.000Z')])
      .expectRows('low_stock', [{ product_id: 'mug', threshold: 5, since: '2030-01-01T10:00:00.000Z' }]);
    await projectionSpec(inventoryProjection, { readStore })
      .given([
        created,
        alert('LowStockAlertRaised', { available: 2, threshold: 5 }, '2030-01-01T10:00:00.000Z'),
        alert('LowStockAlertCleared', { available: 40 }, '2030-01-01T11:00:00.000Z'),
      ])
      .expectRows('low_stock', []);
  });
});

describe('orders projection', () => {
  const at = (minute: number) => ({ timestamp: `2030-01-01T00:${String(minute).padStart(2, '0')}:00.000Z` });
  const placed = (orderId: string, paymentTimeoutMs?: number) => ({
    ...order(orderId),
    data: { ...order(orderId).data, ...(paymentTimeoutMs !== undefined && { paymentTimeoutMs }) },
    metadata: at(0),
  });
  const row = (orderId: string, status: string, history: string[], timeline: Array<[string, number]>, due: string | null) => ({
    order_id: orderId,
    status,
    history: JSON.stringify(history.map((s, i) => ({ status: s, at: at(timeline.find(([t]) => t === s)?.[1] ?? i).timestamp }))),
    timeline: JSON.stringify(timeline.map(([step, minute]) => ({ step, at: at(minute).timestamp }))),
    payment_due_at: due,
  });

  it('keeps the timeline: statuses and fulfilment steps in order, and the payment deadline until the order is paid', async () => {
    const spec = projectionSpec(ordersProjection, { readStore }).given([
      placed('o1', 15 * 60_000),
      { ...on('o1', 'OrderPaid'), metadata: at(3) },
      {
        streamId: 'shipment-o1',
        type: 'ShipmentAllocated',
        data: { orderId: 'o1', warehouse: 'main', lines: [] },
        metadata: at(4),
      },
      { ...on('o1', 'OrderShipped'), metadata: at(7) },
      {
        streamId: 'notification-o1',
        type: 'CustomerNotified',
        data: { orderId: 'o1', customerId: 'ada', name: 'Ada', email: 'a@b.org', topic: 'order-shipped' },
        metadata: at(8),
      },
      placed('o2', 15 * 60_000),
      { ...on('o2', 'OrderExpired'), metadata: at(15) },
      placed('o3', 15 * 60_000),
      placed('old'),
    ]);
    await spec.then(async (reader) => {
      const rows = await reader.all<Record<string, unknown>>(
        `SELECT order_id, status, history, timeline, payment_due_at FROM ${reader.table('orders')} ORDER BY order_id`,
      );
      const expected = [
        row(
          'o1',
          'shipped',
          ['created', 'paid', 'shipped'],
          [
            ['created', 0],
            ['paid', 3],
            ['allocated', 4],
            ['shipped', 7],
            ['customer-notified', 8],
          ],
          null,
        ),
        row(
          'o2',
          'expired',
          ['created', 'expired'],
          [
            ['created', 0],
            ['expired', 15],
          ],
          null,
        ),
        row('o3', 'created', ['created'], [['created', 0]], '2030-01-01T00:15:00.000Z'),
        // Placed before expiry existed: no deadline to show.
        row('old', 'created', ['created'], [['created', 0]], null),
      ];
      if (JSON.stringify(rows) !== JSON.stringify(expected)) {
        throw new Error(`rows differ:\n${JSON.stringify(rows, null, 1)}\nexpected\n${JSON.stringify(expected, null, 1)}`);
      }
    });
  });

  it('shows a cancelled allocated order’s shipment released after the cancellation', () =>
    projectionSpec(ordersProjection, { readStore })
      .given([
        placed('o1', 60_000),
        { ...on('o1', 'OrderPaid'), metadata: at(1) },
        {
          streamId: 'shipment-o1',
          type: 'ShipmentAllocated',
          data: { orderId: 'o1', warehouse: 'main', lines: [] },
          metadata: at(2),
        },
        { ...on('o1', 'OrderCancelled', { wasPaid: true }), metadata: at(3) },
        { streamId: 'shipment-o1', type: 'ShipmentReleased', data: { orderId: 'o1', warehouse: 'main' }, metadata: at(4) },
      ])
      .then(async (reader) => {
        const got = await reader.get<{ timeline: string }>(`SELECT timeline FROM ${reader.table('orders')}`);
        const steps = (JSON.parse(got?.timeline ?? '[]') as Array<{ step: string }>).map((s) => s.step);
        if (steps.join() !== 'created,paid,allocated,cancelled,shipment-released') throw new Error(`timeline ${steps}`);
      }));
});
