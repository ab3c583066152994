import { fold, type TaggedEvent } from 'chronicle-es';
import { describe, expect, it } from 'vitest';
import { cancelOrder, expireOrder, payOrder, placeOrder, shipOrder } from './checkout.js';
import { type CustomerState, customer } from './customer.js';
import { type OrderEvent, order } from './order.js';
import { type ProductEvent, type ProductState, product } from './product.js';

const ada: CustomerState = fold(customer, [
  { type: 'CustomerRegistered', data: { customerId: 'c1', name: 'Ada Lovelace', email: 'ada@example.com' } },
]);
const stocked = (productId: string, onHand: number, priceCents = 1000, currency = 'EUR', ...more: ProductEvent[]): ProductState =>
  fold(product, [
    {
      type: 'ProductCreated',
      data: { productId, sku: `SKU-${productId.toUpperCase()}`, name: `Item ${productId}`, priceCents, currency },
    },
    { type: 'ProductRestocked', data: { productId, quantity: onHand } },
    ...more,
  ]);
const create = (lines: { productId: string; quantity: number }[]) => ({
  type: 'CreateOrder' as const,
  data: { orderId: 'o1', customerId: 'c1', lines },
});
const rule = (message: string) => expect.objectContaining({ code: 'DOMAIN_RULE', message: expect.stringContaining(message) });

describe('placing an order', () => {
  it('reserves every line, prices it from the catalog and schedules its expiry with it', () => {
    const writes = placeOrder(
      create([
        { productId: 'p1', quantity: 2 },
        { productId: 'p2', quantity: 1 },
      ]),
      {
        order: order.initialState,
        customer: ada,
        products: new Map([
          ['p1', stocked('p1', 5, 1450)],
          ['p2', stocked('p2', 1, 899)],
        ]),
      },
      60_000,
    );
    expect(writes).toEqual([
      {
        streamId: 'order-o1',
        type: 'OrderCreated',
        data: {
          orderId: 'o1',
          customerId: 'c1',
          customerName: 'Ada Lovelace',
          currency: 'EUR',
          totalCents: 3799,
          lines: [
            { productId: 'p1', sku: 'SKU-P1', name: 'Item p1', quantity: 2, unitPriceCents: 1450 },
            { productId: 'p2', sku: 'SKU-P2', name: 'Item p2', quantity: 1, unitPriceCents: 899 },
          ],
          paymentTimeoutMs: 60_000,
        },
      },
      // In each product's stream, and tagged with nothing else: orders share no tag, so only a shared product conflicts.
      { streamId: 'product-p1', type: 'StockReserved', data: { productId: 'p1', orderId: 'o1', quantity: 2 } },
      { streamId: 'product-p2', type: 'StockReserved', data: { productId: 'p2', orderId: 'o1', quantity: 1 } },
      // The expiry is an event too, on the schedule's stream: it commits with the order or not at all.
      {
        streamId: 'chronicle.schedule-expire-order-o1',
        type: 'chronicle.CommandScheduled',
        data: { key: 'expire-order-o1', command: { type: 'ExpireOrder', data: { orderId: 'o1' } }, after: 60_000 },
      },
    ]);
  });

  it('waits 900 s for the payment unless told otherwise', () => {
    const writes = placeOrder(create([{ productId: 'p1', quantity: 1 }]), {
      order: order.initialState,
      customer: ada,
      products: new Map([['p1', stocked('p1', 5)]]),
    });
    expect(writes[0].data).toMatchObject({ paymentTimeoutMs: 900_000 });
    expect(writes.at(-1)).toMatchObject({ type: 'chronicle.CommandScheduled', data: { after: 900_000 } });
  });

  it('refuses the whole order when one line lacks stock', () => {
    const products = new Map([
      ['p1', stocked('p1', 5)],
      ['p2', stocked('p2', 1)],
    ]);
    expect(() =>
      placeOrder(
        create([
          { productId: 'p1', quantity: 1 },
          { productId: 'p2', quantity: 2 },
        ]),
        { order: order.initialState, customer: ada, products },
      ),
    ).toThrow(rule('1 available, 2 requested'));
  });

  it('refuses an unknown customer, an unknown or deleted product, and an existing order id', () => {
    const products = new Map([['p1', stocked('p1', 5)]]);
    const base = { order: order.initialState, customer: ada, products };
    expect(() => placeOrder(create([{ productId: 'p1', quantity: 1 }]), { ...base, customer: customer.initialState })).toThrow(
      rule('is not registered'),
    );
    expect(() =>
      placeOrder(create([{ productId: 'p9', quantity: 1 }]), { ...base, products: new Map([['p9', product.initialState]]) }),
    ).toThrow(rule('does not exist'));
    const gone = stocked('p1', 5, 1000, 'EUR', { type: 'ProductDeleted', data: { productId: 'p1' } });
    expect(() => placeOrder(create([{ productId: 'p1', quantity: 1 }]), { ...base, products: new Map([['p1', gone]]) })).toThrow(
      rule('no longer sold'),
    );
    const existing = fold(order, [
      {
        type: 'OrderCreated',
        data: { orderId: 'o1', customerId: 'c1', customerName: 'Ada', lines: [], currency: 'EUR', totalCents: 0 },
      },
    ]);
    expect(() => placeOrder(create([{ productId: 'p1', quantity: 1 }]), { ...base, order: existing })).toThrow(
      rule('already exists'),
    );
  });
});

describe('cancelling and shipping', () => {
  const placed: OrderEvent[] = [
    {
      type: 'OrderCreated',
      data: {
        orderId: 'o1',
        customerId: 'c1',
        customerName: 'Ada',
        lines: [
          { productId: 'p1', sku: 'SKU-P1', name: 'Item p1', quantity: 2, unitPriceCents: 1000 },
          { productId: 'p2', sku: 'SKU-P2', name: 'Item p2', quantity: 1, unitPriceCents: 500 },
        ],
        currency: 'EUR',
        totalCents: 2500,
        paymentTimeoutMs: 900_000,
      },
    },
  ];
  const where = (events: readonly TaggedEvent[]) => events.map((e) => [e.streamId, e.type]);
  const expiry = 'chronicle.schedule-expire-order-o1';

  it('cancelling releases every reserved line, from the order alone, and its expiry goes', () => {
    const events = cancelOrder({ type: 'CancelOrder', data: { orderId: 'o1' } }, { order: fold(order, placed) });
    expect(where(events)).toEqual([
      ['order-o1', 'OrderCancelled'],
      ['product-p1', 'StockReleased'],
      ['product-p2', 'StockReleased'],
      [expiry, 'chronicle.ScheduleCancelled'],
    ]);
    expect(events[1].data).toEqual({ productId: 'p1', orderId: 'o1', quantity: 2 });
    expect(events[3].data).toEqual({ key: 'expire-order-o1' });
  });

  it('paying cancels the expiry with the payment; paying again writes nothing', () => {
    const pay = { type: 'PayOrder' as const, data: { orderId: 'o1' } };
    expect(where(payOrder(pay, { order: fold(order, placed) }))).toEqual([
      ['order-o1', 'OrderPaid'],
      [expiry, 'chronicle.ScheduleCancelled'],
    ]);
    const paid = fold(order, [...placed, { type: 'OrderPaid', data: { orderId: 'o1' } }]);
    expect(payOrder(pay, { order: paid })).toEqual([]);
  });

  it('an order placed before expiry existed has no timer to cancel', () => {
    const [created] = placed;
    if (created.type !== 'OrderCreated') throw new Error('placed starts with OrderCreated');
    const { paymentTimeoutMs: _, ...legacy } = created.data;
    const old = fold(order, [{ type: 'OrderCreated', data: legacy }]);
    expect(where(payOrder({ type: 'PayOrder', data: { orderId: 'o1' } }, { order: old }))).toEqual([['order-o1', 'OrderPaid']]);
    expect(where(cancelOrder({ type: 'CancelOrder', data: { orderId: 'o1' } }, { order: old }))).toEqual([
      ['order-o1', 'OrderCancelled'],
      ['product-p1', 'StockReleased'],
      ['product-p2', 'StockReleased'],
    ]);
  });

  it('expiring an unpaid order releases every reserved line, as cancelling does', () => {
    const events = expireOrder({ type: 'ExpireOrder', data: { orderId: 'o1' } }, { order: fold(order, placed) });
    expect(where(events)).toEqual([
      ['order-o1', 'OrderExpired'],
      ['product-p1', 'StockReleased'],
      ['product-p2', 'StockReleased'],
    ]);
    expect(events.slice(1).map((e) => e.data)).toEqual([
      { productId: 'p1', orderId: 'o1', quantity: 2 },
      { productId: 'p2', orderId: 'o1', quantity: 1 },
    ]);
  });

  it('expiring writes nothing for an order paid, shipped, cancelled or expired already', () => {
    const expire = { type: 'ExpireOrder' as const, data: { orderId: 'o1' } };
    const placedThen = (...events: OrderEvent[]) => fold(order, [...placed, ...events]);
    const paid: OrderEvent = { type: 'OrderPaid', data: { orderId: 'o1' } };
    for (const state of [
      placedThen(paid),
      placedThen(paid, { type: 'OrderShipped', data: { orderId: 'o1' } }),
      placedThen({ type: 'OrderCancelled', data: { orderId: 'o1', wasPaid: false } }),
      placedThen({ type: 'OrderExpired', data: { orderId: 'o1' } }),
    ]) {
      expect(expireOrder(expire, { order: state }), state.status).toEqual([]);
    }
    expect(() => expireOrder(expire, { order: order.initialState })).toThrow(expect.objectContaining({ code: 'NOT_FOUND' }));
  });

  it('cancelling twice releases nothing more', () => {
    const cancelled = fold(order, [...placed, { type: 'OrderCancelled', data: { orderId: 'o1', wasPaid: false } }]);
    expect(cancelOrder({ type: 'CancelOrder', data: { orderId: 'o1' } }, { order: cancelled })).toEqual([]);
  });

  it('shipping turns the reservation into a shipment', () => {
    const paid = fold(order, [...placed, { type: 'OrderPaid', data: { orderId: 'o1' } }]);
    const events = shipOrder({ type: 'ShipOrder', data: { orderId: 'o1' } }, { order: paid });
    expect(where(events)).toEqual([
      ['order-o1', 'OrderShipped'],
      ['product-p1', 'StockShipped'],
      ['product-p2', 'StockShipped'],
    ]);
    expect(events[2].data).toEqual({ productId: 'p2', orderId: 'o1', quantity: 1 });
  });

  it('refuses to ship an unpaid order, and writes nothing for an order shipped already', () => {
    expect(() => shipOrder({ type: 'ShipOrder', data: { orderId: 'o1' } }, { order: fold(order, placed) })).toThrow(
      rule('only a paid order can be shipped'),
    );
    const shipped = fold(order, [
      ...placed,
      { type: 'OrderPaid', data: { orderId: 'o1' } },
      { type: 'OrderShipped', data: { orderId: 'o1' } },
    ]);
    expect(shipOrder({ type: 'ShipOrder', data: { orderId: 'o1' } }, { order: shipped })).toEqual([]);
  });

  it('refuses to decide an order without every line’s product', () => {
    expect(() =>
      placeOrder(create([{ productId: 'p1', quantity: 1 }]), { order: order.initialState, customer: ada, products: new Map() }),
    ).toThrow('product p1 was not loaded');
  });
});
