// The commands the Shop's workflows send — ExpireOrder, AllocateShipment, ReleaseShipment, NotifyCustomer and the
// low-stock alerts — through the real wiring (registerCommands over an in-memory store): given the log, when the
// command, then exactly these events, or this refusal with nothing written. And who may send them.
import { createCommandBus, createInMemoryEventStore, type Principal, type TaggedEvent } from 'chronicle-es';
import { decisionSpec } from 'chronicle-es/testing';
import { describe, expect, it } from 'vitest';
import { registerCommands } from './commands.js';

const workflows: Principal = { id: 'chronicle-workflows', roles: ['system'] };
const admin: Principal = { id: 'root', roles: ['admin'] };

const shop = decisionSpec((store) => {
  const bus = createCommandBus();
  registerCommands(bus, store);
  return (command, context) => bus.dispatch(command.type, command.data, { principal: workflows, ...context });
});

const line = { productId: 'mug', sku: 'MUG-350', name: 'Mug', quantity: 2, unitPriceCents: 1450 };
const ada: TaggedEvent = {
  streamId: 'customer-ada',
  type: 'CustomerRegistered',
  data: { customerId: 'ada', name: 'Ada Lovelace', email: 'ada@example.com' },
};
const mug: TaggedEvent[] = [
  {
    streamId: 'product-mug',
    type: 'ProductCreated',
    data: { productId: 'mug', sku: 'MUG-350', name: 'Mug', priceCents: 1450, currency: 'EUR' },
  },
  { streamId: 'product-mug', type: 'ProductRestocked', data: { productId: 'mug', quantity: 10 } },
];
const placed: TaggedEvent[] = [
  ada,
  ...mug,
  {
    streamId: 'order-o1',
    type: 'OrderCreated',
    data: {
      orderId: 'o1',
      customerId: 'ada',
      customerName: 'Ada Lovelace',
      lines: [line],
      currency: 'EUR',
      totalCents: 2900,
      paymentTimeoutMs: 900_000,
    },
  },
  { streamId: 'product-mug', type: 'StockReserved', data: { productId: 'mug', orderId: 'o1', quantity: 2 } },
];
const on = (type: string, data: object = {}): TaggedEvent => ({ streamId: 'order-o1', type, data: { orderId: 'o1', ...data } });
const paid = [...placed, on('OrderPaid')];
const allocated: TaggedEvent = {
  streamId: 'shipment-o1',
  type: 'ShipmentAllocated',
  data: { orderId: 'o1', warehouse: 'main', lines: [{ productId: 'mug', quantity: 2 }] },
};
const o1 = { orderId: 'o1' };

describe('ExpireOrder', () => {
  it('expires an unpaid order and returns its units', async () => {
    await shop
      .given(placed)
      .when({ type: 'ExpireOrder', data: o1 })
      .then([
        on('OrderExpired'),
        { streamId: 'product-mug', type: 'StockReleased', data: { productId: 'mug', orderId: 'o1', quantity: 2 } },
      ]);
  });

  it('does nothing for an order paid, shipped, cancelled or expired already — the safety net behind the cancel', async () => {
    for (const history of [
      paid,
      [...paid, on('OrderShipped')],
      [...placed, on('OrderCancelled', { wasPaid: false })],
      [...placed, on('OrderExpired')],
    ]) {
      const result = await shop.given(history).when({ type: 'ExpireOrder', data: o1 }).then([]);
      expect(result).toMatchObject({ streamId: 'order-o1' });
    }
  });

  it('refuses an order that does not exist', async () => {
    await shop
      .given([])
      .when({ type: 'ExpireOrder', data: { orderId: 'ghost' } })
      .thenFails('NOT_FOUND');
  });
});

describe('AllocateShipment', () => {
  it('allocates a paid order’s lines on its shipment stream, once', async () => {
    await shop.given(paid).when({ type: 'AllocateShipment', data: o1 }).then([allocated]);
    await shop
      .given([...paid, allocated])
      .when({ type: 'AllocateShipment', data: o1 })
      .then([]);
  });

  it('never allocates an order not paid, or called off before the allocation came', async () => {
    await shop
      .given(placed)
      .when({ type: 'AllocateShipment', data: o1 })
      .thenFails('DOMAIN_RULE', /order is created/);
    await shop
      .given([...paid, on('OrderCancelled', { wasPaid: true })])
      .when({ type: 'AllocateShipment', data: o1 })
      .thenFails('DOMAIN_RULE', /order is cancelled; only a paid order is allocated/);
    await shop
      .given([...placed, on('OrderExpired')])
      .when({ type: 'AllocateShipment', data: o1 })
      .thenFails('DOMAIN_RULE', /order is expired/);
    await shop.given([]).when({ type: 'AllocateShipment', data: o1 }).thenFails('NOT_FOUND');
  });
});

describe('ReleaseShipment', () => {
  const cancelled = [...paid, allocated, on('OrderCancelled', { wasPaid: true })];
  it('releases a cancelled order’s allocation, once; without one it does nothing', async () => {
    const released = { streamId: 'shipment-o1', type: 'ShipmentReleased', data: { orderId: 'o1', warehouse: 'main' } };
    await shop.given(cancelled).when({ type: 'ReleaseShipment', data: o1 }).then([released]);
    await shop
      .given([...cancelled, released])
      .when({ type: 'ReleaseShipment', data: o1 })
      .then([]);
    await shop
      .given([...paid, on('OrderCancelled', { wasPaid: true })])
      .when({ type: 'ReleaseShipment', data: o1 })
      .then([]);
  });

  it('refuses to release the allocation of an order still going ahead', async () => {
    await shop
      .given([...paid, allocated])
      .when({ type: 'ReleaseShipment', data: o1 })
      .thenFails('DOMAIN_RULE', /order is paid; only a cancelled order's shipment is released/);
  });
});

describe('NotifyCustomer', () => {
  const shipped = [...paid, allocated, on('OrderShipped')];
  const notified = {
    streamId: 'notification-o1',
    type: 'CustomerNotified',
    data: { orderId: 'o1', customerId: 'ada', name: 'Ada Lovelace', email: 'ada@example.com', topic: 'order-shipped' },
  };
  it('writes the outbox event for a shipped order, with the address the customer has now, once', async () => {
    const moved = {
      streamId: 'customer-ada',
      type: 'CustomerDetailsUpdated',
      data: { customerId: 'ada', email: 'ada@lovelace.org' },
    };
    await shop
      .given([...shipped, moved])
      .when({ type: 'NotifyCustomer', data: { orderId: 'o1', topic: 'order-shipped' } })
      .then([{ ...notified, data: { ...notified.data, email: 'ada@lovelace.org' } }]);
    await shop
      .given([...shipped, notified])
      .when({ type: 'NotifyCustomer', data: { orderId: 'o1', topic: 'order-shipped' } })
      .then([]);
  });

  it('refuses an order that has not shipped, and one that does not exist', async () => {
    await shop
      .given(paid)
      .when({ type: 'NotifyCustomer', data: { orderId: 'o1', topic: 'order-shipped' } })
      .thenFails('DOMAIN_RULE', /order is paid/);
    await shop
      .given([])
      .when({ type: 'NotifyCustomer', data: { orderId: 'o1', topic: 'order-shipped' } })
      .thenFails('NOT_FOUND');
    await shop
      .given(shipped)
      .when({ type: 'NotifyCustomer', data: { orderId: 'o1', topic: 'order-lost' } } as never)
      .thenFails('VALIDATION_FAILED');
  });
});

describe('low-stock alerts', () => {
  const raised = {
    streamId: 'stock-alert-mug',
    type: 'LowStockAlertRaised',
    data: { productId: 'mug', available: 3, threshold: 5 },
  };
  const cleared = { streamId: 'stock-alert-mug', type: 'LowStockAlertCleared', data: { productId: 'mug', available: 12 } };
  it('raises an alert once and clears it once', async () => {
    await shop.given(mug).when({ type: 'RaiseLowStockAlert', data: raised.data }).then([raised]);
    await shop
      .given([...mug, raised])
      .when({ type: 'RaiseLowStockAlert', data: raised.data })
      .then([]);
    await shop
      .given([...mug, raised])
      .when({ type: 'ClearLowStockAlert', data: cleared.data })
      .then([cleared]);
    await shop.given(mug).when({ type: 'ClearLowStockAlert', data: cleared.data }).then([]);
    await shop
      .given([...mug, raised, cleared])
      .when({ type: 'RaiseLowStockAlert', data: raised.data })
      .then([raised]);
  });

  it('refuses an alert for a product that does not exist, and a threshold below 1', async () => {
    await shop.given([]).when({ type: 'RaiseLowStockAlert', data: raised.data }).thenFails('NOT_FOUND');
    await shop
      .given(mug)
      .when({ type: 'RaiseLowStockAlert', data: { ...raised.data, threshold: 0 } })
      .thenFails('VALIDATION_FAILED');
  });

  it('never conflicts with the stock moves of its product: it reads only the product’s creation', async () => {
    const store = createInMemoryEventStore();
    const bus = createCommandBus();
    registerCommands(bus, store);
    await store.append(mug);
    const reads: unknown[] = [];
    const read = (query: Parameters<typeof store.read>[0]) => {
      reads.push(query);
      return store.read(query);
    };
    const spy = { ...store, read };
    const spied = createCommandBus();
    registerCommands(spied, spy as typeof store);
    await spied.dispatch('RaiseLowStockAlert', raised.data, { principal: workflows });
    expect(JSON.stringify(reads)).not.toContain('ProductRestocked');
    expect(JSON.stringify(reads)).toContain('ProductCreated');
  });
});

describe('who may send the workflows’ commands', () => {
  const store = createInMemoryEventStore();
  const bus = createCommandBus();
  registerCommands(bus, store);
  const code = (name: string, payload: unknown, principal?: Principal) =>
    bus.dispatch(name, payload, { principal }).then(
      () => 'ok',
      (err: { code?: string }) => err.code,
    );
  const commands: Array<[string, unknown]> = [
    ['ExpireOrder', o1],
    ['AllocateShipment', o1],
    ['ReleaseShipment', o1],
    ['NotifyCustomer', { orderId: 'o1', topic: 'order-shipped' }],
    ['RaiseLowStockAlert', { productId: 'mug', available: 1, threshold: 5 }],
    ['ClearLowStockAlert', { productId: 'mug', available: 9 }],
  ];

  it('the workflows principal and admin; no customer, clerk or reader, and a refusal writes nothing', async () => {
    for (const [name, payload] of commands) {
      for (const roles of [['customer'], ['clerk'], ['reader']]) {
        expect(await code(name, payload, { id: 'ada', roles }), `${name} as ${roles}`).toBe('FORBIDDEN');
      }
      expect(await code(name, payload), name).toBe('UNAUTHENTICATED');
      // Past the roles, the decision answers (nothing exists here): the sender was admitted.
      expect(await code(name, payload, workflows), name).toBe('NOT_FOUND');
      expect(await code(name, payload, admin), name).toBe('NOT_FOUND');
    }
    expect(await store.headPosition()).toBe(0);
  });
});
