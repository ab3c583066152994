// Customer notifications as an outbox: deciding to tell a customer something writes a CustomerNotified event on the
// order's notification stream (notification-<orderId>); a mailer would read these and send the mail. Nothing is sent
// here, and each topic is recorded once per order.
import { type CommandOf, type DecisionModel, domainError, type EventOf, Query } from 'chronicle-es';
import type { CustomerNotified, NotifyCustomer } from '../messages/fulfilment.js';
import type { CustomerState } from './customer.js';
import { type InStream, inStream } from './in-stream.js';
import type { OrderState } from './order.js';
import { notFound } from './refusals.js';

export type NotificationEvent = EventOf<typeof CustomerNotified>;
/** The topics the order's customer was told about. */
export type NotificationState = { topics: readonly string[] };

export const notificationStreamId = (orderId: string) => `notification-${orderId}`;

const initialState: NotificationState = { topics: [] };
const evolve = (state: NotificationState, event: NotificationEvent): NotificationState => ({
  topics: [...state.topics, event.data.topic],
});

/** What a decision reads about an order's notifications: its stream's events. */
export const notificationModel = (orderId: string): DecisionModel<NotificationState, NotificationEvent> => ({
  query: Query.tags(notificationStreamId(orderId)),
  initialState,
  evolve,
});

/**
 * Records that the order's customer is to be told `topic`, with the name and address it has now; a repeat writes
 * nothing. `customers` holds the order's customer (empty when the order does not exist).
 * @throws NOT_FOUND no such order; DOMAIN_RULE the order has not reached the topic (not shipped), or no customer
 */
export function notifyCustomer(
  command: CommandOf<typeof NotifyCustomer>,
  state: { order: OrderState; notifications: NotificationState; customers: ReadonlyMap<string, CustomerState> },
): InStream<NotificationEvent>[] {
  const { orderId, topic } = command.data;
  if (state.order.status === 'none') throw notFound('order', orderId);
  if (state.notifications.topics.includes(topic)) return [];
  if (topic === 'order-shipped' && state.order.status !== 'shipped') {
    throw domainError(`order is ${state.order.status}; its customer is told about shipping once it has shipped`);
  }
  const { customerId } = state.order;
  const customer = state.customers.get(customerId);
  if (customer === undefined || customer.status !== 'registered') {
    throw domainError(`customer ${JSON.stringify(customerId)} is not registered`);
  }
  const { name, email } = customer;
  return inStream(notificationStreamId(orderId), [
    { type: 'CustomerNotified', data: { orderId, customerId, name, email, topic } },
  ]);
}
