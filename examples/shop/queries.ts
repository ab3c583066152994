// Answers every Shop query from the read store's denormalized tables; nothing here touches the event store.
import { ChronicleError, type PayloadOf, type QueryBus, type SqlReader, type SqlValue } from 'chronicle-es';
import { notFound } from './messages/access.js';
import { GetInventory, type InventoryView, ListAllProducts, type ProductItem } from './messages/catalog.js';
import { type CustomerView, GetCustomerById } from './messages/customers.js';
import {
  GetOrderStatus,
  GetSalesSummary,
  ListOrdersByCustomer,
  ORDER_STATUSES,
  type OrderStatus,
  type OrderSummary,
  type OrderView,
  type SalesSummary,
} from './messages/orders.js';
import { ListLowStock, type LowStockItem } from './messages/stock-alerts.js';
import { containing } from './projections/sql.js';

/** Registers a handler for every Shop query on `bus`, reading through `readStore`'s readers (SQLite or PostgreSQL). */
export function registerQueries(bus: QueryBus, readStore: { reader(projection: string): SqlReader }): void {
  const customers = readStore.reader('customers');
  const catalog = readStore.reader('catalog');
  const inventory = readStore.reader('inventory');
  const orders = readStore.reader('orders');
  const sales = readStore.reader('sales');

  bus.register(GetCustomerById, async ({ customerId }: PayloadOf<typeof GetCustomerById>): Promise<CustomerView> => {
    const row = await customers.get<{
      customer_id: string;
      name: string;
      email: string;
      address: string | null;
      order_count: number;
      total_spent_cents: string;
      spent_by_currency: string;
    }>(`SELECT * FROM ${customers.table('customers')} WHERE customer_id = ?`, [customerId]);
    if (!row) throw notFound('customer', customerId);
    return {
      customerId: row.customer_id,
      name: row.name,
      email: row.email,
      address: row.address === null ? null : JSON.parse(row.address),
      orderCount: row.order_count,
      totalSpentCents: row.total_spent_cents,
      spentByCurrency: JSON.parse(row.spent_by_currency),
    };
  });

  bus.register(ListAllProducts, async ({ limit, cursor, search, includeDeleted }: PayloadOf<typeof ListAllProducts>) => {
    const after =
      cursor === undefined ? undefined : decodeCursor<[string, string]>(cursor, (v) => isTuple(v, 'string', 'string'));
    const where: string[] = [];
    const params: SqlValue[] = [];
    if (!includeDeleted) where.push('deleted = 0');
    if (search !== undefined) {
      // search_text is stored lower-cased (LIKE's case rules differ between the engines); the pattern escapes
      // % and _, so a search for "50%" or "a_b" means those characters literally.
      where.push(`search_text LIKE ? ESCAPE '!'`);
      params.push(containing(search.toLowerCase()));
    }
    if (after !== undefined) {
      where.push('(sort_key, product_id) > (?, ?)');
      params.push(after[0], after[1]);
    }
    const rows = await catalog.all<{
      product_id: string;
      sku: string;
      name: string;
      sort_key: string;
      price_cents: number;
      currency: string;
      available: number;
      deleted: number;
    }>(
      `SELECT * FROM ${catalog.table('products')} ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
       ORDER BY sort_key, product_id LIMIT ?`,
      [...params, limit + 1],
    );
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    const items: ProductItem[] = page.map((r) => ({
      productId: r.product_id,
      sku: r.sku,
      name: r.name,
      priceCents: r.price_cents,
      currency: r.currency,
      available: r.available,
      deleted: r.deleted === 1,
    }));
    return { items, nextCursor: rows.length > limit ? encodeCursor([last.sort_key, last.product_id]) : null };
  });

  bus.register(GetInventory, async ({ productId }: PayloadOf<typeof GetInventory>): Promise<InventoryView> => {
    const row = await inventory.get<{ on_hand: number; reserved: number; threshold: number | null; since: string | null }>(
      `SELECT s.on_hand, s.reserved, l.threshold, l.since FROM ${inventory.table('stock')} s
       LEFT JOIN ${inventory.table('low_stock')} l ON l.product_id = s.product_id WHERE s.product_id = ?`,
      [productId],
    );
    if (!row) throw notFound('product', productId);
    return {
      productId,
      onHand: row.on_hand,
      reserved: row.reserved,
      available: row.on_hand - row.reserved,
      lowStock: row.threshold === null || row.since === null ? null : { threshold: row.threshold, since: row.since },
    };
  });

  bus.register(ListLowStock, async ({ limit, cursor }: PayloadOf<typeof ListLowStock>) => {
    const after = cursor === undefined ? undefined : decodeCursor<string>(cursor, (v) => typeof v === 'string');
    const rows = await inventory.all<{ product_id: string; on_hand: number; reserved: number; threshold: number; since: string }>(
      `SELECT l.product_id, s.on_hand, s.reserved, l.threshold, l.since FROM ${inventory.table('low_stock')} l
       JOIN ${inventory.table('stock')} s ON s.product_id = l.product_id
       WHERE l.product_id > ? ORDER BY l.product_id LIMIT ?`,
      [after ?? '', limit + 1],
    );
    const page = rows.slice(0, limit);
    const items: LowStockItem[] = page.map((r) => ({
      productId: r.product_id,
      onHand: r.on_hand,
      reserved: r.reserved,
      available: r.on_hand - r.reserved,
      threshold: r.threshold,
      since: r.since,
    }));
    return { items, nextCursor: rows.length > limit ? encodeCursor(page[page.length - 1].product_id) : null };
  });

  bus.register(GetOrderStatus, ({ orderId }: PayloadOf<typeof GetOrderStatus>) => readOrderStatus(orders, orderId));

  bus.register(ListOrdersByCustomer, async ({ customerId, limit, cursor }: PayloadOf<typeof ListOrdersByCustomer>) => {
    const before = cursor === undefined ? undefined : decodeCursor<number>(cursor, (v) => Number.isSafeInteger(v));
    const rows = await orders.all<{
      order_id: string;
      seq: number;
      status: OrderStatus;
      currency: string;
      total_cents: number;
      line_count: number;
      created_at: string;
    }>(
      `SELECT order_id, seq, status, currency, total_cents, line_count, created_at FROM ${orders.table('orders')}
       WHERE customer_id = ? AND seq < ? ORDER BY seq DESC LIMIT ?`,
      [customerId, before ?? Number.MAX_SAFE_INTEGER, limit + 1],
    );
    const page = rows.slice(0, limit);
    const items: OrderSummary[] = page.map((r) => ({
      orderId: r.order_id,
      status: r.status,
      currency: r.currency,
      totalCents: r.total_cents,
      lineCount: r.line_count,
      createdAt: r.created_at,
    }));
    return { items, nextCursor: rows.length > limit ? encodeCursor(page[page.length - 1].seq) : null };
  });

  bus.register(GetSalesSummary, async ({ top }: PayloadOf<typeof GetSalesSummary>): Promise<SalesSummary> => {
    const counts = await sales.all<{ status: OrderStatus; orders: number }>(
      `SELECT status, orders FROM ${sales.table('status_counts')}`,
    );
    const ordersByStatus = Object.fromEntries(ORDER_STATUSES.map((s) => [s, 0])) as Record<OrderStatus, number>;
    for (const { status, orders: n } of counts) ordersByStatus[status] = n;
    const revenue = await sales.all<{ currency: string; cents: string }>(
      `SELECT currency, cents FROM ${sales.table('revenue')} WHERE cents <> '0' ORDER BY currency`,
    );
    const topProducts = (
      await sales.all<{ product_id: string; name: string; currency: string; units_sold: number; revenue_cents: string }>(
        `SELECT * FROM ${sales.table('product_sales')} WHERE units_sold > 0 ORDER BY units_sold DESC, product_id LIMIT ?`,
        [top],
      )
    ).map((r) => ({
      productId: r.product_id,
      name: r.name,
      unitsSold: r.units_sold,
      revenueCents: r.revenue_cents,
      currency: r.currency,
    }));
    return { ordersByStatus, revenue, topProducts };
  });
}

// Cursors are opaque to clients: base64url of the last row's sort key.
function encodeCursor(key: unknown): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

function decodeCursor<T>(cursor: string, valid: (value: unknown) => boolean): T {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    value = undefined;
  }
  if (!valid(value)) {
    throw new ChronicleError('VALIDATION_FAILED', 'cursor is not one this query returned', {
      details: { errors: [{ path: 'cursor', message: 'not a cursor this query returned' }] },
    });
  }
  return value as T;
}

function isTuple(value: unknown, ...types: string[]): boolean {
  return Array.isArray(value) && value.length === types.length && value.every((v, i) => typeof v === types[i]);
}

/** GetOrderStatus's answer from the orders read model (also served by the Nest example). @throws NOT_FOUND */
export async function readOrderStatus(orders: SqlReader, orderId: string): Promise<OrderView> {
  const row = await orders.get<{
    customer_id: string;
    customer_name: string;
    status: OrderStatus;
    currency: string;
    total_cents: number;
    lines: string;
    history: string;
    timeline: string;
    payment_due_at: string | null;
  }>(
    `SELECT customer_id, customer_name, status, currency, total_cents, lines, history, timeline, payment_due_at
     FROM ${orders.table('orders')} WHERE order_id = ?`,
    [orderId],
  );
  if (!row) throw notFound('order', orderId);
  return {
    orderId,
    customerId: row.customer_id,
    customerName: row.customer_name,
    status: row.status,
    lines: JSON.parse(row.lines),
    currency: row.currency,
    totalCents: row.total_cents,
    history: JSON.parse(row.history),
    timeline: JSON.parse(row.timeline),
    paymentDueAt: row.payment_due_at,
  };
}
