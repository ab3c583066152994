// GetOrderStatus answered from the Redis projection is the same as from the SQL one: the Shop's command handlers write
// one log, projected into a SQLite read store and into Redis, and every order (created, paid, shipped, cancelled,
// refused, unknown) gets the same answer or the same refusal for every kind of caller, byte for byte.
import {
  createCommandBus,
  createInMemoryEventStore,
  createProjector,
  createQueryBus,
  type Principal,
  type Projector,
  type QueryBus,
} from 'chronicle-es';
import { createRedisReadStore } from 'chronicle-es/redis';
import { createSqliteReadStore, type SqliteReadStore } from 'chronicle-es/sqlite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dropPrefix, freshPrefix } from '../../test/redis-prefix.js';
import { REDIS_URL, redisAvailable } from '../../test/support/redis.js';
import { registerCommands } from './commands.js';
import { ordersProjection } from './projections/orders.js';
import { registerQueries } from './queries.js';
import { registerRedisQueries } from './redis-queries.js';
import { openRedisReadSide, type RedisReadSide } from './redis-read-side.js';

const admin: Principal = { id: 'root', roles: ['admin'] };
const clerk: Principal = { id: 'kim', roles: ['clerk'] };
const reader: Principal = { id: 'rita', roles: ['reader'] };
const customer = (id: string): Principal => ({ id, roles: ['customer'] });
const CUSTOMERS = ['ada', 'grace', 'edsger'];
const ORDERS = 24;

const prefix = freshPrefix('shop');
const events = createInMemoryEventStore();
let head = 0;
const surprises: string[] = [];
let sqlite: SqliteReadStore;
let sqlProjector: Projector;
let redis: RedisReadSide;
let sqlBus: QueryBus;
let redisBus: QueryBus;

async function script(): Promise<void> {
  const commands = createCommandBus();
  registerCommands(commands, events);
  // Refusals (an order past the stock, paying a cancelled order) are part of the script, but only those.
  const send = async (name: string, payload: unknown, principal = admin, refused = false) => {
    try {
      head = (await commands.dispatch(name, payload, { principal })).position;
      if (refused) surprises.push(`${name} ${JSON.stringify(payload)} was accepted`);
    } catch (err) {
      if (!refused) surprises.push(`${name} ${JSON.stringify(payload)}: ${(err as Error).message}`);
    }
  };
  for (const id of CUSTOMERS)
    await send('RegisterCustomer', { customerId: id, name: `Customer ${id}`, email: `${id}@example.com` });
  for (const [id, price, currency] of [
    ['mug', 1450, 'EUR'],
    ['pot', 3900, 'EUR'],
    ['lamp', 12_000, 'USD'],
  ] as const) {
    await send('CreateProduct', {
      productId: id,
      sku: `SKU-${id.toUpperCase()}`,
      name: `The ${id}`,
      priceCents: price,
      currency,
    });
    await send('RestockProduct', { productId: id, quantity: 200 });
  }
  for (let i = 0; i < ORDERS; i++) {
    const owner = CUSTOMERS[i % CUSTOMERS.length];
    const lines =
      i % 5 === 4
        ? [{ productId: 'lamp', quantity: 1 }]
        : [
            { productId: 'mug', quantity: 1 + (i % 3) },
            { productId: 'pot', quantity: 1 },
          ];
    await send('CreateOrder', { orderId: `ord-${i}`, customerId: owner, lines }, customer(owner));
    if (i % 4 !== 3) await send('PayOrder', { orderId: `ord-${i}` }, customer(owner));
    if (i % 4 === 0) await send('ShipOrder', { orderId: `ord-${i}` }, clerk);
    if (i % 4 === 1) await send('CancelOrder', { orderId: `ord-${i}`, reason: 'changed my mind' }, customer(owner));
    if (i % 4 === 3 && i % 8 === 7) await send('CancelOrder', { orderId: `ord-${i}` });
    // Refused: a shipped order cannot be cancelled, a cancelled one not paid.
    if (i % 4 === 0) await send('CancelOrder', { orderId: `ord-${i}` }, admin, true);
    if (i % 4 === 1) await send('PayOrder', { orderId: `ord-${i}` }, admin, true);
  }
  await send(
    'CreateOrder',
    { orderId: 'too-many', customerId: 'ada', lines: [{ productId: 'mug', quantity: 1000 }] },
    admin,
    true,
  );
}

beforeAll(async () => {
  if (!redisAvailable) return;
  await script();
  sqlite = createSqliteReadStore({ path: ':memory:' });
  sqlProjector = createProjector({ eventStore: events, readStore: sqlite, projections: [ordersProjection] });
  await sqlProjector.start();
  sqlBus = createQueryBus({ waitForPosition: (p, w) => sqlProjector.waitForPosition(p, w) });
  registerQueries(sqlBus, sqlite);
  redis = await openRedisReadSide({ url: REDIS_URL, prefix, source: events });
  redisBus = createQueryBus({ waitForPosition: redis.waitForPosition });
  registerRedisQueries(redisBus, redis.readStore);
});
afterAll(async () => {
  if (!redisAvailable) return;
  await redis?.close();
  await sqlProjector?.stop();
  await sqlite?.close();
  await dropPrefix(prefix);
});

/** The answer, or the refusal's code and message, as JSON text: key order counts too. */
const answer = (bus: QueryBus, orderId: string, principal: Principal, minPosition?: number, waitMs?: number) =>
  bus.run('GetOrderStatus', { orderId }, { principal, minPosition, waitMs }).then(
    (result) => JSON.stringify(result),
    (err: { code?: string; message?: string }) => JSON.stringify({ refused: err.code, message: err.message }),
  );

describe.skipIf(!redisAvailable)('GetOrderStatus from Redis and from SQLite', () => {
  it('answers every order alike, for staff, its owner and another customer, once both have read the log', async () => {
    expect(surprises).toEqual([]);
    const ids = [...Array.from({ length: ORDERS }, (_, i) => `ord-${i}`), 'too-many', 'nope'];
    const callers = [admin, clerk, reader, ...CUSTOMERS.map(customer), customer('stranger')];
    const statuses = new Set<string>();
    let compared = 0;
    for (const id of ids) {
      for (const principal of callers) {
        const [fromSql, fromRedis] = [await answer(sqlBus, id, principal, head), await answer(redisBus, id, principal, head)];
        expect(fromRedis, `${id} for ${principal.id}`).toBe(fromSql);
        const parsed = JSON.parse(fromSql) as { status?: string; refused?: string; customerId?: string };
        if (parsed.status) statuses.add(parsed.status);
        // Another customer's order reads as a missing one.
        if (principal.roles.includes('customer') && parsed.customerId !== undefined) expect(parsed.customerId).toBe(principal.id);
        compared++;
      }
    }
    expect(compared).toBe(ids.length * callers.length);
    expect([...statuses].sort()).toEqual(['cancelled', 'created', 'paid', 'shipped']);
    const cancelledPaid = JSON.parse(await answer(redisBus, 'ord-1', admin));
    expect(cancelledPaid.history.map((h: { status: string }) => h.status)).toEqual(['created', 'paid', 'cancelled']);
    expect(JSON.parse(await answer(redisBus, 'ord-0', customer('grace')))).toMatchObject({ refused: 'NOT_FOUND' });
    expect(JSON.parse(await answer(redisBus, 'too-many', admin))).toMatchObject({ refused: 'NOT_FOUND' });
  });

  it('a serving-only side (no projector here) waits for minPosition on the checkpoint stored in Redis', async () => {
    await redis.waitForPosition(head, { timeoutMs: 10_000 });
    const serving = await openRedisReadSide({ url: REDIS_URL, prefix, pollIntervalMs: 20 });
    try {
      expect(serving.projector).toBeUndefined();
      expect(await serving.ready()).toBe(true);
      const bus = createQueryBus({ waitForPosition: serving.waitForPosition });
      registerRedisQueries(bus, serving.readStore);
      expect(await answer(bus, 'ord-2', admin, head)).toBe(await answer(sqlBus, 'ord-2', admin, head));
      const late = await answer(bus, 'ord-2', admin, head + 1000, 300).then(JSON.parse);
      expect(late).toMatchObject({ refused: 'TIMEOUT' });
      expect((await serving.changes.positions()).find((p) => p.projection === 'orders')?.position).toBe(head);
    } finally {
      await serving.close();
    }
  });

  it('before the projection has any tables, both answer NOT_FOUND', async () => {
    const empty = createRedisReadStore({ url: REDIS_URL, prefix: `${prefix}:empty` });
    const blank = createSqliteReadStore({ path: ':memory:' });
    try {
      const [redisBlank, sqlBlank] = [createQueryBus(), createQueryBus()];
      registerRedisQueries(redisBlank, empty);
      registerQueries(sqlBlank, blank);
      const codes = await Promise.all(
        [redisBlank, sqlBlank].map((bus) =>
          bus.run('GetOrderStatus', { orderId: 'ord-0' }, { principal: admin }).catch((err) => err.code),
        ),
      );
      expect(codes).toEqual(['NOT_FOUND', 'NOT_FOUND']);
    } finally {
      await empty.close();
      await blank.close();
    }
  });
});
