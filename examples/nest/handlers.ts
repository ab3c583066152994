// The Shop's CreateProduct, RestockProduct, RegisterCustomer, CreateOrder and GetOrderStatus as Nest providers: the Shop's own messages,
// domain and read model, wired by decorators instead of by registerCommands/registerQueries.
import { Inject, Injectable } from '@nestjs/common';
import {
  type CommandHandler as ChronicleHandler,
  type CommandContext,
  type CommandOf,
  createCommandHandler,
  createDecisionHandler,
  type EventStore,
  type PayloadOf,
  type SqlReader,
} from 'chronicle-es';
import { type ChronicleCommandHandler, type ChronicleQueryHandler, CommandHandler, QueryHandler } from 'chronicle-es/nest';
import { placeOrder } from '../shop/domain/checkout.js';
import { customerModel, registerCustomer } from '../shop/domain/customer.js';
import { emailOwner } from '../shop/domain/email-owner.js';
import { orderModel } from '../shop/domain/order.js';
import { createProduct, product, productModel, productStreamId } from '../shop/domain/product.js';
import { skuOwner } from '../shop/domain/sku-owner.js';
import { CreateProduct, RestockProduct } from '../shop/messages/catalog.js';
import { RegisterCustomer } from '../shop/messages/customers.js';
import { CreateOrder, GetOrderStatus } from '../shop/messages/orders.js';
import { readOrderStatus } from '../shop/queries.js';
import { EVENT_STORE, ORDERS_READER } from './tokens.js';

// #region nest-handler
@Injectable()
@CommandHandler(CreateProduct)
export class CreateProductHandler implements ChronicleCommandHandler<typeof CreateProduct> {
  private readonly handle: ChronicleHandler<CommandOf<typeof CreateProduct>>;

  constructor(@Inject(EVENT_STORE) store: EventStore) {
    this.handle = createDecisionHandler({
      store,
      models: ({ data }: CommandOf<typeof CreateProduct>) => ({ product: productModel(data.productId), sku: skuOwner(data.sku) }),
      decide: createProduct,
    });
  }

  execute(command: CommandOf<typeof CreateProduct>, context: CommandContext) {
    return this.handle(command, context);
  }
}
// #endregion nest-handler

/** A restock concerns the product's stream alone: the Shop's product decider, checked by version. */
@Injectable()
@CommandHandler(RestockProduct)
export class RestockProductHandler implements ChronicleCommandHandler<typeof RestockProduct> {
  private readonly handle: ChronicleHandler<CommandOf<typeof RestockProduct>>;

  constructor(@Inject(EVENT_STORE) store: EventStore) {
    this.handle = createCommandHandler({ store, decider: product, streamId: (c) => productStreamId(c.data.productId) });
  }

  execute(command: CommandOf<typeof RestockProduct>, context: CommandContext) {
    return this.handle(command, context);
  }
}

@Injectable()
@CommandHandler(RegisterCustomer)
export class RegisterCustomerHandler implements ChronicleCommandHandler<typeof RegisterCustomer> {
  private readonly handle: ChronicleHandler<CommandOf<typeof RegisterCustomer>>;

  constructor(@Inject(EVENT_STORE) store: EventStore) {
    this.handle = createDecisionHandler({
      store,
      models: ({ data }: CommandOf<typeof RegisterCustomer>) => ({
        customer: customerModel(data.customerId),
        email: emailOwner(data.email),
      }),
      decide: registerCustomer,
    });
  }

  execute(command: CommandOf<typeof RegisterCustomer>, context: CommandContext) {
    return this.handle(command, context);
  }
}

/** Reads each ordered product's stock, the customer and the order: two orders conflict only over a shared product. */
@Injectable()
@CommandHandler(CreateOrder)
export class CreateOrderHandler implements ChronicleCommandHandler<typeof CreateOrder> {
  private readonly handle: ChronicleHandler<CommandOf<typeof CreateOrder>>;

  constructor(@Inject(EVENT_STORE) store: EventStore) {
    this.handle = createDecisionHandler({
      store,
      maxRetries: 100,
      models: ({ data }: CommandOf<typeof CreateOrder>) => ({
        order: orderModel(data.orderId),
        customer: customerModel(data.customerId),
        products: new Map(data.lines.map((line) => [line.productId, productModel(line.productId)])),
      }),
      decide: (command: CommandOf<typeof CreateOrder>, states: Parameters<typeof placeOrder>[1]) => placeOrder(command, states),
    });
  }

  execute(command: CommandOf<typeof CreateOrder>, context: CommandContext) {
    return this.handle(command, context);
  }
}

@Injectable()
@QueryHandler(GetOrderStatus)
export class GetOrderStatusHandler implements ChronicleQueryHandler<typeof GetOrderStatus> {
  constructor(@Inject(ORDERS_READER) private readonly orders: SqlReader) {}

  execute({ orderId }: PayloadOf<typeof GetOrderStatus>) {
    return readOrderStatus(this.orders, orderId);
  }
}
