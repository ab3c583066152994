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
  type StreamRoles,
} from 'chronicle-es';
import { cancelOrder, payOrder, placeOrder, shipOrder } from './domain/checkout.js';
import { customer, customerStreamId, registerCustomer, updateCustomerDetails } from './domain/customer.js';
import { emailClaim, emailStreamId } from './domain/email-claim.js';
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

/** The product streams of some lines, keyed by product id. */
const productsOf = (lines: ReadonlyArray<{ productId: string }>) =>
  new Map(lines.map((line) => [line.productId, stream.product(line.productId)]));

/** Registers a handler for every Shop command on `bus`. */
export function registerCommands(bus: CommandBus, store: EventStore, options: CommandWiringOptions = {}): void {
  const { maxRetries = 100, cacheSize = 20_000 } = options;
  const handler = <C extends Command, R extends StreamRoles>(
    wiring: Pick<MultiStreamHandlerOptions<C, R>, 'streams' | 'decide'>,
  ) => createMultiStreamHandler({ store, maxRetries, cacheSize, ...wiring });

  bus.register(
    RegisterCustomer,
    handler({
      streams: ({ data }: CommandOf<typeof RegisterCustomer>) => ({
        customer: stream.customer(data.customerId),
        email: stream.email(data.email),
      }),
      decide: registerCustomer,
    }),
  );

  // An email change releases the current address too, which only the customer's stream knows.
  bus.register(
    UpdateCustomerDetails,
    handler({
      streams: async ({ data }: CommandOf<typeof UpdateCustomerDetails>, load) => {
        const current = await load(customerStreamId(data.customerId), customer);
        const emails = data.email === undefined ? [] : [data.email, ...(current.status === 'registered' ? [current.email] : [])];
        // A change of letter case is the same claim stream, read once.
        return {
          customer: stream.customer(data.customerId),
          emails: new Map(emails.map((email) => [emailStreamId(email), stream.email(email)])),
        };
      },
      decide: (command, states) => updateCustomerDetails(command, states),
    }),
  );

  bus.register(
    CreateProduct,
    handler({
      streams: ({ data }: CommandOf<typeof CreateProduct>) => ({
        product: stream.product(data.productId),
        sku: stream.sku(data.sku),
      }),
      decide: createProduct,
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
      streams: ({ data }: CommandOf<typeof CreateOrder>) => ({
        order: stream.order(data.orderId),
        customer: stream.customer(data.customerId),
        products: productsOf(data.lines),
      }),
      decide: placeOrder,
    }),
  );

  // Paying, cancelling and shipping start from the order. A customer may act only on its own orders; cancelling and
  // shipping also move stock on the order's products, which only the order's stream knows.
  const onOrder = <C extends CommandOf<typeof PayOrder> | CommandOf<typeof CancelOrder> | CommandOf<typeof ShipOrder>>(
    decide: (command: C, state: { order: OrderState; products: ReadonlyMap<string, ProductState> }) => StreamEvents,
    { movesStock }: { movesStock: boolean },
  ) =>
    handler({
      streams: async ({ data }: C, load) => {
        const current = await load(orderStreamId(data.orderId), order);
        const lines = movesStock && current.status !== 'none' ? current.lines : [];
        return { order: stream.order(data.orderId), products: productsOf(lines) };
      },
      decide: (command, states, { principal }) => {
        checkOwner(states.order, confinedTo(principal));
        return decide(command, states);
      },
    });
  bus.register(PayOrder, onOrder(payOrder, { movesStock: false }));
  bus.register(CancelOrder, onOrder(cancelOrder, { movesStock: true }));
  bus.register(ShipOrder, onOrder(shipOrder, { movesStock: true }));
}
