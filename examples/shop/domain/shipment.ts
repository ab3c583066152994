// A shipment: a paid order's units set aside in the warehouse, on a stream of its own (shipment-<orderId>), so
// allocating never conflicts with anything the customer or the clerk does to the order.
import { type CommandOf, type DecisionModel, domainError, type EventOf, Query } from 'chronicle-es';
import {
  type AllocateShipment,
  type ReleaseShipment,
  type ShipmentAllocated,
  type ShipmentReleased,
  WAREHOUSE,
} from '../messages/fulfilment.js';
import { type InStream, inStream } from './in-stream.js';
import type { OrderState } from './order.js';
import { notFound } from './refusals.js';

export type ShipmentEvent = EventOf<typeof ShipmentAllocated> | EventOf<typeof ShipmentReleased>;
export type ShipmentState = { status: 'none' } | { status: 'allocated' | 'released'; warehouse: string };

export const shipmentStreamId = (orderId: string) => `shipment-${orderId}`;

const initialState: ShipmentState = { status: 'none' };
const evolve = (_state: ShipmentState, event: ShipmentEvent): ShipmentState => ({
  status: event.type === 'ShipmentAllocated' ? 'allocated' : 'released',
  warehouse: event.data.warehouse,
});

/** What a decision reads about an order's shipment: its stream's events. */
export const shipmentModel = (orderId: string): DecisionModel<ShipmentState, ShipmentEvent> => ({
  query: Query.tags(shipmentStreamId(orderId)),
  initialState,
  evolve,
});

/**
 * Allocates a paid order's lines in the warehouse, once: a repeat writes nothing. An order that is not paid — not
 * yet, or no longer (cancelled or expired before the allocation came), or shipped already — is refused, so an order
 * that was called off is never allocated. @throws NOT_FOUND no such order; DOMAIN_RULE not a paid order
 */
export function allocateShipment(
  command: CommandOf<typeof AllocateShipment>,
  state: { order: OrderState; shipment: ShipmentState },
): InStream<ShipmentEvent>[] {
  const { orderId } = command.data;
  if (state.shipment.status !== 'none') return [];
  if (state.order.status === 'none') throw notFound('order', orderId);
  if (state.order.status !== 'paid') {
    throw domainError(`order is ${state.order.status}; only a paid order is allocated for shipping`, {
      orderId,
      status: state.order.status,
    });
  }
  const lines = state.order.lines.map(({ productId, quantity }) => ({ productId, quantity }));
  return inStream(shipmentStreamId(orderId), [{ type: 'ShipmentAllocated', data: { orderId, warehouse: WAREHOUSE, lines } }]);
}

/**
 * Undoes a cancelled order's allocation, once; an order never allocated (or released already) writes nothing.
 * @throws NOT_FOUND no such order; DOMAIN_RULE an allocated order that is not cancelled
 */
export function releaseShipment(
  command: CommandOf<typeof ReleaseShipment>,
  state: { order: OrderState; shipment: ShipmentState },
): InStream<ShipmentEvent>[] {
  const { orderId } = command.data;
  if (state.order.status === 'none') throw notFound('order', orderId);
  if (state.shipment.status !== 'allocated') return [];
  if (state.order.status !== 'cancelled') {
    throw domainError(`order is ${state.order.status}; only a cancelled order's shipment is released`);
  }
  const { warehouse } = state.shipment;
  return inStream(shipmentStreamId(orderId), [{ type: 'ShipmentReleased', data: { orderId, warehouse } }]);
}
