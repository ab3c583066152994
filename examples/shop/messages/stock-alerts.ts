// Low-stock alerts: the restock-alerts process (processes/restock-alerts.ts) raises one when a product's available
// units fall below the threshold and clears it once restocked; staff list them.
import { defineCommand, defineEvent, defineQuery } from 'chronicle-es';
import { z } from 'zod';
import { may, STAFF, SYSTEM_ROLE } from './access.js';
import { cursor, entityId, limit } from './fields.js';

const units = z.number().int().min(-1_000_000_000).max(1_000_000_000);

export const RaiseLowStockAlert = defineCommand(
  'RaiseLowStockAlert',
  z.strictObject({ productId: entityId, available: units, threshold: z.number().int().min(1).max(1_000_000) }),
  {
    description:
      'Opens a low-stock alert for a product (on its stream stock-alert-<productId>); while one is open a repeat does ' +
      'nothing. Sent by the Shop when available stock falls below the threshold.',
    roles: may(SYSTEM_ROLE),
  },
);

export const ClearLowStockAlert = defineCommand('ClearLowStockAlert', z.strictObject({ productId: entityId, available: units }), {
  description: 'Closes a product’s open low-stock alert; without one it does nothing. Sent by the Shop once restocked.',
  roles: may(SYSTEM_ROLE),
});

export const LowStockAlertRaised = defineEvent(
  'LowStockAlertRaised',
  z.object({ productId: z.string(), available: z.number().int(), threshold: z.number().int() }),
);
export const LowStockAlertCleared = defineEvent(
  'LowStockAlertCleared',
  z.object({ productId: z.string(), available: z.number().int() }),
);

const lowStockItem = z.object({
  productId: z.string(),
  onHand: z.number().int(),
  reserved: z.number().int(),
  available: z.number().int(),
  threshold: z.number().int(),
  since: z.string(),
});
export type LowStockItem = z.output<typeof lowStockItem>;

export const ListLowStock = defineQuery('ListLowStock', z.strictObject({ limit, cursor: cursor.optional() }), {
  description: 'Products with an open low-stock alert, by product id, a page at a time, with their stock now.',
  result: z.object({ items: z.array(lowStockItem), nextCursor: z.string().nullable() }),
  reads: ['inventory'],
  roles: may(...STAFF),
});
