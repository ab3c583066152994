// The catalog and its stock: product commands, the events on a product's stream, and the catalog queries.
import { defineCommand, defineEvent, defineQuery } from 'chronicle-es';
import { z } from 'zod';
import { allow, hasRole, may, STAFF } from './access.js';
import { cents, currency, cursor, entityId, limit, line, name, text } from './fields.js';

/** Stock keeping unit: upper-case letters, digits and dashes, unique across the catalog. */
export const sku = z
  .string()
  .min(1)
  .max(40)
  .regex(/^[A-Z0-9][A-Z0-9-]*$/, 'upper-case letters, digits and dashes, e.g. MUG-CER-350');

export const CreateProduct = defineCommand(
  'CreateProduct',
  z.strictObject({
    productId: entityId,
    sku,
    name,
    description: text(2000).optional(),
    priceCents: cents,
    currency,
  }),
  { description: 'Adds a product to the catalog (no stock yet); the sku must be unused.', roles: may('clerk') },
);

export const ChangeProductPrice = defineCommand(
  'ChangeProductPrice',
  z.strictObject({ productId: entityId, priceCents: cents }),
  {
    description: 'Sets the price of future orders; existing orders keep theirs.',
    roles: may('clerk'),
  },
);

export const DeleteProduct = defineCommand('DeleteProduct', z.strictObject({ productId: entityId }), {
  description: 'Takes a product off sale: it can no longer be ordered; existing orders keep their lines.',
  roles: may('clerk'),
});

export const RestockProduct = defineCommand(
  'RestockProduct',
  z.strictObject({ productId: entityId, quantity: z.number().int().min(1).max(1_000_000) }),
  { description: 'Adds units to a product’s stock on hand.', roles: may('clerk') },
);

export const ProductCreated = defineEvent(
  'ProductCreated',
  z.object({
    productId: z.string(),
    sku: z.string(),
    name: z.string(),
    description: z.string().optional(),
    priceCents: cents,
    currency: z.string(),
  }),
);
export const ProductPriceChanged = defineEvent('ProductPriceChanged', z.object({ productId: z.string(), priceCents: cents }));
export const ProductDeleted = defineEvent('ProductDeleted', z.object({ productId: z.string() }));
export const ProductRestocked = defineEvent('ProductRestocked', z.object({ productId: z.string(), quantity: z.number().int() }));
/** Units held for an order: still on hand, no longer available. */
export const StockReserved = defineEvent(
  'StockReserved',
  z.object({ productId: z.string(), orderId: z.string(), quantity: z.number().int() }),
);
/** A cancelled order's units return to available. */
export const StockReleased = defineEvent(
  'StockReleased',
  z.object({ productId: z.string(), orderId: z.string(), quantity: z.number().int() }),
);
/** A shipped order's units leave the warehouse: on hand and reserved both drop. */
export const StockShipped = defineEvent(
  'StockShipped',
  z.object({ productId: z.string(), orderId: z.string(), quantity: z.number().int() }),
);

/**
 * Legacy, never written now: on a `productSku-…` stream, the sku belongs to this product (for good). Logs written
 * before tags hold these; the sku rule still reads them (domain/sku-owner.ts), and old logs still validate and project.
 */
export const SkuClaimed = defineEvent('SkuClaimed', z.object({ sku: z.string(), productId: z.string() }));

const productItem = z.object({
  productId: z.string(),
  sku: z.string(),
  name: z.string(),
  priceCents: cents,
  currency: z.string(),
  available: z.number().int(),
  deleted: z.boolean(),
});
export type ProductItem = z.output<typeof productItem>;

export const ListAllProducts = defineQuery(
  'ListAllProducts',
  z.strictObject({
    limit,
    cursor: cursor.optional(),
    /** Matches name or sku, case-insensitively. */
    search: line(1, 100).optional(),
    includeDeleted: z.boolean().default(false),
  }),
  {
    description: 'The catalog by name, a page at a time; pass nextCursor back as cursor for the next page.',
    result: z.object({ items: z.array(productItem), nextCursor: z.string().nullable() }),
    reads: ['catalog'],
    // Anyone signed in may browse what is on sale; deleted products are staff business.
    roles: may(...STAFF, 'customer'),
    policy: (principal, p) => {
      if (allow(principal, ...STAFF) === true) return true;
      if (!hasRole(principal, 'customer')) return allow(principal, ...STAFF, 'customer');
      return !p.includeDeleted || 'only staff may list deleted products';
    },
  },
);

/** A product's open low-stock alert: raised when its available units fell below `threshold`. */
export const lowStockAlert = z.object({ threshold: z.number().int(), since: z.string() });

export const inventoryView = z.object({
  productId: z.string(),
  onHand: z.number().int(),
  reserved: z.number().int(),
  available: z.number().int(),
  /** Present while the product is low on stock (see ListLowStock); null otherwise. */
  lowStock: lowStockAlert.nullable(),
});
export type InventoryView = z.output<typeof inventoryView>;

export const GetInventory = defineQuery('GetInventory', z.strictObject({ productId: entityId }), {
  description: 'Units on hand, reserved by open orders, and available to order; and its low-stock alert, if one is open.',
  result: inventoryView,
  reads: ['inventory'],
  roles: may(...STAFF),
});
