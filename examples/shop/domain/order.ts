// The order aggregate: its lifecycle created → paid → shipped, or cancelled before shipping, or expired unpaid.
// Stock is not its business: checkout.ts composes it with the product decider.
import { assertNever, type Decider, type DecisionModel, domainError, type EventOf, Query } from 'chronicle-es';
import type {
  OrderCancelled,
  OrderCreated,
  OrderExpired,
  OrderLine,
  OrderPaid,
  OrderShipped,
  OrderStatus,
} from '../messages/orders.js';
import { notFound } from './refusals.js';

type Lifecycle = { orderId: string };

/** A line priced from the catalog at order time. */
export type PricedLine = OrderLine & { currency: string };

export type OrderCommand =
  | {
      type: 'CreateOrder';
      data: { orderId: string; customerId: string; customerName: string; lines: PricedLine[]; paymentTimeoutMs?: number };
    }
  | { type: 'PayOrder'; data: Lifecycle }
  | { type: 'ShipOrder'; data: Lifecycle }
  | { type: 'CancelOrder'; data: Lifecycle & { reason?: string } }
  | { type: 'ExpireOrder'; data: Lifecycle };

export type OrderEvent =
  | EventOf<typeof OrderCreated>
  | EventOf<typeof OrderPaid>
  | EventOf<typeof OrderShipped>
  | EventOf<typeof OrderCancelled>
  | EventOf<typeof OrderExpired>;

export type OrderState =
  | { status: 'none' }
  | {
      status: OrderStatus;
      orderId: string;
      customerId: string;
      lines: OrderLine[];
      currency: string;
      totalCents: number;
      /** Set when placing it scheduled its expiry (see expiryKey). */
      paymentTimeoutMs?: number;
    };

export const orderStreamId = (orderId: string) => `order-${orderId}`;

/** The key of the ExpireOrder that CreateOrder schedules: paying cancels it by this key. */
export const expiryKey = (orderId: string) => `expire-order-${orderId}`;

export const order: Decider<OrderCommand, OrderEvent, OrderState> = {
  initialState: { status: 'none' },

  decide(command, state) {
    const { orderId } = command.data;
    if (command.type === 'CreateOrder') {
      if (state.status !== 'none') throw domainError(`order ${JSON.stringify(orderId)} already exists`);
      const { customerId, customerName, paymentTimeoutMs } = command.data;
      const currencies = [...new Set(command.data.lines.map((line) => line.currency))];
      if (currencies.length !== 1) throw domainError(`an order is paid in one currency; its lines use ${currencies.join(', ')}`);
      const lines = command.data.lines.map(({ currency: _, ...line }) => line);
      const totalCents = lines.reduce((sum, line) => sum + line.quantity * line.unitPriceCents, 0);
      const due = paymentTimeoutMs === undefined ? {} : { paymentTimeoutMs };
      return [
        { type: 'OrderCreated', data: { orderId, customerId, customerName, lines, currency: currencies[0], totalCents, ...due } },
      ];
    }
    if (state.status === 'none') throw notFound('order', orderId);
    switch (command.type) {
      case 'PayOrder':
        if (state.status === 'paid') return [];
        if (state.status !== 'created') throw domainError(`order is ${state.status}; only a created order can be paid`);
        return [{ type: 'OrderPaid', data: { orderId } }];
      case 'ShipOrder':
        if (state.status === 'shipped') return [];
        if (state.status !== 'paid') throw domainError(`order is ${state.status}; only a paid order can be shipped`);
        return [{ type: 'OrderShipped', data: { orderId } }];
      case 'CancelOrder': {
        // An expired order holds nothing any more: cancelling it has nothing left to do.
        if (state.status === 'cancelled' || state.status === 'expired') return [];
        if (state.status === 'shipped') throw domainError('order has shipped; it can no longer be cancelled');
        const { reason } = command.data;
        return [
          {
            type: 'OrderCancelled',
            data: { orderId, ...(reason !== undefined && { reason }), wasPaid: state.status === 'paid' },
          },
        ];
      }
      case 'ExpireOrder':
        // Only an order still waiting for its payment expires; for any other the timer is late news.
        return state.status === 'created' ? [{ type: 'OrderExpired', data: { orderId } }] : [];
      default:
        return assertNever(command);
    }
  },

  evolve(state, event) {
    switch (event.type) {
      case 'OrderCreated': {
        const { orderId, customerId, lines, currency, totalCents, paymentTimeoutMs } = event.data;
        const due = paymentTimeoutMs === undefined ? {} : { paymentTimeoutMs };
        return { status: 'created', orderId, customerId, lines, currency, totalCents, ...due };
      }
      case 'OrderPaid':
        return state.status === 'none' ? state : { ...state, status: 'paid' };
      case 'OrderShipped':
        return state.status === 'none' ? state : { ...state, status: 'shipped' };
      case 'OrderCancelled':
        return state.status === 'none' ? state : { ...state, status: 'cancelled' };
      case 'OrderExpired':
        return state.status === 'none' ? state : { ...state, status: 'expired' };
      default:
        return assertNever(event);
    }
  },

  isTerminal: (state) => state.status === 'shipped' || state.status === 'cancelled' || state.status === 'expired',
};

/** What a decision reads about an order: its stream's events, found by the stream id as a tag. */
export const orderModel = (orderId: string): DecisionModel<OrderState, OrderEvent> => ({
  query: Query.tags(orderStreamId(orderId)),
  initialState: order.initialState,
  evolve: order.evolve,
});

/**
 * Refuses when `customerId` is set and the order is another customer's — with the very NOT_FOUND the decider gives
 * for an order that does not exist, so an order id tells a customer nothing about orders that are not its own.
 * Checked before deciding, so even a no-op repeat reveals nothing. Staff act for anyone: `customerId` undefined.
 */
export function checkOwner(state: OrderState, customerId: string | undefined): void {
  if (customerId !== undefined && state.status !== 'none' && state.customerId !== customerId) {
    throw notFound('order', state.orderId);
  }
}
