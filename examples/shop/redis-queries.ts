// Answers the Shop queries that have a Redis read model (GetOrderStatus) from it, with the same answers as the SQL one.
import type { PayloadOf, QueryBus } from 'chronicle-es';
import type { RedisReader } from 'chronicle-es/redis';
import { notFound } from './messages/access.js';
import { GetOrderStatus, type OrderView } from './messages/orders.js';
import type { RedisOrderRow } from './projections/redis-orders.js';

/** Registers GetOrderStatus on `bus`, reading `readStore`'s `orders` projection on Redis. */
export function registerRedisQueries(bus: QueryBus, readStore: { reader(projection: string): RedisReader }): void {
  const orders = readStore.reader('orders');

  bus.register(GetOrderStatus, async ({ orderId }: PayloadOf<typeof GetOrderStatus>): Promise<OrderView> => {
    // Before the projection's first generation this rejects with NOT_FOUND, as the SQL reader does.
    const row = await orders.table<RedisOrderRow>('orders').get(orderId);
    if (!row) throw notFound('order', orderId);
    // Field by field and in the SQL handler's order, so both answer byte for byte alike.
    return {
      orderId,
      customerId: row.customerId,
      customerName: row.customerName,
      status: row.status,
      lines: row.lines,
      currency: row.currency,
      totalCents: row.totalCents,
      history: row.history,
      timeline: row.timeline,
      paymentDueAt: row.paymentDueAt,
    };
  });
}
