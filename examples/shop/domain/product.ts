// The product aggregate: catalog data and stock. Orders reserve units through it, so the product's events (its
// stream, read as a tag) are where concurrent orders for the last unit meet.
import { assertNever, type CommandOf, type Decider, type DecisionModel, domainError, type EventOf, Query } from 'chronicle-es';
import type {
  ChangeProductPrice,
  CreateProduct,
  DeleteProduct,
  ProductCreated,
  ProductDeleted,
  ProductPriceChanged,
  ProductRestocked,
  RestockProduct,
  StockReleased,
  StockReserved,
  StockShipped,
} from '../messages/catalog.js';
import { type InStream, inStream } from './in-stream.js';
import { notFound } from './refusals.js';
import { checkSkuFree, type SkuOwnerState } from './sku-owner.js';
import { skuTag } from './tags.js';

type StockMove = { productId: string; orderId: string; quantity: number };

/** Catalog commands come from clients; a reservation is decided on behalf of an order. */
export type ProductCommand =
  | CommandOf<typeof CreateProduct>
  | CommandOf<typeof ChangeProductPrice>
  | CommandOf<typeof DeleteProduct>
  | CommandOf<typeof RestockProduct>
  | { type: 'ReserveStock'; data: StockMove };

export type ProductEvent =
  | EventOf<typeof ProductCreated>
  | EventOf<typeof ProductPriceChanged>
  | EventOf<typeof ProductDeleted>
  | EventOf<typeof ProductRestocked>
  | EventOf<typeof StockReserved>
  | EventOf<typeof StockReleased>
  | EventOf<typeof StockShipped>;

export type ProductState =
  | { status: 'none' }
  | {
      status: 'active' | 'deleted';
      productId: string;
      sku: string;
      name: string;
      priceCents: number;
      currency: string;
      onHand: number;
      reserved: number;
    };

export const productStreamId = (productId: string) => `product-${productId}`;

export const product: Decider<ProductCommand, ProductEvent, ProductState> = {
  initialState: { status: 'none' },

  decide(command, state) {
    const { productId } = command.data;
    if (command.type === 'CreateProduct') {
      if (state.status !== 'none') throw domainError(`product ${JSON.stringify(productId)} already exists`);
      return [{ type: 'ProductCreated', data: command.data }];
    }
    if (state.status === 'none') {
      if (command.type === 'ReserveStock') throw domainError(`product ${JSON.stringify(productId)} does not exist`);
      throw notFound('product', productId);
    }
    switch (command.type) {
      case 'ChangeProductPrice':
        if (state.status === 'deleted') throw domainError(`product ${JSON.stringify(productId)} is deleted`);
        if (command.data.priceCents === state.priceCents) return [];
        return [{ type: 'ProductPriceChanged', data: command.data }];
      case 'DeleteProduct':
        return state.status === 'deleted' ? [] : [{ type: 'ProductDeleted', data: { productId } }];
      case 'RestockProduct':
        if (state.status === 'deleted') throw domainError(`product ${JSON.stringify(productId)} is deleted`);
        return [{ type: 'ProductRestocked', data: command.data }];
      case 'ReserveStock': {
        if (state.status === 'deleted') throw domainError(`product ${JSON.stringify(productId)} is no longer sold`);
        const available = state.onHand - state.reserved;
        if (command.data.quantity > available) {
          throw domainError(`not enough stock of ${state.sku}: ${available} available, ${command.data.quantity} requested`, {
            productId,
            available,
            requested: command.data.quantity,
          });
        }
        return [{ type: 'StockReserved', data: command.data }];
      }
      default:
        return assertNever(command);
    }
  },

  evolve(state, event) {
    if (event.type === 'ProductCreated') {
      const { productId, sku, name, priceCents, currency } = event.data;
      return { status: 'active', productId, sku, name, priceCents, currency, onHand: 0, reserved: 0 };
    }
    if (state.status === 'none') return state;
    switch (event.type) {
      case 'ProductPriceChanged':
        return { ...state, priceCents: event.data.priceCents };
      case 'ProductDeleted':
        return { ...state, status: 'deleted' };
      case 'ProductRestocked':
        return { ...state, onHand: state.onHand + event.data.quantity };
      case 'StockReserved':
        return { ...state, reserved: state.reserved + event.data.quantity };
      case 'StockReleased':
        return { ...state, reserved: state.reserved - event.data.quantity };
      case 'StockShipped':
        return { ...state, onHand: state.onHand - event.data.quantity, reserved: state.reserved - event.data.quantity };
      default:
        return assertNever(event);
    }
  },
};

// #region product-model
/** What a decision reads about a product: its stream's events, found by the stream id as a tag. */
export const productModel = (productId: string): DecisionModel<ProductState, ProductEvent> => ({
  query: Query.tags(productStreamId(productId)),
  initialState: product.initialState,
  evolve: product.evolve,
});
// #endregion product-model

/** Creates a product; its ProductCreated carries the sku's tag, which is what takes the sku. */
export function createProduct(
  command: CommandOf<typeof CreateProduct>,
  state: { product: ProductState; sku: SkuOwnerState },
): InStream<ProductEvent>[] {
  const { productId, sku } = command.data;
  const events = product.decide(command, state.product);
  checkSkuFree(sku, productId, state.sku);
  return inStream(productStreamId(productId), events, [skuTag(sku)]);
}
