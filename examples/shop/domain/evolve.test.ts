// Command handlers keep folded state in memory and evolve it further on the next command, so an evolve that
// mutated its input would corrupt the cached state of every later command. Every decider is folded over frozen state.
import type { StreamModel } from 'chronicle-es';
import { describe, expect, it } from 'vitest';
import { type CustomerEvent, customer } from './customer.js';
import { type EmailOwnerEvent, emailOwner } from './email-owner.js';
import { type OrderEvent, order } from './order.js';
import { type ProductEvent, product } from './product.js';
import { type SkuOwnerEvent, skuOwner } from './sku-owner.js';

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

// Folds like `fold`, but every state evolve receives is frozen (assigning to a frozen object throws in a module).
function foldFrozen<S, E>(model: StreamModel<S, E>, events: E[]): S {
  return events.reduce((state, event) => model.evolve(deepFreeze(state), event), deepFreeze(model.initialState));
}

const address = { street: '12 Analytical St', city: 'London', postalCode: 'N1 9GU', country: 'GB' };
const line = { productId: 'p1', sku: 'MUG-350', name: 'Mug', quantity: 2, unitPriceCents: 1450 };
const move = { productId: 'p1', orderId: 'o1', quantity: 1 };

describe('evolve returns new state and never mutates the state it is given', () => {
  it('customer', () => {
    const events: CustomerEvent[] = [
      { type: 'CustomerRegistered', data: { customerId: 'c1', name: 'Ada', email: 'ada@example.com', address } },
      {
        type: 'CustomerDetailsUpdated',
        data: { customerId: 'c1', email: 'ada@lovelace.org', address: { ...address, city: 'Paris' } },
      },
    ];
    expect(foldFrozen(customer, events)).toMatchObject({ email: 'ada@lovelace.org', address: { city: 'Paris' } });
  });

  it('product', () => {
    const events: ProductEvent[] = [
      { type: 'ProductCreated', data: { productId: 'p1', sku: 'MUG-350', name: 'Mug', priceCents: 1450, currency: 'EUR' } },
      { type: 'ProductRestocked', data: { productId: 'p1', quantity: 5 } },
      { type: 'StockReserved', data: move },
      { type: 'StockReserved', data: move },
      { type: 'StockReleased', data: move },
      { type: 'StockShipped', data: move },
      { type: 'ProductPriceChanged', data: { productId: 'p1', priceCents: 1200 } },
      { type: 'ProductDeleted', data: { productId: 'p1' } },
    ];
    expect(foldFrozen(product, events)).toMatchObject({ status: 'deleted', onHand: 4, reserved: 0, priceCents: 1200 });
  });

  it('order', () => {
    const created: OrderEvent = {
      type: 'OrderCreated',
      data: { orderId: 'o1', customerId: 'c1', customerName: 'Ada', lines: [line], currency: 'EUR', totalCents: 2900 },
    };
    const paid: OrderEvent = { type: 'OrderPaid', data: { orderId: 'o1' } };
    expect(foldFrozen(order, [created, paid, { type: 'OrderShipped', data: { orderId: 'o1' } }]).status).toBe('shipped');
    expect(foldFrozen(order, [created, paid, { type: 'OrderCancelled', data: { orderId: 'o1', wasPaid: true } }]).status).toBe(
      'cancelled',
    );
  });

  it('email and sku owners', () => {
    const email: EmailOwnerEvent[] = [
      { type: 'EmailClaimed', data: { email: 'ada@example.com', customerId: 'c1' } },
      { type: 'EmailReleased', data: { email: 'ada@example.com', customerId: 'c1' } },
      { type: 'CustomerRegistered', data: { customerId: 'c2', name: 'Eve', email: 'ada@example.com' } },
      { type: 'CustomerDetailsUpdated', data: { customerId: 'c2', email: 'eve@example.com' } },
    ];
    expect(foldFrozen(emailOwner('ada@example.com'), email)).toEqual({ email: 'ada@example.com' });
    const sku: SkuOwnerEvent[] = [{ type: 'SkuClaimed', data: { sku: 'MUG-350', productId: 'p1' } }];
    expect(foldFrozen(skuOwner('MUG-350'), sku)).toEqual({ owner: 'p1' });
  });
});
