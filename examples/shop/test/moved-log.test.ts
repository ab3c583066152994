// A log the current Shop wrote, moved to another store (what `npm run move-log` does): its tags move with it, so the
// skus and addresses it took stay taken and its reservations still count in the new store.
import { copyLog, createCommandBus, createInMemoryEventStore, type EventStore, type Principal } from 'chronicle-es';
import { describe, expect, it } from 'vitest';
import { registerCommands } from '../commands.js';

const admin: Principal = { id: 'mover', roles: ['admin'] };

function shopOn(store: EventStore) {
  const bus = createCommandBus();
  registerCommands(bus, store);
  return (name: string, payload: unknown) =>
    bus.dispatch(name, payload, { principal: admin }).then(
      () => 'ok',
      (err: { code?: string; message?: string }) => `${err.code}: ${err.message}`,
    );
}

describe('a moved log', () => {
  it('keeps its skus, addresses and reservations under the rules', async () => {
    const source = createInMemoryEventStore();
    const onSource = shopOn(source);
    await onSource('RegisterCustomer', { customerId: 'ada', name: 'Ada', email: 'ada@example.com' });
    await onSource('CreateProduct', { productId: 'mug', sku: 'MUG-350', name: 'Mug', priceCents: 100, currency: 'EUR' });
    await onSource('RestockProduct', { productId: 'mug', quantity: 3 });
    await onSource('CreateOrder', { orderId: 'o1', customerId: 'ada', lines: [{ productId: 'mug', quantity: 2 }] });

    const target = createInMemoryEventStore();
    await copyLog(source, target);
    const onTarget = shopOn(target);
    expect(
      await onTarget('CreateProduct', { productId: 'mug2', sku: 'MUG-350', name: 'Mug', priceCents: 1, currency: 'EUR' }),
    ).toBe('DOMAIN_RULE: sku MUG-350 is already used by another product');
    expect(await onTarget('RegisterCustomer', { customerId: 'eve', name: 'Eve', email: 'ADA@example.com' })).toBe(
      'DOMAIN_RULE: email ADA@example.com is already used by another customer',
    );
    expect(await onTarget('CreateOrder', { orderId: 'o2', customerId: 'ada', lines: [{ productId: 'mug', quantity: 2 }] })).toBe(
      'DOMAIN_RULE: not enough stock of MUG-350: 1 available, 2 requested',
    );
  });
});
