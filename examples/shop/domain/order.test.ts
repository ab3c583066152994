import { fold } from 'chronicle-es';
import { deciderSpec } from 'chronicle-es/testing';
import { describe, expect, it } from 'vitest';
import { checkOwner, type OrderCommand, type OrderEvent, order } from './order.js';

const line = { productId: 'p1', sku: 'MUG-350', name: 'Stoneware mug', quantity: 2, unitPriceCents: 1450 };
const created: OrderEvent = {
  type: 'OrderCreated',
  data: { orderId: 'o1', customerId: 'c1', customerName: 'Ada', lines: [line], currency: 'EUR', totalCents: 2900 },
};
const paid: OrderEvent = { type: 'OrderPaid', data: { orderId: 'o1' } };
const shipped: OrderEvent = { type: 'OrderShipped', data: { orderId: 'o1' } };
const cancelled: OrderEvent = { type: 'OrderCancelled', data: { orderId: 'o1', wasPaid: false } };

const pay: OrderCommand = { type: 'PayOrder', data: { orderId: 'o1' } };
const ship: OrderCommand = { type: 'ShipOrder', data: { orderId: 'o1' } };
const cancel: OrderCommand = { type: 'CancelOrder', data: { orderId: 'o1' } };
const expire: OrderCommand = { type: 'ExpireOrder', data: { orderId: 'o1' } };
const expired: OrderEvent = { type: 'OrderExpired', data: { orderId: 'o1' } };
const spec = deciderSpec(order);

describe('order', () => {
  it('is created with its total from the priced lines', () => {
    spec
      .given([])
      .when({
        type: 'CreateOrder',
        data: {
          orderId: 'o1',
          customerId: 'c1',
          customerName: 'Ada',
          lines: [
            { ...line, currency: 'EUR' },
            { productId: 'p2', sku: 'TEA-1', name: 'Tea', quantity: 1, unitPriceCents: 500, currency: 'EUR' },
          ],
        },
      })
      .then([
        {
          type: 'OrderCreated',
          data: {
            orderId: 'o1',
            customerId: 'c1',
            customerName: 'Ada',
            lines: [line, { productId: 'p2', sku: 'TEA-1', name: 'Tea', quantity: 1, unitPriceCents: 500 }],
            currency: 'EUR',
            totalCents: 3400,
          },
        },
      ]);
  });

  it('refuses lines priced in different currencies', () => {
    const lines = [
      { ...line, currency: 'EUR' },
      { ...line, productId: 'p2', currency: 'USD' },
    ];
    spec
      .given([])
      .when({ type: 'CreateOrder', data: { orderId: 'o1', customerId: 'c1', customerName: 'Ada', lines } })
      .thenThrows('DOMAIN_RULE', /one currency; its lines use EUR, USD/);
  });

  it('refuses to create an order twice', () => {
    spec
      .given([created])
      .when({ type: 'CreateOrder', data: { orderId: 'o1', customerId: 'c1', customerName: 'Ada', lines: [] } })
      .thenThrows('DOMAIN_RULE', 'order "o1" already exists');
  });

  it('goes created → paid → shipped; repeating a step is a no-op', () => {
    spec.given([created]).when(pay).then([paid]);
    spec.given([created, paid]).when(pay).then([]);
    spec.given([created, paid]).when(ship).then([shipped]);
    spec.given([created, paid, shipped]).when(ship).then([]);
    expect(order.isTerminal?.(fold(order, [created, paid, shipped]))).toBe(true);
  });

  it('refuses steps out of order', () => {
    spec.given([created]).when(ship).thenThrows('DOMAIN_RULE', 'order is created; only a paid order can be shipped');
    spec
      .given([created, paid, shipped])
      .when(pay)
      .thenThrows('DOMAIN_RULE', 'order is shipped; only a created order can be paid');
    spec.given([created, cancelled]).when(pay).thenThrows('DOMAIN_RULE', 'order is cancelled; only a created order can be paid');
    spec.given([created, cancelled]).when(ship).thenThrows('DOMAIN_RULE', 'order is cancelled; only a paid order can be shipped');
  });

  it('cancels before shipping, remembering whether it was paid', () => {
    spec.given([created]).when(cancel).then([cancelled]);
    spec
      .given([created, paid])
      .when({ type: 'CancelOrder', data: { orderId: 'o1', reason: 'changed my mind' } })
      .then([{ type: 'OrderCancelled', data: { orderId: 'o1', reason: 'changed my mind', wasPaid: true } }]);
    spec.given([created, cancelled]).when(cancel).then([]);
    spec
      .given([created, paid, shipped])
      .when(cancel)
      .thenThrows('DOMAIN_RULE', 'order has shipped; it can no longer be cancelled');
  });

  it('expires only while unpaid; an expired order is closed: no payment, no shipping, cancelling is a no-op', () => {
    spec.given([created]).when(expire).then([expired]);
    for (const history of [
      [created, paid],
      [created, paid, shipped],
      [created, cancelled],
      [created, expired],
    ]) {
      spec.given(history).when(expire).then([]);
    }
    spec.given([created, expired]).when(pay).thenThrows('DOMAIN_RULE', 'order is expired; only a created order can be paid');
    spec.given([created, expired]).when(ship).thenThrows('DOMAIN_RULE', 'order is expired; only a paid order can be shipped');
    spec.given([created, expired]).when(cancel).then([]);
    expect(order.isTerminal?.(fold(order, [created, expired]))).toBe(true);
  });

  it('keeps the payment timeout the order was placed with', () => {
    spec
      .given([])
      .when({
        type: 'CreateOrder',
        data: {
          orderId: 'o1',
          customerId: 'c1',
          customerName: 'Ada',
          lines: [{ ...line, currency: 'EUR' }],
          paymentTimeoutMs: 60_000,
        },
      })
      .then([{ type: 'OrderCreated', data: { ...created.data, paymentTimeoutMs: 60_000 } }]);
    expect(fold(order, [{ type: 'OrderCreated', data: { ...created.data, paymentTimeoutMs: 60_000 } }])).toMatchObject({
      paymentTimeoutMs: 60_000,
    });
    expect(fold(order, [created])).not.toHaveProperty('paymentTimeoutMs');
  });

  it('answers NOT_FOUND for an unknown order', () => {
    for (const command of [pay, ship, cancel, expire])
      spec.given([]).when(command).thenThrows('NOT_FOUND', 'order "o1" does not exist');
  });

  it('lets a customer act only on its own order (answering as for an unknown order, checked before deciding)', () => {
    const forbidden = expect.objectContaining({ code: 'NOT_FOUND', message: 'order "o1" does not exist' });
    expect(() => checkOwner(fold(order, [created]), 'c2')).toThrow(forbidden);
    // Even a no-op repeat is refused, so another customer learns nothing about the order's state.
    expect(() => checkOwner(fold(order, [created, cancelled]), 'c2')).toThrow(forbidden);
    expect(() => checkOwner(fold(order, [created]), 'c1')).not.toThrow();
    // Staff act for anyone; an unknown order is left to the decider's NOT_FOUND.
    expect(() => checkOwner(fold(order, [created]), undefined)).not.toThrow();
    expect(() => checkOwner(order.initialState, 'c2')).not.toThrow();
  });
});
