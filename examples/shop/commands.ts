// Wires every Shop command to its decision: which events it reads (models over tags), and what it decides from them.
// A decision handler reads the events its models select, decides, and appends on the condition that none of those
// events changed meanwhile; when a concurrent write makes the append conflict, it reads again and decides again.
// Decisions over different products, customers and orders select disjoint events, so they never conflict.
import {
  type Command,
  type CommandBus,
  type CommandHandler,
  type CommandOf,
  createCommandHandler,
  createDecisionHandler,
  type DecisionHandlerOptions,
  type DecisionModels,
  type EventStore,
  type LoadDecision,
  type TaggedEvent,
} from 'chronicle-es';
import { cancelOrder, DEFAULT_PAYMENT_TIMEOUT_MS, expireOrder, payOrder, placeOrder, shipOrder } from './domain/checkout.js';
import { customerModel, customerStreamId, forgetCustomer, registerCustomer, updateCustomerDetails } from './domain/customer.js';
import { emailOwner } from './domain/email-owner.js';
import { notificationModel, notificationStreamId, notifyCustomer } from './domain/notification.js';
import { checkOwner, type OrderState, orderModel, orderStreamId } from './domain/order.js';
import { createProduct, product, productModel, productStreamId } from './domain/product.js';
import { allocateShipment, releaseShipment, type ShipmentState, shipmentModel, shipmentStreamId } from './domain/shipment.js';
import { skuOwner } from './domain/sku-owner.js';
import {
  clearLowStockAlert,
  type ProductExists,
  productExistsModel,
  raiseLowStockAlert,
  type StockAlertState,
  stockAlertModel,
  stockAlertStreamId,
} from './domain/stock-alert.js';
import { confinedTo } from './messages/access.js';
import { ChangeProductPrice, CreateProduct, DeleteProduct, RestockProduct } from './messages/catalog.js';
import { ForgetCustomer, RegisterCustomer, UpdateCustomerDetails } from './messages/customers.js';
import { normalizeEmail } from './messages/fields.js';
import { AllocateShipment, NotifyCustomer, ReleaseShipment } from './messages/fulfilment.js';
import { CancelOrder, CreateOrder, ExpireOrder, PayOrder, ShipOrder } from './messages/orders.js';
import { ClearLowStockAlert, RaiseLowStockAlert } from './messages/stock-alerts.js';

export type CommandWiringOptions = {
  /**
   * Conflicts a command re-decides before giving up. Concurrent orders for one product conflict on its events;
   * each retry decides on fresher stock, so a high bound turns contention into successes or clean refusals.
   */
  maxRetries?: number;
  /**
   * Models whose state each handler keeps folded in memory, so a command reads only the events appended since.
   * Sized to hold the whole catalog, the active customers and the orders still moving through payment and shipping.
   */
  cacheSize?: number;
  /** How long an order may stay unpaid, in ms: CreateOrder schedules its ExpireOrder this long after. Default 900 000. */
  paymentTimeoutMs?: number;
  /**
   * The customers commands on the customers table (write-model/customer-rows.ts) instead of their streams: the app
   * gives it where the store has write tables; without it (an in-memory store) customers stay event-sourced.
   */
  customers?: CommandHandler<
    CommandOf<typeof RegisterCustomer> | CommandOf<typeof UpdateCustomerDetails> | CommandOf<typeof ForgetCustomer>
  >;
  /**
   * Deletes a customer's key (the crypto-shredding store's `forget`). Without it ForgetCustomer is not registered: a
   * store that does not encrypt cannot forget.
   */
  forgetSubject?: (customerId: string) => Promise<unknown>;
};

// #region create-order
/**
 * An order reads the stock of each product ordered, the customer and the order itself: two orders conflict only when
 * they share a product, and then the one that lost re-decides on the stock the winner left. Its decision also
 * schedules the order's expiry, which commits with it.
 */
const createOrder = (paymentTimeoutMs: number) => ({
  models: ({ data }: CommandOf<typeof CreateOrder>) => ({
    order: orderModel(data.orderId),
    customer: customerModel(data.customerId),
    products: new Map(data.lines.map((line) => [line.productId, productModel(line.productId)])),
  }),
  decide: (command: CommandOf<typeof CreateOrder>, states: Parameters<typeof placeOrder>[1]) =>
    placeOrder(command, states, paymentTimeoutMs),
});
// #endregion create-order

/** Registers a handler for every Shop command on `bus`. @throws Error for a payment timeout that is not positive */
export function registerCommands(bus: CommandBus, store: EventStore, options: CommandWiringOptions = {}): void {
  const { maxRetries = 100, cacheSize = 20_000, paymentTimeoutMs = DEFAULT_PAYMENT_TIMEOUT_MS, forgetSubject } = options;
  if (!(Number.isSafeInteger(paymentTimeoutMs) && paymentTimeoutMs > 0)) {
    throw new Error(`paymentTimeoutMs must be a positive integer of ms; got ${paymentTimeoutMs}`);
  }
  // Every decision handler shares the store and these settings.
  const handler = <C extends Command, M extends DecisionModels>(
    wiring: Pick<DecisionHandlerOptions<C, M>, 'models' | 'decide' | 'reportStream'>,
  ) => createDecisionHandler({ store, maxRetries, cacheSize, ...wiring });

  if (options.customers) {
    bus.register(RegisterCustomer, options.customers);
    bus.register(UpdateCustomerDetails, options.customers);
  } else registerEventSourcedCustomers(bus, handler);

  // CustomerForgotten is recorded first (its tag, computed from the address still readable, releases the address),
  // then the key is deleted: the command is acknowledged only once the key is gone, and a retry after a failure in
  // between records nothing again and deletes the key. On the customers table the same handler as the other customer
  // commands records it (and anonymises the row) in step with the row's version.
  if (forgetSubject !== undefined) {
    const forget: CommandHandler<CommandOf<typeof ForgetCustomer>> =
      options.customers ??
      handler({
        models: ({ data }: CommandOf<typeof ForgetCustomer>) => ({ customer: customerModel(data.customerId) }),
        decide: forgetCustomer,
        reportStream: ({ data }) => customerStreamId(data.customerId),
      });
    bus.register(ForgetCustomer, async (command, context) => {
      const result = await forget(command, context);
      await forgetSubject(command.data.customerId);
      return result;
    });
  }

  bus.register(
    CreateProduct,
    handler({
      models: ({ data }: CommandOf<typeof CreateProduct>) => ({ product: productModel(data.productId), sku: skuOwner(data.sku) }),
      decide: createProduct,
    }),
  );
  // A catalog change concerns one product's stream and nothing else: a stream handler, checked by version. It meets
  // the decisions above on the same events (a stream is a tag), so an order never misses a restock or a price change.
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

  bus.register(CreateOrder, handler(createOrder(paymentTimeoutMs)));

  // Paying, cancelling and shipping read the order alone: a customer may act only on its own orders, and the stock
  // an order releases or ships is what it reserved, whatever the products' stock is now.
  const onOrder = <
    C extends
      | CommandOf<typeof PayOrder>
      | CommandOf<typeof CancelOrder>
      | CommandOf<typeof ShipOrder>
      | CommandOf<typeof ExpireOrder>,
  >(
    decide: (command: C, state: { order: OrderState }) => ReturnType<typeof payOrder>,
  ) =>
    handler({
      models: ({ data }: C) => ({ order: orderModel(data.orderId) }),
      decide: (command, states, { principal }) => {
        checkOwner(states.order, confinedTo(principal));
        return decide(command, states);
      },
      // A repeat (paying a paid order) writes nothing and still names the order.
      reportStream: ({ data }) => orderStreamId(data.orderId),
    });
  bus.register(PayOrder, onOrder(payOrder));
  bus.register(CancelOrder, onOrder(cancelOrder));
  bus.register(ShipOrder, onOrder(shipOrder));
  // Sent by the scheduler as the workflows principal (roles ['system']), which acts for any customer.
  bus.register(ExpireOrder, onOrder(expireOrder));

  // Fulfilment, sent by the fulfilment process: each on a stream of its own, reading the order without writing it, so
  // it never conflicts with the customer's or the clerk's commands on the order.
  const onShipment = <C extends CommandOf<typeof AllocateShipment> | CommandOf<typeof ReleaseShipment>>(
    decide: (command: C, state: { order: OrderState; shipment: ShipmentState }) => readonly TaggedEvent[],
  ) =>
    handler({
      models: ({ data }: C) => ({ order: orderModel(data.orderId), shipment: shipmentModel(data.orderId) }),
      decide,
      reportStream: ({ data }) => shipmentStreamId(data.orderId),
    });
  bus.register(AllocateShipment, onShipment(allocateShipment));
  bus.register(ReleaseShipment, onShipment(releaseShipment));
  // The customer is known once the order is read: loaded first, then read like the others.
  const notificationModels = async ({ data }: CommandOf<typeof NotifyCustomer>, load: LoadDecision) => {
    const order = orderModel(data.orderId);
    const placed = await load(order);
    const customers = new Map(placed.status === 'none' ? [] : [[placed.customerId, customerModel(placed.customerId)]]);
    return { order, notifications: notificationModel(data.orderId), customers };
  };
  bus.register(
    NotifyCustomer,
    handler<CommandOf<typeof NotifyCustomer>, Awaited<ReturnType<typeof notificationModels>>>({
      models: notificationModels,
      decide: notifyCustomer,
      reportStream: ({ data }) => notificationStreamId(data.orderId),
    }),
  );

  // Low-stock alerts, sent by the restock-alerts process: the alert's stream and the product's creation only, so an
  // alert never conflicts with the orders moving the product's stock.
  const onAlert = <C extends CommandOf<typeof RaiseLowStockAlert> | CommandOf<typeof ClearLowStockAlert>>(
    decide: (command: C, state: { product: ProductExists; alert: StockAlertState }) => readonly TaggedEvent[],
  ) =>
    handler({
      models: ({ data }: C) => ({ product: productExistsModel(data.productId), alert: stockAlertModel(data.productId) }),
      decide,
      reportStream: ({ data }) => stockAlertStreamId(data.productId),
    });
  bus.register(RaiseLowStockAlert, onAlert(raiseLowStockAlert));
  bus.register(ClearLowStockAlert, onAlert(clearLowStockAlert));
}

// Customers as streams: the e-mail rule a tag query (domain/email-owner.ts).
function registerEventSourcedCustomers(
  bus: CommandBus,
  handler: <C extends Command, M extends DecisionModels>(
    wiring: Pick<DecisionHandlerOptions<C, M>, 'models' | 'decide' | 'reportStream'>,
  ) => CommandHandler<C>,
): void {
  bus.register(
    RegisterCustomer,
    handler({
      models: ({ data }: CommandOf<typeof RegisterCustomer>) => ({
        customer: customerModel(data.customerId),
        email: emailOwner(data.email),
      }),
      decide: registerCustomer,
    }),
  );

  // Only the requested address is read: releasing the current one is the customer's own business.
  bus.register(
    UpdateCustomerDetails,
    handler({
      models: ({ data }: CommandOf<typeof UpdateCustomerDetails>) => ({
        customer: customerModel(data.customerId),
        emails: new Map(data.email === undefined ? [] : [[normalizeEmail(data.email), emailOwner(data.email)]]),
      }),
      decide: (command, states) => updateCustomerDetails(command, states),
      reportStream: ({ data }) => customerStreamId(data.customerId),
    }),
  );
}
