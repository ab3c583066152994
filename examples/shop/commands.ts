// Wires every Shop command to its decider: which streams it loads and how the decision spans them.
import {
  type Command,
  type CommandBus,
  type CommandHandler,
  type CommandOf,
  createCommandHandler,
  createMultiStreamHandler,
  type EventStore,
  fold,
  isChronicleError,
  type StreamModel,
} from 'chronicle';
import { cancelOrder, placeOrder, shipOrder } from './domain/checkout.js';
import { type CustomerState, customer, customerStreamId, registerCustomer, updateCustomerDetails } from './domain/customer.js';
import { type EmailClaimState, emailClaim, emailStreamId } from './domain/email-claim.js';
import { type OrderState, order, orderStreamId } from './domain/order.js';
import { createProduct, type ProductState, product, productStreamId } from './domain/product.js';
import { type SkuClaimState, skuClaim, skuStreamId } from './domain/sku-claim.js';
import { confinedTo } from './messages/access.js';
import { ChangeProductPrice, CreateProduct, DeleteProduct, RestockProduct } from './messages/catalog.js';
import { RegisterCustomer, UpdateCustomerDetails } from './messages/customers.js';
import { CancelOrder, CreateOrder, type OrderLine, PayOrder, ShipOrder } from './messages/orders.js';

export type CommandWiringOptions = {
  /**
   * Conflicts a command re-decides before giving up. Concurrent orders for one product conflict on its stream;
   * each retry decides on fresher stock, so a high bound turns contention into successes or clean refusals.
   */
  maxRetries?: number;
};

/** Registers a handler for every Shop command on `bus`. */
export function registerCommands(bus: CommandBus, store: EventStore, options: CommandWiringOptions = {}): void {
  const maxRetries = options.maxRetries ?? 100;
  const productCommand = createCommandHandler({
    store,
    decider: product,
    streamId: (c) => productStreamId(c.data.productId),
    maxRetries,
  });
  const orderCommand = createCommandHandler({
    store,
    decider: order,
    streamId: (c) => orderStreamId(c.data.orderId),
    maxRetries,
  });

  bus.register(
    RegisterCustomer,
    createMultiStreamHandler<CommandOf<typeof RegisterCustomer>>({
      store,
      maxRetries,
      streams: ({ data }) => [
        { streamId: customerStreamId(data.customerId), model: customer },
        { streamId: emailStreamId(data.email), model: emailClaim },
      ],
      decide: (command, states) =>
        registerCustomer(command, {
          customer: states.get(customerStreamId(command.data.customerId)) as CustomerState,
          email: states.get(emailStreamId(command.data.email)) as EmailClaimState,
        }),
    }),
  );

  // An email change must also release the customer's current address, which is known only after reading the customer.
  type UpdateWithCurrentEmail = {
    type: 'UpdateCustomerDetails';
    data: CommandOf<typeof UpdateCustomerDetails>['data'] & { currentEmail?: string };
  };
  const updateCustomer = createMultiStreamHandler<UpdateWithCurrentEmail>({
    store,
    maxRetries,
    streams: ({ data }) => {
      const emails = [data.email, data.currentEmail].filter((e): e is string => e !== undefined).map(emailStreamId);
      return [
        { streamId: customerStreamId(data.customerId), model: customer },
        ...[...new Set(emails)].map((streamId) => ({ streamId, model: emailClaim })),
      ];
    },
    decide: (command, states) => {
      const { currentEmail: _, ...data } = command.data;
      const emails = new Map([...states].filter(([id]) => id.startsWith('customerEmail-')) as [string, EmailClaimState][]);
      return updateCustomerDetails(
        { type: command.type, data },
        { customer: states.get(customerStreamId(data.customerId)) as CustomerState, emails },
      );
    },
  });
  bus.register(
    UpdateCustomerDetails,
    retryingStaleLookups(async (command, context) => {
      let currentEmail: string | undefined;
      if (command.data.email !== undefined) {
        const state = await load(store, customer, customerStreamId(command.data.customerId));
        currentEmail = state.status === 'registered' ? state.email : undefined;
      }
      return updateCustomer({ type: command.type, data: { ...command.data, currentEmail } }, context);
    }),
  );

  bus.register(
    CreateProduct,
    createMultiStreamHandler<CommandOf<typeof CreateProduct>>({
      store,
      maxRetries,
      streams: ({ data }) => [
        { streamId: productStreamId(data.productId), model: product },
        { streamId: skuStreamId(data.sku), model: skuClaim },
      ],
      decide: (command, states) =>
        createProduct(command, {
          product: states.get(productStreamId(command.data.productId)) as ProductState,
          sku: states.get(skuStreamId(command.data.sku)) as SkuClaimState,
        }),
    }),
  );
  bus.register(ChangeProductPrice, productCommand);
  bus.register(DeleteProduct, productCommand);
  bus.register(RestockProduct, productCommand);

  bus.register(
    CreateOrder,
    createMultiStreamHandler<CommandOf<typeof CreateOrder>>({
      store,
      maxRetries,
      streams: ({ data }) => [
        { streamId: orderStreamId(data.orderId), model: order },
        { streamId: customerStreamId(data.customerId), model: customer },
        ...data.lines.map((line) => ({ streamId: productStreamId(line.productId), model: product })),
      ],
      decide: (command, states) =>
        placeOrder(command, {
          order: states.get(orderStreamId(command.data.orderId)) as OrderState,
          customer: states.get(customerStreamId(command.data.customerId)) as CustomerState,
          products: productsOf(states),
        }),
    }),
  );

  // A customer may pay or cancel only its own orders: the decider checks `onlyFor` against the order before writing.
  bus.register(PayOrder, (command, context) =>
    orderCommand({ type: command.type, data: { ...command.data, onlyFor: confinedTo(context.principal) } }, context),
  );

  // Cancelling and shipping move stock on the order's products, which are known only after reading the order.
  type WithProducts<C extends Command> = { type: C['type']; data: C['data'] & { onlyFor?: string; productIds: string[] } };
  const stockMoving = <C extends CommandOf<typeof CancelOrder> | CommandOf<typeof ShipOrder>>(
    decide: (
      command: WithProducts<C>,
      state: { order: OrderState; products: ReadonlyMap<string, ProductState> },
    ) => ReturnType<typeof shipOrder>,
  ): CommandHandler<C> => {
    const handle = createMultiStreamHandler<WithProducts<C>>({
      store,
      maxRetries,
      streams: ({ data }) => [
        { streamId: orderStreamId(data.orderId), model: order },
        ...data.productIds.map((id) => ({ streamId: productStreamId(id), model: product })),
      ],
      decide: (command, states) =>
        decide(command, { order: states.get(orderStreamId(command.data.orderId)) as OrderState, products: productsOf(states) }),
    });
    return retryingStaleLookups(async (command, context) => {
      const productIds = (await orderLines(store, command.data.orderId)).map((line) => line.productId);
      const onlyFor = confinedTo(context.principal);
      return handle({ type: command.type, data: { ...command.data, onlyFor, productIds } }, context);
    });
  };
  bus.register(
    CancelOrder,
    stockMoving((command, state) => cancelOrder(command, state)),
  );
  bus.register(
    ShipOrder,
    stockMoving((command, state) => shipOrder(command, state)),
  );
}

async function load<S>(store: EventStore, model: StreamModel<S, any>, streamId: string): Promise<S> {
  return fold(model, await store.readStream(streamId));
}

function productsOf(states: ReadonlyMap<string, unknown>): Map<string, ProductState> {
  const products = new Map<string, ProductState>();
  for (const [streamId, state] of states) {
    if (streamId.startsWith('product-')) products.set(streamId.slice('product-'.length), state as ProductState);
  }
  return products;
}

// An order's lines never change after it is created, so its first event is enough.
async function orderLines(store: EventStore, orderId: string): Promise<OrderLine[]> {
  const [created] = await store.readStream(orderStreamId(orderId), { limit: 1 });
  return created?.type === 'OrderCreated' ? (created.data as { lines: OrderLine[] }).lines : [];
}

// The streams a handler picked from an earlier read can be overtaken by a concurrent change; then read again.
function retryingStaleLookups<C extends Command>(handler: CommandHandler<C>, attempts = 5): CommandHandler<C> {
  return async (command, context) => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await handler(command, context);
      } catch (err) {
        if (attempt >= attempts || !(isChronicleError(err, 'CONCURRENCY_CONFLICT') && err.details.staleLookup)) throw err;
      }
    }
  };
}
