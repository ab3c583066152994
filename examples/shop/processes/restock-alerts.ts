// The restock-alerts process: it follows every product's stock and, when the units available to order fall below the
// threshold, raises a low-stock alert; once restocked to the threshold or more (or the product is deleted) it clears
// it. The alert is a command like any (RaiseLowStockAlert), recorded once on the alert's own stream.
import { command, defineProcessManager, type ProcessStep, type RecordedEvent } from 'chronicle-es';
import {
  ProductCreated,
  ProductDeleted,
  ProductRestocked,
  StockReleased,
  StockReserved,
  StockShipped,
} from '../messages/catalog.js';
import { ClearLowStockAlert, RaiseLowStockAlert } from '../messages/stock-alerts.js';

/** The default of SHOP_LOW_STOCK_THRESHOLD: fewer units available than this raise an alert. */
export const DEFAULT_LOW_STOCK_THRESHOLD = 5;

/**
 * A product's stock as the process follows it. `stocked`: restocked at least once (a product never stocked is not
 * "low", it is not on the shelf yet); `low`: the process has raised the alert.
 */
export type StockWatch = {
  productId: string;
  onHand: number;
  reserved: number;
  stocked: boolean;
  deleted: boolean;
  low: boolean;
};

const events = [ProductCreated, ProductRestocked, StockReserved, StockReleased, StockShipped, ProductDeleted] as const;

/** Builds the process for a threshold (≥ 1). @throws Error for a threshold that is not a positive integer */
export function restockAlerts(threshold: number = DEFAULT_LOW_STOCK_THRESHOLD) {
  if (!(Number.isSafeInteger(threshold) && threshold >= 1)) {
    throw new Error(`the low-stock threshold must be a positive integer; got ${threshold}`);
  }
  // Moves the watch to `next` and says what the move calls for: an alert raised when stock fell low, cleared when it
  // is back (or the product went), nothing otherwise.
  const watch = (next: StockWatch): ProcessStep<StockWatch> => {
    const { productId } = next;
    const available = next.onHand - next.reserved;
    const low = next.stocked && !next.deleted && available < threshold;
    if (low && !next.low) {
      return { state: { ...next, low }, send: [command(RaiseLowStockAlert, { productId, available, threshold })] };
    }
    if (!low && next.low) return { state: { ...next, low }, send: [command(ClearLowStockAlert, { productId, available })] };
    return { state: next };
  };
  const current = (event: RecordedEvent<string, { productId: string }>, state: StockWatch | undefined): StockWatch =>
    state ?? { productId: event.data.productId, onHand: 0, reserved: 0, stocked: false, deleted: false, low: false };

  return defineProcessManager<StockWatch, (typeof events)[number]>({
    name: 'restock_alerts',
    version: 1,
    events,
    // Every stock event is on its product's stream (the default key).
    handlers: {
      ProductCreated: (event, { state }) => ({ state: current(event, state) }),
      ProductRestocked: (event, { state }) => {
        const s = current(event, state);
        return watch({ ...s, onHand: s.onHand + event.data.quantity, stocked: true });
      },
      StockReserved: (event, { state }) => {
        const s = current(event, state);
        return watch({ ...s, reserved: s.reserved + event.data.quantity });
      },
      StockReleased: (event, { state }) => {
        const s = current(event, state);
        return watch({ ...s, reserved: s.reserved - event.data.quantity });
      },
      StockShipped: (event, { state }) => {
        const s = current(event, state);
        return watch({ ...s, onHand: s.onHand - event.data.quantity, reserved: s.reserved - event.data.quantity });
      },
      ProductDeleted: (event, { state }) => watch({ ...current(event, state), deleted: true }),
    },
  });
}
