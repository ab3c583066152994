// A product's low-stock alert, on a stream of its own (stock-alert-<productId>): open or not. Raising one that is open,
// or clearing one that is not, writes nothing, so the alert is recorded once however often it is asked for.
import { type CommandOf, type DecisionModel, type EventOf, Query } from 'chronicle-es';
import type { ProductCreated } from '../messages/catalog.js';
import type {
  ClearLowStockAlert,
  LowStockAlertCleared,
  LowStockAlertRaised,
  RaiseLowStockAlert,
} from '../messages/stock-alerts.js';
import { type InStream, inStream } from './in-stream.js';
import { productStreamId } from './product.js';
import { notFound } from './refusals.js';

export type StockAlertEvent = EventOf<typeof LowStockAlertRaised> | EventOf<typeof LowStockAlertCleared>;
export type StockAlertState = { open: boolean };

export const stockAlertStreamId = (productId: string) => `stock-alert-${productId}`;

const initialState: StockAlertState = { open: false };
const evolve = (_state: StockAlertState, event: StockAlertEvent): StockAlertState => ({
  open: event.type === 'LowStockAlertRaised',
});

/** What a decision reads about a product's alert: its stream's events. */
export const stockAlertModel = (productId: string): DecisionModel<StockAlertState, StockAlertEvent> => ({
  query: Query.tags(stockAlertStreamId(productId)),
  initialState,
  evolve,
});

/** Whether a product exists: its ProductCreated alone, so the alert's decision never conflicts with its stock moves. */
export type ProductExists = { exists: boolean };
const created = (): ProductExists => ({ exists: true });

/** What an alert's decision reads about its product. */
export const productExistsModel = (productId: string): DecisionModel<ProductExists, EventOf<typeof ProductCreated>> => ({
  query: Query.of({ types: ['ProductCreated'], tags: [productStreamId(productId)] }),
  initialState: { exists: false },
  evolve: created,
});

/** Opens the product's alert unless one is open. @throws NOT_FOUND no such product */
export function raiseLowStockAlert(
  command: CommandOf<typeof RaiseLowStockAlert>,
  state: { product: ProductExists; alert: StockAlertState },
): InStream<StockAlertEvent>[] {
  const { productId } = command.data;
  if (!state.product.exists) throw notFound('product', productId);
  if (state.alert.open) return [];
  return inStream(stockAlertStreamId(productId), [{ type: 'LowStockAlertRaised', data: command.data }]);
}

/** Closes the product's alert if one is open. @throws NOT_FOUND no such product */
export function clearLowStockAlert(
  command: CommandOf<typeof ClearLowStockAlert>,
  state: { product: ProductExists; alert: StockAlertState },
): InStream<StockAlertEvent>[] {
  const { productId } = command.data;
  if (!state.product.exists) throw notFound('product', productId);
  if (!state.alert.open) return [];
  return inStream(stockAlertStreamId(productId), [{ type: 'LowStockAlertCleared', data: command.data }]);
}
