import { fold } from 'chronicle';
import { describe, expect, it } from 'vitest';
import { type OrderCommand, type OrderEvent, order } from './order.js';

const line = { productId: 'p1', sku: 'MUG-350', name: 'Stoneware mug', quantity: 2, unitPriceCents: 1450 };
const created: OrderEvent = {
  type: 'OrderCreated',
  data: { orderId: 'o1', customerId: 'c1', customerName: 'Ada', lines: [line], currency: 'EUR', totalCents: 2900 },
};
const paid: OrderEvent = { type: 'OrderPaid', data: { orderId: 'o1' } };
const shipped: OrderEvent = { type: 'OrderShipped', data: { orderId: 'o1' } };
const cancelled: OrderEvent = { type: 'OrderCancelled', data: { orderId: 'o1', wasPaid: false } };

const decide = (given: OrderEvent[], command: OrderCommand) => order.decide(command, fold(order, given));
const pay: OrderCommand = { type: 'PayOrder', data: { orderId: 'o1' } };
const ship: OrderCommand = { type: 'ShipOrder', data: { orderId: 'o1' } };
const cancel: OrderCommand = { type: 'CancelOrder', data: { orderId: 'o1' } };
const rule = (message: string) => expect.objectContaining({ code: 'DOMAIN_RULE', message: expect.stringContaining(message) });

describe('order', () => {
  it('is created with its total from the priced lines', () => {
    const events = decide([], {
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
    });
    expect(events).toEqual([
      {
        type: 'OrderCreated',
        data: expect.objectContaining({
          currency: 'EUR',
          totalCents: 3400,
          lines: [line, expect.objectContaining({ sku: 'TEA-1' })],
        }),
      },
    ]);
  });

  it('refuses lines priced in different currencies', () => {
    expect(() =>
      decide([], {
        type: 'CreateOrder',
        data: {
          orderId: 'o1',
          customerId: 'c1',
          customerName: 'Ada',
          lines: [
            { ...line, currency: 'EUR' },
            { ...line, productId: 'p2', currency: 'USD' },
          ],
        },
      }),
    ).toThrow(rule('one currency'));
  });

  it('refuses to create an order twice', () => {
    expect(() =>
      decide([created], { type: 'CreateOrder', data: { orderId: 'o1', customerId: 'c1', customerName: 'Ada', lines: [] } }),
    ).toThrow(rule('already exists'));
  });

  it('goes created → paid → shipped; repeating a step is a no-op', () => {
    expect(decide([created], pay)).toEqual([paid]);
    expect(decide([created, paid], pay)).toEqual([]);
    expect(decide([created, paid], ship)).toEqual([shipped]);
    expect(decide([created, paid, shipped], ship)).toEqual([]);
    expect(fold(order, [created, paid, shipped])).toMatchObject({ status: 'shipped' });
    expect(order.isTerminal?.(fold(order, [created, paid, shipped]))).toBe(true);
  });

  it('refuses steps out of order', () => {
    expect(() => decide([created], ship)).toThrow(rule('only a paid order can be shipped'));
    expect(() => decide([created, paid, shipped], pay)).toThrow(rule('only a created order can be paid'));
    expect(() => decide([created, cancelled], pay)).toThrow(rule('only a created order can be paid'));
    expect(() => decide([created, cancelled], ship)).toThrow(rule('only a paid order can be shipped'));
  });

  it('cancels before shipping, remembering whether it was paid', () => {
    expect(decide([created], cancel)).toEqual([cancelled]);
    expect(decide([created, paid], { type: 'CancelOrder', data: { orderId: 'o1', reason: 'changed my mind' } })).toEqual([
      { type: 'OrderCancelled', data: { orderId: 'o1', reason: 'changed my mind', wasPaid: true } },
    ]);
    expect(decide([created, cancelled], cancel)).toEqual([]);
    expect(() => decide([created, paid, shipped], cancel)).toThrow(rule('can no longer be cancelled'));
  });

  it('answers NOT_FOUND for an unknown order', () => {
    for (const command of [pay, ship, cancel]) {
      expect(() => decide([], command)).toThrow(expect.objectContaining({ code: 'NOT_FOUND' }));
    }
  });

  it('lets a customer pay or cancel only its own order (FORBIDDEN, nothing decided)', () => {
    expect(() => decide([created], { type: 'PayOrder', data: { orderId: 'o1', onlyFor: 'c2' } })).toThrow(
      expect.objectContaining({ code: 'FORBIDDEN' }),
    );
    // Even a no-op repeat is refused, so another customer learns nothing about the order's state.
    expect(() => decide([created, cancelled], { type: 'CancelOrder', data: { orderId: 'o1', onlyFor: 'c2' } })).toThrow(
      expect.objectContaining({ code: 'FORBIDDEN' }),
    );
    expect(decide([created], { type: 'PayOrder', data: { orderId: 'o1', onlyFor: 'c1' } })).toEqual([paid]);
  });
});
