// Orders: placing, paying, shipping, cancelling and expiring, the events they cause, and the order queries.
import { defineCommand, defineEvent, defineQuery, personal } from 'chronicle-es';
import { z } from 'zod';
import { allow, allowSelf, hasRole, may, notFound, STAFF, SYSTEM_ROLE } from './access.js';
import { cents, centsSum, cursor, entityId, limit, line, orderCents } from './fields.js';

/** Bounds that, with MAX_PRICE_CENTS, keep every order total an exact safe integer (see fields.ts). */
export const MAX_ORDER_LINES = 100;
export const MAX_LINE_QUANTITY = 10_000;

const orderLine = z.strictObject({ productId: entityId, quantity: z.number().int().min(1).max(MAX_LINE_QUANTITY) });

export const CreateOrder = defineCommand(
  'CreateOrder',
  z.strictObject({
    orderId: entityId,
    customerId: entityId,
    lines: z
      .array(orderLine)
      .min(1)
      .max(MAX_ORDER_LINES)
      // One line per product keeps "quantity of X in this order" unambiguous; clients add quantities up.
      .refine((lines) => new Set(lines.map((l) => l.productId)).size === lines.length, 'list each product at most once'),
  }),
  {
    description:
      'Places an order at today’s catalog prices, reserving stock for every line — or refuses it and reserves nothing. ' +
      'An order still unpaid after the payment timeout expires and its stock returns.',
    roles: may('customer'),
    policy: (principal, p) => allowSelf(principal, p.customerId),
  },
);

const byOrderId = z.strictObject({ orderId: entityId });

export const PayOrder = defineCommand('PayOrder', byOrderId, {
  description: 'Marks a created order paid. A customer may pay only its own orders.',
  roles: may('customer'),
});

export const ShipOrder = defineCommand('ShipOrder', byOrderId, {
  description: 'Ships a paid order: its reserved units leave the stock.',
  roles: may('clerk'),
});

export const CancelOrder = defineCommand('CancelOrder', z.strictObject({ orderId: entityId, reason: line(1, 500).optional() }), {
  description: 'Cancels an order that has not shipped and releases its reserved stock. A customer may cancel only its own.',
  roles: may('customer'),
});

/** Sent by the scheduler when an order's payment timeout passes (CreateOrder schedules it); admin may send it too. */
export const ExpireOrder = defineCommand('ExpireOrder', byOrderId, {
  description:
    'Expires an order still unpaid and releases its reserved stock; for an order paid, shipped, cancelled or expired ' +
    'already it does nothing. Sent by the Shop itself when the payment timeout passes.',
  roles: may(SYSTEM_ROLE),
});

const recordedLine = z.object({
  productId: z.string(),
  sku: z.string(),
  name: z.string(),
  quantity: z.number().int(),
  unitPriceCents: cents,
});
export type OrderLine = z.output<typeof recordedLine>;

/**
 * Names and prices are copied from the catalog at order time, so later price changes never touch the order; so is the
 * payment timeout: unpaid this long after it was placed, the order expires (absent on orders placed before expiry was).
 */
export const OrderCreated = defineEvent(
  'OrderCreated',
  z.object({
    orderId: z.string(),
    customerId: z.string(),
    /** A copy of the customer's name, personal like the original. */
    customerName: personal(z.string()),
    lines: z.array(recordedLine),
    currency: z.string(),
    totalCents: orderCents,
    paymentTimeoutMs: z.number().int().positive().optional(),
  }),
  { subject: 'customerId' },
);
export const OrderPaid = defineEvent('OrderPaid', z.object({ orderId: z.string() }));
export const OrderShipped = defineEvent('OrderShipped', z.object({ orderId: z.string() }));
export const OrderCancelled = defineEvent(
  'OrderCancelled',
  z.object({ orderId: z.string(), reason: z.string().optional(), wasPaid: z.boolean() }),
);

/** The payment timeout passed with the order unpaid: like a cancellation, its reserved units return to stock. */
export const OrderExpired = defineEvent('OrderExpired', z.object({ orderId: z.string() }));

export const ORDER_STATUSES = ['created', 'paid', 'shipped', 'cancelled', 'expired'] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

/** Every step of an order's life the timeline shows: its statuses, and the fulfilment steps between them. */
export const ORDER_STEPS = [
  'created',
  'paid',
  'allocated',
  'shipped',
  'customer-notified',
  'cancelled',
  'shipment-released',
  'expired',
] as const;
export type OrderStep = (typeof ORDER_STEPS)[number];

export const orderView = z.object({
  orderId: z.string(),
  customerId: z.string(),
  customerName: z.string(),
  status: z.enum(ORDER_STATUSES),
  lines: z.array(z.object({ productId: z.string(), name: z.string(), quantity: z.number().int(), unitPriceCents: cents })),
  currency: z.string(),
  totalCents: orderCents,
  history: z.array(z.object({ status: z.enum(ORDER_STATUSES), at: z.string() })),
  /** Every step in the order it happened: the statuses and the fulfilment steps (allocated, notified, released). */
  timeline: z.array(z.object({ step: z.enum(ORDER_STEPS), at: z.string() })),
  /** When an unpaid order expires; null once it is paid, cancelled or expired (or when it never had a timeout). */
  paymentDueAt: z.string().nullable(),
});
export type OrderView = z.output<typeof orderView>;

export const GetOrderStatus = defineQuery('GetOrderStatus', byOrderId, {
  description:
    'An order with its lines, total, status history and timeline (payment, expiry, allocation, shipping, the ' +
    'customer notified), and when an unpaid one expires. A customer sees only its own orders.',
  result: orderView,
  reads: ['orders'],
  roles: may(...STAFF, 'customer'),
  // The owner is known only once the order is read, so this check runs on the result. Another customer's order is
  // answered exactly like a missing one (NOT_FOUND, not a FORBIDDEN verdict): a 403 would confirm the id exists.
  resultPolicy: (principal, order) => {
    if (allow(principal, ...STAFF) === true || (hasRole(principal, 'customer') && principal?.id === order.customerId)) {
      return true;
    }
    throw notFound('order', order.orderId);
  },
});

const orderSummary = z.object({
  orderId: z.string(),
  status: z.enum(ORDER_STATUSES),
  currency: z.string(),
  totalCents: orderCents,
  lineCount: z.number().int(),
  createdAt: z.string(),
});
export type OrderSummary = z.output<typeof orderSummary>;

export const ListOrdersByCustomer = defineQuery(
  'ListOrdersByCustomer',
  z.strictObject({ customerId: entityId, limit, cursor: cursor.optional() }),
  {
    description: 'A customer’s orders, newest first, a page at a time.',
    result: z.object({ items: z.array(orderSummary), nextCursor: z.string().nullable() }),
    reads: ['orders'],
    roles: may(...STAFF, 'customer'),
    policy: (principal, p) => allowSelf(principal, p.customerId, ...STAFF),
  },
);

export const salesSummary = z.object({
  ordersByStatus: z.record(z.enum(ORDER_STATUSES), z.number().int()),
  /** Paid and shipped orders, per currency. */
  revenue: z.array(z.object({ currency: z.string(), cents: centsSum })),
  topProducts: z.array(
    z.object({
      productId: z.string(),
      name: z.string(),
      unitsSold: z.number().int(),
      revenueCents: centsSum,
      currency: z.string(),
    }),
  ),
});
export type SalesSummary = z.output<typeof salesSummary>;

export const GetSalesSummary = defineQuery(
  'GetSalesSummary',
  z.strictObject({ top: z.number().int().min(1).max(50).default(5) }),
  {
    description: 'Orders by status, revenue of paid orders, and the best-selling products.',
    result: salesSummary,
    reads: ['sales'],
    roles: may(...STAFF),
  },
);
