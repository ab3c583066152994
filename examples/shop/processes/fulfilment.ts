// The fulfilment process: what happens to an order once it is paid, without a client driving it. Paid → allocate a
// shipment; shipped → tell the customer (an outbox event); cancelled after allocation → release the shipment. It runs
// as a projection: its state and checkpoint commit together, and each command it sends carries a key derived from
// the event, so a crash between sending and checkpointing sends nothing twice in effect.
import { command, defineProcessManager, type RecordedEvent } from 'chronicle-es';
import { AllocateShipment, NotifyCustomer, ReleaseShipment, ShipmentAllocated } from '../messages/fulfilment.js';
import { OrderCancelled, OrderExpired, OrderPaid, OrderShipped } from '../messages/orders.js';

/**
 * How late a shipment may be told to its customer: a process that meets an older OrderShipped (started on a log that
 * predates it, or replaying after its state was lost) records nothing for it. Commands it sent before are not affected.
 */
export const NOTIFY_WITHIN_MS = 24 * 60 * 60 * 1000;

/** Where an order is in fulfilment: its allocation asked for, or done. The process ends when the order does. */
export type FulfilmentState = { stage: 'allocating' | 'allocated' };

/** Every event the process follows names its order: that is its correlation key, whatever the stream. */
export function orderIdOf(event: RecordedEvent): string | undefined {
  const { data } = event;
  if (typeof data !== 'object' || data === null || !('orderId' in data)) return undefined;
  return typeof data.orderId === 'string' ? data.orderId : undefined;
}

const events = [OrderPaid, ShipmentAllocated, OrderShipped, OrderCancelled, OrderExpired] as const;

// #region fulfilment
export const fulfilment = defineProcessManager<FulfilmentState, (typeof events)[number]>({
  name: 'fulfilment',
  version: 1,
  events,
  correlate: orderIdOf,
  handlers: {
    // AllocateShipment refuses an order cancelled or expired meanwhile: such an order is never allocated.
    OrderPaid: ({ data }) => ({ state: { stage: 'allocating' }, send: [command(AllocateShipment, { orderId: data.orderId })] }),
    ShipmentAllocated: () => ({ state: { stage: 'allocated' } }),
    // A day-old shipment is no news: told now, a customer would hear of it from an old log being replayed.
    OrderShipped: ({ data, metadata }, { now }) => ({
      state: null,
      send:
        now - Date.parse(metadata.timestamp) > NOTIFY_WITHIN_MS
          ? []
          : [command(NotifyCustomer, { orderId: data.orderId, topic: 'order-shipped' })],
    }),
    // Only a paid order has a process to undo; ReleaseShipment does nothing when no allocation was made.
    OrderCancelled: ({ data }, { state }) =>
      state === undefined ? undefined : { state: null, send: [command(ReleaseShipment, { orderId: data.orderId })] },
    OrderExpired: () => ({ state: null }),
  },
  // A refused allocation is the order called off before it came: the process gives up (the refusal stays recorded).
  onRefused: (refusal) => (refusal.command.type === AllocateShipment.name ? { state: null } : undefined),
});
// #endregion fulfilment
