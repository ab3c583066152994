// Decisions that span an order and its products: placing an order reserves stock on every product,
// cancelling releases it, shipping takes it out of stock. Each is written atomically or not at all.
import { type CommandOf, domainError } from 'chronicle-es';
import type { CancelOrder, CreateOrder, PayOrder, ShipOrder } from '../messages/orders.js';
import type { CustomerState } from './customer.js';
import { type OrderState, order, orderStreamId } from './order.js';
import { type ProductState, product, productStreamId } from './product.js';
import type { StreamEvents } from './stream-events.js';

/** Places an order at current catalog prices, reserving every line's units. */
export function placeOrder(
  command: CommandOf<typeof CreateOrder>,
  state: { order: OrderState; customer: CustomerState; products: ReadonlyMap<string, ProductState> },
): StreamEvents {
  const { orderId, customerId, lines } = command.data;
  // Checked first so that repeating a placed order says so, rather than complaining about stock it already holds.
  if (state.order.status !== 'none') throw domainError(`order ${JSON.stringify(orderId)} already exists`);
  if (state.customer.status !== 'registered') throw domainError(`customer ${JSON.stringify(customerId)} is not registered`);
  const customerName = state.customer.name;

  const reservations: StreamEvents = [];
  const priced = lines.map(({ productId, quantity }) => {
    const current = productState(state.products, productId);
    const events = product.decide({ type: 'ReserveStock', data: { productId, orderId, quantity } }, current);
    reservations.push({ streamId: productStreamId(productId), events });
    // ReserveStock refused anything missing or deleted, so the product is on sale here.
    if (current.status === 'none') throw domainError(`product ${JSON.stringify(productId)} does not exist`);
    const { sku, name, priceCents, currency } = current;
    return { productId, sku, name, quantity, unitPriceCents: priceCents, currency };
  });
  const created = order.decide({ type: 'CreateOrder', data: { orderId, customerId, customerName, lines: priced } }, state.order);
  return [{ streamId: orderStreamId(orderId), events: created }, ...reservations];
}

/** Pays an order; its units stay reserved until it ships. */
export function payOrder(command: CommandOf<typeof PayOrder>, state: { order: OrderState }): StreamEvents {
  return [{ streamId: orderStreamId(command.data.orderId), events: order.decide(command, state.order) }];
}

/** Cancels an order and returns its reserved units to stock. */
export function cancelOrder(
  command: CommandOf<typeof CancelOrder>,
  state: { order: OrderState; products: ReadonlyMap<string, ProductState> },
): StreamEvents {
  return moveStock(command, state, 'ReleaseStock');
}

/** Ships a paid order: its reserved units leave the stock. */
export function shipOrder(
  command: CommandOf<typeof ShipOrder>,
  state: { order: OrderState; products: ReadonlyMap<string, ProductState> },
): StreamEvents {
  return moveStock(command, state, 'ShipStock');
}

function moveStock(
  command: Parameters<typeof cancelOrder>[0] | Parameters<typeof shipOrder>[0],
  state: { order: OrderState; products: ReadonlyMap<string, ProductState> },
  move: 'ReleaseStock' | 'ShipStock',
): StreamEvents {
  const { orderId } = command.data;
  const events = order.decide(command, state.order);
  const writes: StreamEvents = [{ streamId: orderStreamId(orderId), events }];
  if (events.length === 0 || state.order.status === 'none') return writes;
  for (const { productId, quantity } of state.order.lines) {
    const stock = product.decide({ type: move, data: { productId, orderId, quantity } }, productState(state.products, productId));
    writes.push({ streamId: productStreamId(productId), events: stock });
  }
  return writes;
}

function productState(products: ReadonlyMap<string, ProductState>, productId: string): ProductState {
  const state = products.get(productId);
  // The handler loads every product the decision names; a miss is a wiring bug, not a refusal.
  if (state === undefined) throw new Error(`product ${productId} was not loaded`);
  return state;
}
