// The Shop scaled out on PostgreSQL, as six OS processes: two write nodes, two projector workers, two read nodes, the
// event store and the read store in different databases. Concurrent commands at both write nodes (the oversell race
// among them), one projector worker SIGKILLed mid-run; then every read model must equal a fresh single-process rebuild
// from the same log, no event applied twice, and the surviving worker must hold every projection.
import { createProjector, type EventStore, type RecordedEvent, validate } from 'chronicle-es';
import { createPostgresEventStore, createPostgresReadStore, type PostgresReadStore } from 'chronicle-es/postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ZodType } from 'zod';
import { freshSchemaName, pgAvailable } from '../../../test/support/postgres.js';
import { ProductCreated, ProductRestocked, StockReleased, StockReserved, StockShipped } from '../messages/catalog.js';
import { projections } from '../projections/index.js';
import { openShopEventStore } from '../shop-event-store.js';
import { type Cluster, createCluster, eventually, type Node, pool } from './pg-cluster.js';
import { restockRace } from './restock-race.js';

const CUSTOMERS = Array.from({ length: 12 }, (_, i) => `c${i}`);
const PRODUCTS = Array.from({ length: 8 }, (_, i) => `p${i}`);
const rebuildSchema = freshSchemaName('shop_rebuild');

let cluster: Cluster;
let writers: Node[];
let workers: Node[];
let readers: Node[];

beforeAll(async () => {
  if (!pgAvailable) return;
  cluster = await createCluster();
  // One write node first: it creates the event store's schema, so six processes do not all race to migrate it
  // (they may; the migrations lock), and the startup cost is paid on two cores in two waves rather than six.
  writers = [await cluster.start('write')];
  [writers[1], workers, readers] = await Promise.all([
    cluster.start('write'),
    Promise.all([
      cluster.start('project', { SHOP_WORKER_ID: 'worker-a' }),
      cluster.start('project', { SHOP_WORKER_ID: 'worker-b' }),
    ]),
    Promise.all([cluster.start('read'), cluster.start('read')]),
  ]);
}, 120_000);
afterAll(() => cluster?.close([rebuildSchema]), 30_000);

/** The projections a worker holds, as its readiness report says. */
async function holdings(worker: Node): Promise<string[]> {
  const { text } = await worker.get('/health/ready');
  const report = JSON.parse(text) as { projections?: Array<{ name: string; held?: boolean }> };
  return (report.projections ?? [])
    .filter((p) => p.held)
    .map((p) => p.name)
    .sort();
}

/** The read models, compared table by table with a fresh rebuild. */
const READ_MODELS = projections.map((p) => p.name).sort();
/** Every projection a worker runs: the read models and the workflows (the scheduler, each process manager). */
let ALL: string[] = [];

/** Every projection a worker runs, as its readiness report lists them. */
async function runs(worker: Node): Promise<string[]> {
  const { text } = await worker.get('/health/ready');
  return ((JSON.parse(text) as { projections?: Array<{ name: string }> }).projections ?? []).map((p) => p.name).sort();
}

describe.skipIf(!pgAvailable)('the Shop on PostgreSQL, six processes', () => {
  it('two write nodes, two projector workers (one killed mid-run), two read nodes: read models equal a fresh rebuild', async () => {
    const ok = async (node: Node, name: string, body: unknown) => {
      const res = await node.command(name, body);
      if (res.status !== 200) throw new Error(`${name} ${JSON.stringify(body)} → ${res.status} ${JSON.stringify(res.body)}`);
      return res.body.position as number;
    };
    await Promise.all(
      CUSTOMERS.map((id, i) =>
        ok(writers[i % 2], 'RegisterCustomer', { customerId: id, name: `Customer ${id}`, email: `${id}@example.com` }),
      ),
    );
    for (const [i, id] of [...PRODUCTS, 'last-units'].entries()) {
      const node = writers[i % 2];
      await ok(node, 'CreateProduct', {
        productId: id,
        sku: id.toUpperCase(),
        name: `Product ${id}`,
        priceCents: 100 * (i + 1),
        currency: 'EUR',
      });
      await ok(node, 'RestockProduct', { productId: id, quantity: id === 'last-units' ? 10 : 100_000 });
    }

    ALL = await runs(workers[0]);
    expect(ALL).toEqual(expect.arrayContaining([...READ_MODELS, 'fulfilment', 'restock_alerts']));
    expect(ALL.length).toBeGreaterThan(READ_MODELS.length + 2);
    // Both workers hold some projections before one is killed (the lease spread), and together all of them.
    const spread = await eventually('both workers hold projections', 15_000, async () => {
      const held = await Promise.all(workers.map(holdings));
      return held.every((h) => h.length > 0) && held.flat().sort().join() === ALL.join() ? held : undefined;
    });
    expect(spread.flat().sort()).toEqual(ALL);

    // The oversell race: 50 orders for the last 10 units, spread over both write nodes, all at once.
    const race = Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        writers[i % 2].command('CreateOrder', {
          orderId: `rush-${i}`,
          customerId: CUSTOMERS[i % CUSTOMERS.length],
          lines: [{ productId: 'last-units', quantity: 1 }],
        }),
      ),
    );

    // Meanwhile a stream of everything else, 16 in flight over both nodes; the first worker dies a third of the way in.
    const victim = workers[0];
    const survivor = workers[1];
    const results: Array<{ name: string; status: number; position?: number }> = [];
    let victimHeld: string[] = [];
    let takeover: Promise<number> | undefined;
    const send = async (i: number, name: string, body: unknown) => {
      const res = await writers[i % 2].command(name, body);
      results.push({ name, status: res.status, position: res.body.position });
      if (results.length !== 80) return;
      victimHeld = await holdings(victim);
      await victim.kill();
      const killedAt = Date.now();
      // Timed from the kill, while the traffic goes on: the dead worker's leases run out and the survivor takes them
      // (about 3 s on a quiet machine; the bound leaves room for a loaded one).
      takeover = eventually('the survivor holds every projection', 45_000, async () =>
        (await holdings(survivor)).join() === ALL.join() ? Date.now() - killedAt : undefined,
      );
    };
    const [rush] = await Promise.all([race, pool(16, traffic(send))]);
    expect(victimHeld.length).toBeGreaterThan(0);
    const takeoverMs = await takeover!;
    expect(takeoverMs).toBeLessThan(10_000);
    // Its metrics say the same, projection by projection (read again while a renewal on a loaded machine is late).
    const held = (text: string) => ALL.filter((name) => text.includes(`chronicle_projection_held{projection="${name}"} 1`));
    await eventually('the metrics of the survivor show every projection held', 10_000, async () =>
      held((await survivor.get('/metrics')).text).length === ALL.length ? true : undefined,
    );

    const rushStatuses = rush.map((r) => r.status);
    expect(rushStatuses.filter((s) => s === 200)).toHaveLength(10);
    expect(rushStatuses.filter((s) => s === 422)).toHaveLength(40);
    // Every command took effect: none lost to a conflict, a fault or a rule.
    expect(results).toHaveLength(220);
    expect(results.filter((r) => r.status !== 200)).toEqual([]);

    const acked = Math.max(...rush.map((r) => r.body.position ?? 0), ...results.map((r) => r.position ?? 0));
    // Through the Shop's key store, as its projectors read: the rebuild must see personal fields decrypted.
    const eventStore = openShopEventStore({
      postgres: { connectionString: cluster.eventsUrl, schema: cluster.schema, poolSize: 3 },
    });
    const live = createPostgresReadStore({ connectionString: cluster.readUrl, schema: cluster.schema, poolSize: 3 });
    // The workflows write after the traffic (allocations, notifications, an alert for the last units): the head to
    // compare at is where every projection, theirs included, has caught up and nothing more is written.
    const head = await eventually('the workflows settle', 30_000, async () => {
      const at = await eventStore.headPosition();
      const positions = await Promise.all(ALL.map(async (name) => (await live.load(name))?.position ?? 0));
      return positions.every((p) => p >= at) && (await eventStore.headPosition()) === at ? at : undefined;
    });
    expect(head).toBeGreaterThanOrEqual(acked);
    // Both read nodes answer every query as of the head: each projection has reached it.
    for (const reader of readers) {
      const inventory = await reader.query('GetInventory', { productId: 'last-units', minPosition: head });
      // Sold out: the restock-alerts process has raised the product's alert.
      expect(inventory).toEqual({
        status: 200,
        body: {
          productId: 'last-units',
          onHand: 10,
          reserved: 10,
          available: 0,
          lowStock: { threshold: 5, since: expect.any(String) },
        },
      });
      expect((await reader.query('GetSalesSummary', { minPosition: head })).status).toBe(200);
      expect((await reader.query('ListAllProducts', { minPosition: head, limit: 5 })).status).toBe(200);
      expect((await reader.query('GetCustomerById', { customerId: 'c0', minPosition: head })).status).toBe(200);
      expect((await reader.query('GetOrderStatus', { orderId: 'o0', minPosition: head })).status).toBe(200);
    }

    const fresh = createPostgresReadStore({ connectionString: cluster.readUrl, schema: rebuildSchema, poolSize: 3 });
    try {
      const events = await readAll(eventStore, await eventStore.headPosition());
      expect(events.at(-1)?.position).toBeGreaterThanOrEqual(head);
      const rebuilt = createProjector({ eventStore, readStore: fresh, projections });
      await rebuilt.start();
      await rebuilt.waitForPosition(events.at(-1)!.position, { timeoutMs: 30_000 });
      await rebuilt.stop();

      for (const name of READ_MODELS) {
        const [liveTables, freshTables] = await Promise.all([
          tablesOf(live, cluster.schema, name),
          tablesOf(fresh, rebuildSchema, name),
        ]);
        expect(Object.keys(liveTables).sort(), name).toEqual(Object.keys(freshTables).sort());
        for (const table of Object.keys(freshTables)) {
          expect(liveTables[table], `${name}.${table}`).toEqual(freshTables[table]);
          expect(freshTables[table].length, `${name}.${table} has rows`).toBeGreaterThan(0);
        }
      }

      // Applied once each, checked against the log itself: counters a replayed event would push off.
      const inventory = await live
        .reader('inventory')
        .all<{ product_id: string; on_hand: number; reserved: number }>(
          `SELECT product_id, on_hand, reserved FROM ${live.reader('inventory').table('stock')}`,
        );
      expect(Object.fromEntries(inventory.map((r) => [r.product_id, [r.on_hand, r.reserved]]))).toEqual(stockFromLog(events));
      const counts = await live
        .reader('sales')
        .all<{ orders: number }>(`SELECT orders FROM ${live.reader('sales').table('status_counts')}`);
      expect(counts.reduce((sum, r) => sum + r.orders, 0)).toBe(events.filter((e) => e.type === 'OrderCreated').length);
      for (const name of ALL) expect((await live.load(name))?.position, name).toBeGreaterThanOrEqual(head);
    } finally {
      await Promise.all([eventStore.close(), live.close(), fresh.close()]);
    }
    console.log(JSON.stringify({ test: 'scale-out', commands: results.length + rush.length, head, victimHeld, takeoverMs }));
  }, 90_000);
});

describe.skipIf(!pgAvailable)('16 writers on one stream through both write nodes', () => {
  it('loses no update: the retries absorb every conflict, and the read nodes show the sum', async () => {
    const eventStore = createPostgresEventStore({ connectionString: cluster.eventsUrl, schema: cluster.schema, poolSize: 3 });
    try {
      const race = await restockRace(writers, eventStore, 'sixteen');
      expect(race.conflicts).toEqual([]);
      expect(race.acked).toHaveLength(160);
      expect(race.stream.sort((x, y) => x - y)).toEqual(race.acked.sort((x, y) => x - y));
      const head = await eventStore.headPosition();
      const total = race.acked.reduce((sum, q) => sum + q, 0);
      for (const reader of readers) {
        const inventory = await reader.query('GetInventory', { productId: 'sixteen', minPosition: head });
        // (The first restocks were small: a low-stock alert may open and close meanwhile, in the workflows' own time.)
        expect(inventory.body).toMatchObject({ productId: 'sixteen', onHand: total, reserved: 0, available: total });
      }
    } finally {
      await eventStore.close();
    }
  }, 60_000);
});

/**
 * The traffic: 60 orders, each created, paid on the other node and then shipped or (paid) cancelled, one after the
 * other; between them restocks and price changes of the products the orders draw on. Each task is one sequence.
 */
function traffic(send: (i: number, name: string, body: unknown) => Promise<void>): Array<() => Promise<void>> {
  const tasks: Array<() => Promise<void>> = [];
  for (let i = 0; i < 60; i++) {
    const orderId = `o${i}`;
    tasks.push(async () => {
      await send(i, 'CreateOrder', {
        orderId,
        customerId: CUSTOMERS[i % CUSTOMERS.length],
        lines: [
          { productId: PRODUCTS[i % PRODUCTS.length], quantity: 1 + (i % 3) },
          { productId: PRODUCTS[(i + 3) % PRODUCTS.length], quantity: 1 },
        ],
      });
      await send(i + 1, 'PayOrder', { orderId });
      if (i % 2) await send(i, 'CancelOrder', { orderId, reason: 'changed my mind' });
      else await send(i, 'ShipOrder', { orderId });
    });
    if (i % 3 === 0) tasks.push(() => send(i, 'RestockProduct', { productId: PRODUCTS[i % PRODUCTS.length], quantity: 5 }));
    if (i % 3 === 1)
      tasks.push(() => send(i, 'ChangeProductPrice', { productId: PRODUCTS[i % PRODUCTS.length], priceCents: 100 + i }));
  }
  return tasks;
}

/** The log up to `head`. A store that has not yet seen every transaction before it end may answer short: read on. */
async function readAll(store: EventStore, head: number): Promise<RecordedEvent[]> {
  const events: RecordedEvent[] = [];
  for (let from = 1; from <= head; ) {
    const page = await store.readAll({ from, limit: 1000 });
    if (page.length === 0) await new Promise((resolve) => setTimeout(resolve, 50));
    else {
      events.push(...page);
      from = page[page.length - 1].position + 1;
    }
  }
  return events;
}

/** On hand and reserved per product, summed straight from the events (each read through its definition). */
function stockFromLog(events: readonly RecordedEvent[]): Record<string, [number, number]> {
  const stock: Record<string, [number, number]> = {};
  type Movement = { type: string; schema: ZodType<{ productId: string; quantity: number }> };
  const move = (definition: Movement, data: unknown, onHand: number, reserved: number) => {
    const { productId, quantity } = validate(definition, data);
    stock[productId][0] += onHand * quantity;
    stock[productId][1] += reserved * quantity;
  };
  for (const { type, data } of events) {
    if (type === 'ProductCreated') stock[validate(ProductCreated, data).productId] = [0, 0];
    else if (type === 'ProductRestocked') move(ProductRestocked, data, 1, 0);
    else if (type === 'StockReserved') move(StockReserved, data, 0, 1);
    else if (type === 'StockReleased') move(StockReleased, data, 0, -1);
    else if (type === 'StockShipped') move(StockShipped, data, -1, -1);
  }
  return stock;
}

/** Every table of a projection's served generation, logical name → its rows in a canonical order. */
async function tablesOf(store: PostgresReadStore, schema: string, projection: string): Promise<Record<string, unknown[]>> {
  const record = await store.load(projection);
  if (!record || record.generation === 0) return {};
  const reader = store.reader(projection);
  const suffix = `__g${record.generation}`;
  const names = await reader.all<{ table_name: string }>(
    'SELECT table_name FROM information_schema.tables WHERE table_schema = ?',
    [schema],
  );
  const tables: Record<string, unknown[]> = {};
  for (const { table_name } of names) {
    if (!table_name.startsWith(`${projection}__`) || !table_name.endsWith(suffix)) continue;
    const logical = table_name.slice(projection.length + 2, -suffix.length);
    const rows = await reader.all(`SELECT * FROM ${reader.table(logical)}`);
    tables[logical] = rows.map((row) => JSON.stringify(row)).sort();
  }
  return tables;
}
