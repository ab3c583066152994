// Decisions that span an order and its products: placing an order reserves stock on every product and schedules its
// expiry, cancelling or expiring releases it, shipping takes it out of stock. Each is written atomically or not at all,
// in the streams it always was (the order's, each product's; a schedule's own), so projections read the same events.
import { type CommandOf, cancelSchedule, domainError, type ScheduledCommand, schedule } from 'chronicle-es';
import { type CancelOrder, type CreateOrder, ExpireOrder, type PayOrder, type ShipOrder } from '../messages/orders.js';
import type { CustomerState } from './customer.js';
import { type InStream, inStream } from './in-stream.js';
import { expiryKey, type OrderEvent, type OrderState, order, orderStreamId } from './order.js';
import { type ProductEvent, type ProductState, product, productStreamId } from './product.js';

/**
 * What these decisions write: the order's events and its products' stock moves, each in its own stream, and the
 * scheduling (or cancelling) of the order's expiry on the schedule's stream.
 */
export type Checkout = Array<InStream<OrderEvent | ProductEvent> | ScheduledCommand | ReturnType<typeof cancelSchedule>>;

/** How long an order may stay unpaid before ExpireOrder releases its stock; the default of SHOP_PAYMENT_TIMEOUT. */
export const DEFAULT_PAYMENT_TIMEOUT_MS = 900_000;

/**
 * Places an order at current catalog prices, reserving every line's units, and schedules its expiry: the
 * CommandScheduled event commits with the order, and `after` counts from the time it is recorded.
 */
export function placeOrder(
  command: CommandOf<typeof CreateOrder>,
  state: { order: OrderState; customer: CustomerState; products: ReadonlyMap<string, ProductState> },
  paymentTimeoutMs = DEFAULT_PAYMENT_TIMEOUT_MS,
): Checkout {
  const { orderId, customerId, lines } = command.data;
  // Checked first so that repeating a placed order says so, rather than complaining about stock it already holds.
  if (state.order.status !== 'none') throw domainError(`order ${JSON.stringify(orderId)} already exists`);
  if (state.customer.status !== 'registered') throw domainError(`customer ${JSON.stringify(customerId)} is not registered`);
  const customerName = state.customer.name;

  const reservations: Checkout = [];
  const priced = lines.map(({ productId, quantity }) => {
    const current = productState(state.products, productId);
    const events = product.decide({ type: 'ReserveStock', data: { productId, orderId, quantity } }, current);
    reservations.push(...inStream(productStreamId(productId), events));
    // ReserveStock refused anything missing or deleted, so the product is on sale here.
    if (current.status === 'none') throw domainError(`product ${JSON.stringify(productId)} does not exist`);
    const { sku, name, priceCents, currency } = current;
    return { productId, sku, name, quantity, unitPriceCents: priceCents, currency };
  });
  const created = order.decide(
    { type: 'CreateOrder', data: { orderId, customerId, customerName, lines: priced, paymentTimeoutMs } },
    state.order,
  );
  // The order's event first: the status names the order's stream.
  return [...inStream(orderStreamId(orderId), created), ...reservations, expiryOf(orderId, paymentTimeoutMs)];
}

// #region schedule-expiry
/**
 * The order's expiry, `after` ms from when it is recorded. A scheduled command is an event: returned among the order's
 * events, it commits with them or not at all. Paying or cancelling the order cancels it by its key.
 */
const expiryOf = (orderId: string, paymentTimeoutMs: number): ScheduledCommand =>
  schedule(ExpireOrder, { orderId }, { after: paymentTimeoutMs, key: expiryKey(orderId) });
// #endregion schedule-expiry

// #region pay-order
/**
 * Pays an order; its units stay reserved until it ships. Its expiry is cancelled with the payment; should the timer
 * fire anyway (the cancel lost a race with it), ExpireOrder finds the order paid and does nothing.
 */
export function payOrder(command: CommandOf<typeof PayOrder>, state: { order: OrderState }): Checkout {
  const events = order.decide(command, state.order);
  return [...inStream(orderStreamId(command.data.orderId), events), ...expiryCancelled(state.order, events)];
}
// #endregion pay-order

/**
 * Cancels an order and returns its reserved units to stock. Releasing what an order holds depends on the order
 * alone, not on the products' stock: the decision reads no product, so it never conflicts with orders being placed.
 */
export function cancelOrder(command: CommandOf<typeof CancelOrder>, state: { order: OrderState }): Checkout {
  return moveStock(command, state.order, 'StockReleased');
}

/**
 * Expires an order still unpaid when its payment timeout passes, returning its units as a cancellation does; for
 * any other order (paid, shipped, cancelled, expired already) it writes nothing.
 */
export function expireOrder(command: CommandOf<typeof ExpireOrder>, state: { order: OrderState }): Checkout {
  return moveStock(command, state.order, 'StockReleased');
}

/** Ships a paid order: its reserved units leave the stock. Like cancelling, it depends on the order alone. */
export function shipOrder(command: CommandOf<typeof ShipOrder>, state: { order: OrderState }): Checkout {
  return moveStock(command, state.order, 'StockShipped');
}

function moveStock(
  command: CommandOf<typeof CancelOrder> | CommandOf<typeof ShipOrder> | CommandOf<typeof ExpireOrder>,
  state: OrderState,
  move: 'StockReleased' | 'StockShipped',
): Checkout {
  const { orderId } = command.data;
  const events = order.decide(command, state);
  if (events.length === 0 || state.status === 'none') return inStream(orderStreamId(orderId), events);
  const moves = state.lines.flatMap(({ productId, quantity }) =>
    inStream<ProductEvent>(productStreamId(productId), [{ type: move, data: { productId, orderId, quantity } }]),
  );
  return [...inStream(orderStreamId(orderId), events), ...moves, ...expiryCancelled(state, events)];
}

// An order leaving `created` (paid, cancelled) no longer expires: its pending timer goes, if placing it set one (orders
// placed before expiry existed have none). An expiring order's own timer has just fired: nothing is left to cancel.
function expiryCancelled(state: OrderState, decided: readonly OrderEvent[]): ReturnType<typeof cancelSchedule>[] {
  if (state.status !== 'created' || state.paymentTimeoutMs === undefined) return [];
  if (decided.length === 0 || decided.some((e) => e.type === 'OrderExpired')) return [];
  return [cancelSchedule(expiryKey(state.orderId))];
}

function productState(products: ReadonlyMap<string, ProductState>, productId: string): ProductState {
  const state = products.get(productId);
  // The handler reads every product the decision names; a miss is a wiring bug, not a refusal.
  if (state === undefined) throw new Error(`product ${productId} was not loaded`);
  return state;
}
