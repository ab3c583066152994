// The fulfilment process, step by step (processManagerSpec: given events, when one more, then these commands and this
// state): paid → allocate; shipped → notify (unless the shipment is old news); cancelled after payment → release; a
// refused allocation ends the process.
import { command, defineProcessManager } from 'chronicle-es';
import { processManagerSpec } from 'chronicle-es/testing';
import { describe, expect, it } from 'vitest';
import { AllocateShipment, NotifyCustomer } from '../messages/fulfilment.js';
import { OrderPaid } from '../messages/orders.js';
import { type FulfilmentState, fulfilment, NOTIFY_WITHIN_MS } from './fulfilment.js';

const NOW = Date.parse('2030-01-01T12:00:00.000Z');
const spec = processManagerSpec(fulfilment, { now: NOW });
const o1 = { orderId: 'o1' };
const paid = { type: 'OrderPaid' as const, data: o1, streamId: 'order-o1' };
const allocated = {
  type: 'ShipmentAllocated' as const,
  data: { orderId: 'o1', warehouse: 'main', lines: [{ productId: 'mug', quantity: 2 }] },
  streamId: 'shipment-o1',
};
const shipped = { type: 'OrderShipped' as const, data: o1, streamId: 'order-o1' };
const cancelled = { type: 'OrderCancelled' as const, data: { orderId: 'o1', wasPaid: true }, streamId: 'order-o1' };

describe('fulfilment', () => {
  it('allocates a paid order, keyed by its order id whatever the stream', async () => {
    const outcome = await spec
      .given([])
      .when(paid)
      .then({ send: [{ type: 'AllocateShipment', data: o1 }], state: { stage: 'allocating' } });
    expect(outcome.key).toBe('o1');
    await spec
      .given([paid])
      .when(allocated)
      .then({ state: { stage: 'allocated' } });
  });

  it('tells the customer once the order ships, and ends', async () => {
    await spec
      .given([paid, allocated])
      .when(shipped)
      .then({ send: [{ type: 'NotifyCustomer', data: { orderId: 'o1', topic: 'order-shipped' } }], state: null });
  });

  it('does not tell a customer of a shipment more than a day old (a log replayed, or older than the process)', async () => {
    const old = new Date(NOW - NOTIFY_WITHIN_MS - 1).toISOString();
    await spec
      .given([paid, allocated])
      .when({ ...shipped, metadata: { timestamp: old } })
      .then({ send: [], state: null });
    const justInTime = new Date(NOW - NOTIFY_WITHIN_MS).toISOString();
    await spec
      .given([paid, allocated])
      .when({ ...shipped, metadata: { timestamp: justInTime } })
      .then({ send: [{ type: 'NotifyCustomer', data: { orderId: 'o1', topic: 'order-shipped' } }], state: null });
  });

  it('releases the shipment of a paid order that is cancelled; an unpaid one has nothing to undo', async () => {
    await spec
      .given([paid, allocated])
      .when(cancelled)
      .then({ send: [{ type: 'ReleaseShipment', data: o1 }], state: null });
    await spec
      .given([])
      .when({ ...cancelled, data: { orderId: 'o1', wasPaid: false } })
      .then({ send: [], state: null });
  });

  it('gives up on an order whose allocation was refused (cancelled before it came): nothing to release later', async () => {
    await spec
      .given([paid])
      .whenRefused({ command: 'AllocateShipment', message: 'order is cancelled; only a paid order is allocated for shipping' })
      .then({ send: [], state: null });
    // A refused notification changes nothing.
    await spec.given([paid, allocated, shipped]).whenRefused({ command: 'NotifyCustomer' }).then({ send: [] });
  });

  it('an expired order ends the process; events without an order id are not its business', async () => {
    await spec.given([]).when({ type: 'OrderExpired', data: o1, streamId: 'order-o1' }).then({ send: [], state: null });
    const skipped = await spec
      .given([])
      .when({ type: 'OrderPaid', data: {} as { orderId: string } })
      .outcome();
    expect(skipped).toMatchObject({ key: undefined, send: [] });
  });
});

describe('its types', () => {
  it('types each step by its event and each command by its definition, so wrong uses do not compile', () => {
    const typed = defineProcessManager<FulfilmentState, typeof OrderPaid>({
      name: 'typed_fulfilment',
      version: 1,
      events: [OrderPaid],
      handlers: {
        // @ts-expect-error OrderPaid carries no customerId
        OrderPaid: ({ data }) => ({ send: [command(AllocateShipment, { orderId: data.customerId })] }),
      },
    });
    expect(typed.eventTypes).toEqual(['OrderPaid']);
    // @ts-expect-error a topic the Shop does not tell customers about
    expect(command(NotifyCustomer, { orderId: 'o1', topic: 'order-lost' }).type).toBe('NotifyCustomer');
    // @ts-expect-error AllocateShipment needs the order id
    expect(command(AllocateShipment, {}).data).toEqual({});
  });
});
