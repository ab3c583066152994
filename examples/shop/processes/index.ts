// The Shop's process managers, in one list for createWorkflows.
import type { ProcessManager } from 'chronicle-es';
import { fulfilment } from './fulfilment.js';
import { DEFAULT_LOW_STOCK_THRESHOLD, restockAlerts } from './restock-alerts.js';

export type ShopProcessOptions = {
  /** Fewer units available than this raise a low-stock alert. Default 5 (SHOP_LOW_STOCK_THRESHOLD). */
  lowStockThreshold?: number;
};

/** Fulfilment and restock alerts. @throws Error for a threshold that is not a positive integer */
export function shopProcesses(options: ShopProcessOptions = {}): ProcessManager<any>[] {
  return [fulfilment, restockAlerts(options.lowStockThreshold ?? DEFAULT_LOW_STOCK_THRESHOLD)];
}
