// The product aggregate: catalog data and stock. Orders reserve, release and ship units through it,
// so the product stream is where concurrent orders for the last unit meet.
import { assertNever, type CommandOf, type Decider, domainError, type EventOf } from 'chronicle-es';
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
import { notFound } from './refusals.js';
import { type SkuClaimState, skuClaim, skuStreamId } from './sku-claim.js';
import type { StreamEvents } from './stream-events.js';

type StockMove = { productId: string; orderId: string; quantity: number };

/** Catalog commands come from clients; the stock moves are decided on behalf of an order. */
export type ProductCommand =
  | CommandOf<typeof CreateProduct>
  | CommandOf<typeof ChangeProductPrice>
  | CommandOf<typeof DeleteProduct>
  | CommandOf<typeof RestockProduct>
  | { type: 'ReserveStock'; data: StockMove }
  | { type: 'ReleaseStock'; data: StockMove }
  | { type: 'ShipStock'; data: StockMove };

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
      case 'ReleaseStock':
        return [{ type: 'StockReleased', data: command.data }];
      case 'ShipStock':
        return [{ type: 'StockShipped', data: command.data }];
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

/** Creates a product and claims its sku in one decision. */
export function createProduct(
  command: CommandOf<typeof CreateProduct>,
  state: { product: ProductState; sku: SkuClaimState },
): StreamEvents {
  const { productId, sku } = command.data;
  return [
    { streamId: productStreamId(productId), events: product.decide(command, state.product) },
    { streamId: skuStreamId(sku), events: skuClaim.decide({ type: 'ClaimSku', data: { sku, productId } }, state.sku) },
  ];
}
