// The restock-alerts process, step by step: it folds a product's stock from its events and raises an alert once when
// the units available fall below the threshold, clearing it once when they are back (or the product is deleted).
import { processManagerSpec } from 'chronicle-es/testing';
import { describe, expect, it } from 'vitest';
import { restockAlerts } from './restock-alerts.js';

const spec = processManagerSpec(restockAlerts(5));
const on = 'product-mug';
const created = {
  type: 'ProductCreated' as const,
  data: { productId: 'mug', sku: 'MUG', name: 'Mug', priceCents: 100, currency: 'EUR' },
  streamId: on,
};
const restocked = (quantity: number) => ({
  type: 'ProductRestocked' as const,
  data: { productId: 'mug', quantity },
  streamId: on,
});
const move = (type: 'StockReserved' | 'StockReleased' | 'StockShipped', quantity: number, orderId = 'o1') => ({
  type,
  data: { productId: 'mug', orderId, quantity },
  streamId: on,
});
const raise = (available: number) => ({ type: 'RaiseLowStockAlert', data: { productId: 'mug', available, threshold: 5 } });
const clear = (available: number) => ({ type: 'ClearLowStockAlert', data: { productId: 'mug', available } });

describe('restock alerts', () => {
  it('raises an alert when a reservation takes the available units below the threshold', async () => {
    await spec
      .given([created, restocked(6)])
      .when(move('StockReserved', 2))
      .then({
        send: [raise(4)],
        state: { productId: 'mug', onHand: 6, reserved: 2, stocked: true, deleted: false, low: true },
      });
  });

  it('raises it once: lower still sends nothing more', async () => {
    await spec
      .given([created, restocked(6), move('StockReserved', 2)])
      .when(move('StockReserved', 3, 'o2'))
      .then({ send: [], state: { productId: 'mug', onHand: 6, reserved: 5, stocked: true, deleted: false, low: true } });
    await spec
      .given([created, restocked(6), move('StockReserved', 2)])
      .when(move('StockShipped', 2))
      .then({ send: [] });
  });

  it('clears it when a restock or a release brings the available units back to the threshold', async () => {
    await spec
      .given([created, restocked(6), move('StockReserved', 2)])
      .when(restocked(10))
      .then({ send: [clear(14)] });
    await spec
      .given([created, restocked(6), move('StockReserved', 2)])
      .when(move('StockReleased', 1))
      .then({ send: [clear(5)] });
  });

  it('a product never restocked is not low; one restocked too little is', async () => {
    await spec.given([]).when(created).then({ send: [] });
    await spec
      .given([created])
      .when(restocked(3))
      .then({ send: [raise(3)] });
  });

  it('a deleted product needs no restock: its alert is cleared, and none is raised for it again', async () => {
    const deleted = { type: 'ProductDeleted' as const, data: { productId: 'mug' }, streamId: on };
    await spec
      .given([created, restocked(6), move('StockReserved', 2)])
      .when(deleted)
      .then({ send: [clear(4)] });
    await spec
      .given([created, restocked(6), deleted])
      .when(move('StockShipped', 3))
      .then({ send: [] });
  });

  it('is built for a positive whole threshold only', () => {
    for (const bad of [0, -1, 2.5, Number.NaN]) expect(() => restockAlerts(bad)).toThrow(/positive integer/);
    expect(restockAlerts().name).toBe('restock_alerts');
  });
});
