// Existing data: a log the Shop wrote before its rules moved onto tags (fixtures/legacy-log.ndjson, written by
// fixtures/write-legacy-log.ts: sku and e-mail claim streams, stock in product streams) is imported into a fresh store
// (in memory, a SQLite file, PostgreSQL) and the current Shop runs on it. Its legacy claims still count — the reading
// rule: the uniqueness models read the old claim streams by their stream ids — its reservations still hold stock, and
// its read models come out as the old Shop's did.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type CommandBus,
  createCommandBus,
  createInMemoryEventStore,
  type EventStore,
  importLog,
  type Principal,
  type QueryBus,
} from 'chronicle-es';
import { createPostgresEventStore } from 'chronicle-es/postgres';
import { createSqliteEventStore } from 'chronicle-es/sqlite';
import { afterAll, describe, expect, it } from 'vitest';
import { freshSchema, pgAvailable } from '../../../test/support/postgres.js';
import { createShop, type PostgresLocation, type ShopOf } from '../app.js';
import { registerCommands } from '../commands.js';
import { stockOf } from './stock-of.js';

const admin: Principal = { id: 'legacy', roles: ['admin'] };
const fixture = readFileSync(new URL('./fixtures/legacy-log.ndjson', import.meta.url), 'utf8').split('\n');
const LEGACY_TYPES = ['SkuClaimed', 'EmailClaimed', 'EmailReleased'];

const cleanup: Array<() => Promise<void> | void> = [];
afterAll(async () => {
  for (const step of cleanup.reverse()) await step();
});

const outcome = (bus: CommandBus, name: string, payload: unknown) =>
  bus.dispatch(name, payload, { principal: admin }).then(
    () => 'ok',
    (err: { code?: string; message?: string }) => `${err.code}: ${err.message}`,
  );

/** The commands run on the imported log, and what each must answer. */
async function decideOnLegacyData(bus: CommandBus): Promise<void> {
  const expectations: Array<[string, unknown, string]> = [
    // Skus the old version claimed, a deleted product's included, stay taken; a new one is free.
    ['CreateProduct', product_('mug2', 'MUG-350'), 'DOMAIN_RULE: sku MUG-350 is already used by another product'],
    ['CreateProduct', product_('tray2', 'TRAY-01'), 'DOMAIN_RULE: sku TRAY-01 is already used by another product'],
    ['CreateProduct', product_('mug', 'MUG-999'), 'DOMAIN_RULE: product "mug" already exists'],
    ['CreateProduct', product_('cup', 'CUP-200'), 'ok'],
    // Addresses the old version claimed stay taken, in any letter case; the one it released is free.
    [
      'RegisterCustomer',
      customer_('carol', 'ada@EXAMPLE.com'),
      'DOMAIN_RULE: email ada@EXAMPLE.com is already used by another customer',
    ],
    [
      'RegisterCustomer',
      customer_('dave', 'bob@babbage.org'),
      'DOMAIN_RULE: email bob@babbage.org is already used by another customer',
    ],
    [
      'UpdateCustomerDetails',
      { customerId: 'ada', email: 'bob@babbage.org' },
      'DOMAIN_RULE: email bob@babbage.org is already used by another customer',
    ],
    ['RegisterCustomer', customer_('erin', 'Bob@Example.com'), 'ok'],
    ['RegisterCustomer', customer_('ada', 'ada@lovelace.org'), 'DOMAIN_RULE: customer "ada" is already registered'],
    // The old reservations hold stock: 10 mugs with 4 reserved by o1 (o2's 2 were released), 2 kettles with 1 reserved.
    ['CreateOrder', order_('o4', ['mug', 7]), 'DOMAIN_RULE: not enough stock of MUG-350: 6 available, 7 requested'],
    ['CreateOrder', order_('o4', ['kettle', 2]), 'DOMAIN_RULE: not enough stock of KET-090: 1 available, 2 requested'],
    ['CreateOrder', order_('o1', ['mug', 1]), 'DOMAIN_RULE: order "o1" already exists'],
    ['CreateOrder', order_('o4', ['mug', 6], ['kettle', 1]), 'ok'],
    ['CreateOrder', order_('o5', ['mug', 1]), 'DOMAIN_RULE: not enough stock of MUG-350: 0 available, 1 requested'],
    // An old order cancelled now gives its units back; a shipped one cannot be.
    ['CancelOrder', { orderId: 'o1', reason: 'moved' }, 'ok'],
    ['CancelOrder', { orderId: 'o3' }, 'DOMAIN_RULE: order has shipped; it can no longer be cancelled'],
    ['CreateOrder', order_('o5', ['mug', 4]), 'ok'],
    // A legacy claim released by a new-style update: bob moves on and his old address is free.
    ['UpdateCustomerDetails', { customerId: 'bob', email: 'bob@new.org' }, 'ok'],
    ['RegisterCustomer', customer_('frank', 'bob@babbage.org'), 'ok'],
    ['RegisterCustomer', customer_('gina', 'BOB@new.org'), 'DOMAIN_RULE: email BOB@new.org is already used by another customer'],
    // A change of letter case keeps a legacy claim.
    ['UpdateCustomerDetails', { customerId: 'ada', email: 'ADA@example.com' }, 'ok'],
    [
      'RegisterCustomer',
      customer_('gina', 'ada@example.com'),
      'DOMAIN_RULE: email ada@example.com is already used by another customer',
    ],
  ];
  const answers = [];
  for (const [name, payload] of expectations) answers.push([name, payload, await outcome(bus, name, payload)]);
  expect(answers).toEqual(expectations);
}

function product_(productId: string, sku: string) {
  return { productId, sku, name: `Product ${productId}`, priceCents: 500, currency: 'EUR' };
}
function customer_(customerId: string, email: string) {
  return { customerId, name: `Customer ${customerId}`, email };
}
function order_(orderId: string, ...lines: Array<[string, number]>) {
  return { orderId, customerId: 'ada', lines: lines.map(([productId, quantity]) => ({ productId, quantity })) };
}

/** Stock as the product streams fold it, after the commands above. */
async function stockAfter(store: EventStore): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const id of ['mug', 'kettle', 'cup']) out[id] = await stockOf(store, id);
  return out;
}
const STOCK_AFTER = {
  mug: { onHand: 10, reserved: 10 },
  kettle: { onHand: 2, reserved: 1 },
  cup: { onHand: 0, reserved: 0 },
};

async function expectNoClaimWrittenAfter(store: EventStore, importedHead: number): Promise<void> {
  const written = await store.readAll({ from: importedHead + 1 });
  expect(written.length).toBeGreaterThan(10);
  expect(
    written.filter((e) => LEGACY_TYPES.includes(e.type) || e.streamId.includes('Sku-') || e.streamId.includes('Email-')),
  ).toEqual([]);
}

/** The read models the old Shop's log builds, as the queries answer them. */
async function readModels(queries: QueryBus): Promise<Record<string, unknown>> {
  const run = (name: string, payload: Record<string, unknown>) =>
    queries.run(name, payload, { principal: admin }).catch((err: { code?: string }) => ({ refused: err.code }));
  const out: Record<string, unknown> = {};
  // Stock as the old read model had it; the low-stock alert is the workflows' business, which may not have run yet.
  for (const id of ['mug', 'kettle', 'tray']) {
    const { lowStock: _, ...stock } = (await run('GetInventory', { productId: id })) as Record<string, unknown>;
    out[`inventory ${id}`] = stock;
  }
  for (const id of ['ada', 'bob']) {
    const { customerId, email, orderCount, totalSpentCents } = (await run('GetCustomerById', { customerId: id })) as Record<
      string,
      unknown
    >;
    out[`customer ${id}`] = { customerId, email, orderCount, totalSpentCents };
  }
  for (const id of ['o1', 'o2', 'o3']) {
    const { status, totalCents } = (await run('GetOrderStatus', { orderId: id })) as Record<string, unknown>;
    out[`order ${id}`] = { status, totalCents };
  }
  const catalog = (await run('ListAllProducts', { limit: 10, includeDeleted: true })) as {
    items: Array<{ productId: string; deleted: boolean; available: number }>;
  };
  out.catalog = catalog.items.map(({ productId, deleted, available }) => ({ productId, deleted, available }));
  return out;
}
const LEGACY_READ_MODELS = {
  'inventory mug': { productId: 'mug', onHand: 10, reserved: 4, available: 6 },
  'inventory kettle': { productId: 'kettle', onHand: 2, reserved: 1, available: 1 },
  'inventory tray': { productId: 'tray', onHand: 0, reserved: 0, available: 0 },
  'customer ada': { customerId: 'ada', email: 'Ada@Example.com', orderCount: 1, totalSpentCents: '0' },
  'customer bob': { customerId: 'bob', email: 'bob@babbage.org', orderCount: 2, totalSpentCents: '4990' },
  'order o1': { status: 'created', totalCents: 4 * 1450 + 4990 },
  'order o2': { status: 'cancelled', totalCents: 2 * 1450 },
  'order o3': { status: 'shipped', totalCents: 4990 },
  catalog: [
    { productId: 'kettle', deleted: false, available: 1 },
    { productId: 'tray', deleted: true, available: 0 },
    { productId: 'mug', deleted: false, available: 6 },
  ],
};

describe('a log written before tags, in memory', () => {
  it('keeps its claims and reservations under the current rules, and the Shop writes no claim of its own', async () => {
    const store = createInMemoryEventStore();
    const imported = await importLog(store, fixture);
    expect(imported.events).toBe(28);
    const bus = createCommandBus();
    registerCommands(bus, store);
    await decideOnLegacyData(bus);
    expect(await stockAfter(store)).toEqual(STOCK_AFTER);
    await expectNoClaimWrittenAfter(store, imported.headPosition);
  });
});

// The whole Shop over an imported store: its projections build the read models from the old log, then the commands run.
async function runShopOn(shop: ShopOf<'all'>, importedHead: number): Promise<void> {
  await shop.projector.waitForPosition(importedHead, { timeoutMs: 20_000 });
  expect(await readModels(shop.queryBus)).toEqual(LEGACY_READ_MODELS);
  await decideOnLegacyData(shop.commandBus);
  expect(await stockAfter(shop.eventStore)).toEqual(STOCK_AFTER);
  await expectNoClaimWrittenAfter(shop.eventStore, importedHead);
  await shop.projector.waitForPosition(await shop.eventStore.headPosition(), { timeoutMs: 20_000 });
  const after = await readModels(shop.queryBus);
  expect(after['inventory mug']).toEqual({ productId: 'mug', onHand: 10, reserved: 10, available: 0 });
  expect(after['order o1']).toMatchObject({ status: 'cancelled' });
  expect(after['customer bob']).toMatchObject({ email: 'bob@new.org' });
}

describe('a log written before tags, in a SQLite file', () => {
  it('builds the old read models, and keeps its claims and reservations under the current rules', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'shop-legacy-'));
    cleanup.push(() => rmSync(dataDir, { recursive: true, force: true }));
    const target = createSqliteEventStore({ path: join(dataDir, 'events.db') });
    const imported = await importLog(target, fixture);
    await target.close();
    const shop = await createShop({ dataDir, pollIntervalMs: 20 });
    cleanup.push(() => shop.close());
    await runShopOn(shop, imported.headPosition);
  });
});

describe.skipIf(!pgAvailable)('a log written before tags, on PostgreSQL', () => {
  it('builds the old read models, and keeps its claims and reservations under the current rules', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'shop-legacy-pg-'));
    const schema = freshSchema('shop_legacy');
    cleanup.push(
      () => rmSync(dataDir, { recursive: true, force: true }),
      () => schema.drop(),
    );
    const location: PostgresLocation = { connectionString: schema.connectionString, schema: schema.schema, poolSize: 3 };
    const target = createPostgresEventStore(location);
    const imported = await importLog(target, fixture);
    await target.close();
    const shop = await createShop({ dataDir, eventStore: location, readStore: location, pollIntervalMs: 20 });
    cleanup.push(() => shop.close());
    await runShopOn(shop, imported.headPosition);
  });
});
