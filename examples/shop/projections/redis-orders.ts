// Read model of GetOrderStatus on Redis: one JSON row per order, keyed by its id, with its lines and status history.
// Named `orders` like the SQL one: GetOrderStatus declares `reads: ['orders']`, so minPosition waits on this checkpoint.
import { defineProjection, type RecordedEvent } from 'chronicle-es';
import type { RedisReadTx } from 'chronicle-es/redis';
import { shopEvents } from '../messages/events.js';
import type { OrderStatus, OrderStep, OrderView } from '../messages/orders.js';
import { paymentDueAt } from './orders.js';

/** A row of the `orders` table: what GetOrderStatus answers, as the SQL projection keeps it. */
export type RedisOrderRow = Omit<OrderView, 'orderId'>;

type ShopEvent = (typeof shopEvents)[number];

export const redisOrdersProjection = defineProjection<RedisReadTx, ShopEvent>({
  name: 'orders',
  // 2: the timeline (fulfilment steps) and the payment deadline, as the SQL one.
  version: 2,
  events: shopEvents,
  handlers: {
    OrderCreated(event, tx) {
      const { orderId, customerId, customerName, currency, totalCents, lines, paymentTimeoutMs } = event.data;
      const at = event.metadata.timestamp;
      tx.table<RedisOrderRow>('orders').set(orderId, {
        customerId,
        customerName,
        status: 'created',
        // The SKU stays out, as in the SQL projection: the answer lists what the customer ordered, not stock codes.
        lines: lines.map(({ productId, name, quantity, unitPriceCents }) => ({ productId, name, quantity, unitPriceCents })),
        currency,
        totalCents,
        history: [{ status: 'created', at }],
        timeline: [{ step: 'created', at }],
        paymentDueAt: paymentDueAt(at, paymentTimeoutMs),
      });
    },
    OrderPaid: (event, tx) => moveTo(tx, event, 'paid'),
    OrderShipped: (event, tx) => moveTo(tx, event, 'shipped'),
    OrderCancelled: (event, tx) => moveTo(tx, event, 'cancelled'),
    OrderExpired: (event, tx) => moveTo(tx, event, 'expired'),
    ShipmentAllocated: (event, tx) => step(tx, event, 'allocated'),
    CustomerNotified: (event, tx) => step(tx, event, 'customer-notified'),
    ShipmentReleased: (event, tx) => step(tx, event, 'shipment-released'),
  },
});

async function moveTo(tx: RedisReadTx, event: RecordedEvent<string, { orderId: string }>, status: OrderStatus): Promise<void> {
  const orders = tx.table<RedisOrderRow>('orders');
  const { orderId } = event.data;
  const row = await orders.get(orderId);
  if (!row) return;
  const at = event.metadata.timestamp;
  orders.set(orderId, {
    ...row,
    status,
    history: [...row.history, { status, at }],
    timeline: [...row.timeline, { step: status, at }],
    paymentDueAt: null,
  });
}

async function step(tx: RedisReadTx, event: RecordedEvent<string, { orderId: string }>, name: OrderStep): Promise<void> {
  const orders = tx.table<RedisOrderRow>('orders');
  const { orderId } = event.data;
  const row = await orders.get(orderId);
  if (!row) return;
  orders.set(orderId, { ...row, timeline: [...row.timeline, { step: name, at: event.metadata.timestamp }] });
}

/** The Shop's read models on Redis (only the orders one so far), in one list for a projector. */
export const redisProjections = [redisOrdersProjection];
