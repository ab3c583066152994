// Wires every Shop command to its decider: which streams it reads, and the decision that spans them.
// A handler loads the streams, decides, and appends to all of them at once, each checked at the version it read;
// when a concurrent write makes the append conflict, it reads again and decides again.
import {
  type Command,
  type CommandBus,
  type CommandOf,
  createCommandHandler,
  createMultiStreamHandler,
  type EventStore,
  type MultiStreamHandlerOptions,
  type StreamModel,
} from 'chronicle-es';
import { cancelOrder, payOrder, placeOrder, shipOrder } from './domain/checkout.js';
import { customer, customerStreamId, registerCustomer, updateCustomerDetails } from './domain/customer.js';
import { type EmailClaimState, emailClaim, emailStreamId } from './domain/email-claim.js';
import { checkOwner, type OrderState, order, orderStreamId } from './domain/order.js';
import { createProduct, type ProductState, product, productStreamId } from './domain/product.js';
import { skuClaim, skuStreamId } from './domain/sku-claim.js';
import type { StreamEvents } from './domain/stream-events.js';
import { confinedTo } from './messages/access.js';
import { ChangeProductPrice, CreateProduct, DeleteProduct, RestockProduct } from './messages/catalog.js';
import { RegisterCustomer, UpdateCustomerDetails } from './messages/customers.js';
import { CancelOrder, CreateOrder, PayOrder, ShipOrder } from './messages/orders.js';

export type CommandWiringOptions = {
  /**
   * Conflicts a command re-decides before giving up. Concurrent orders for one product conflict on its stream;
   * each retry decides on fresher stock, so a high bound turns contention into successes or clean refusals.
   */
  maxRetries?: number;
  /**
   * Streams whose state each handler keeps folded in memory, so a command reads only the events appended since.
   * Sized to hold the whole catalog, the active customers and the orders still moving through payment and shipping.
   */
  cacheSize?: number;
};

const stream = {
  customer: (customerId: string) => ({ streamId: customerStreamId(customerId), model: customer }),
  email: (email: string) => ({ streamId: emailStreamId(email), model: emailClaim }),
  product: (productId: string) => ({ streamId: productStreamId(productId), model: product }),
  sku: (sku: string) => ({ streamId: skuStreamId(sku), model: skuClaim }),
  order: (orderId: string) => ({ streamId: orderStreamId(orderId), model: order }),
};

/** Registers a handler for every Shop command on `bus`. */
export function registerCommands(bus: CommandBus, store: EventStore, options: CommandWiringOptions = {}): void {
  const { maxRetries = 100, cacheSize = 20_000 } = options;
  const handler = <C extends Command>(wiring: Pick<MultiStreamHandlerOptions<C>, 'streams' | 'decide'>) =>
    createMultiStreamHandler<C>({ store, maxRetries, cacheSize, ...wiring });

  bus.register(
    RegisterCustomer,
    handler({
      streams: ({ data }) => [stream.customer(data.customerId), stream.email(data.email)],
      decide: (command, states) =>
        registerCustomer(command, {
          customer: stateOf(states, stream.customer(command.data.customerId)),
          email: stateOf(states, stream.email(command.data.email)),
        }),
    }),
  );

  // An email change releases the current address too, which only the customer's stream knows.
  bus.register(
    UpdateCustomerDetails,
    handler({
      streams: async ({ data }, load) => {
        const current = await load(customerStreamId(data.customerId), customer);
        const emails = data.email === undefined ? [] : [data.email, ...(current.status === 'registered' ? [current.email] : [])];
        // A change of letter case is the same claim stream, read once.
        const claims = new Map(emails.map((email) => [emailStreamId(email), stream.email(email)]));
        return [stream.customer(data.customerId), ...claims.values()];
      },
      decide: (command, states) =>
        updateCustomerDetails(command, {
          customer: stateOf(states, stream.customer(command.data.customerId)),
          emails: new Map([...states].filter(([id]) => id.startsWith('customerEmail-')) as [string, EmailClaimState][]),
        }),
    }),
  );

  bus.register(
    CreateProduct,
    handler({
      streams: ({ data }) => [stream.product(data.productId), stream.sku(data.sku)],
      decide: (command, states) =>
        createProduct(command, {
          product: stateOf(states, stream.product(command.data.productId)),
          sku: stateOf(states, stream.sku(command.data.sku)),
        }),
    }),
  );
  const productCommand = createCommandHandler({
    store,
    decider: product,
    streamId: (c) => productStreamId(c.data.productId),
    maxRetries,
    cacheSize,
  });
  bus.register(ChangeProductPrice, productCommand);
  bus.register(DeleteProduct, productCommand);
  bus.register(RestockProduct, productCommand);

  bus.register(
    CreateOrder,
    handler({
      streams: ({ data }) => [
        stream.order(data.orderId),
        stream.customer(data.customerId),
        ...data.lines.map((line) => stream.product(line.productId)),
      ],
      decide: (command, states) =>
        placeOrder(command, {
          order: stateOf(states, stream.order(command.data.orderId)),
          customer: stateOf(states, stream.customer(command.data.customerId)),
          products: productsOf(states),
        }),
    }),
  );

  // Paying, cancelling and shipping start from the order. A customer may act only on its own orders; cancelling and
  // shipping also move stock on the order's products, which only the order's stream knows.
  const onOrder = <C extends CommandOf<typeof PayOrder> | CommandOf<typeof CancelOrder> | CommandOf<typeof ShipOrder>>(
    decide: (command: C, state: { order: OrderState; products: ReadonlyMap<string, ProductState> }) => StreamEvents,
    { movesStock }: { movesStock: boolean },
  ) =>
    handler<C>({
      streams: async ({ data }, load) => {
        const current = await load(orderStreamId(data.orderId), order);
        const lines = movesStock && current.status !== 'none' ? current.lines : [];
        return [stream.order(data.orderId), ...lines.map((line) => stream.product(line.productId))];
      },
      decide: (command, states, { principal }) => {
        const current = stateOf(states, stream.order(command.data.orderId));
        checkOwner(current, confinedTo(principal));
        return decide(command, { order: current, products: productsOf(states) });
      },
    });
  bus.register(PayOrder, onOrder(payOrder, { movesStock: false }));
  bus.register(CancelOrder, onOrder(cancelOrder, { movesStock: true }));
  bus.register(ShipOrder, onOrder(shipOrder, { movesStock: true }));
}

/** A loaded stream's state, typed by its model. */
function stateOf<S>(states: ReadonlyMap<string, unknown>, loaded: { streamId: string; model: StreamModel<S, any> }): S {
  return states.get(loaded.streamId) as S;
}

function productsOf(states: ReadonlyMap<string, unknown>): Map<string, ProductState> {
  const products = new Map<string, ProductState>();
  for (const [streamId, state] of states) {
    if (streamId.startsWith('product-')) products.set(streamId.slice('product-'.length), state as ProductState);
  }
  return products;
}
