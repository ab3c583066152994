// The consistency boundary of an order is its products: concurrent orders for different products never conflict, even
// from one customer; orders for the same product conflict, retry on the stock the winner left, and never oversell.
// The cases, for any store: stock-conflicts.test.ts runs them in memory, stock-conflicts.int.test.ts on SQLite and
// PostgreSQL.
import { type CommandBus, createCommandBus, type EventStore, type Principal } from 'chronicle-es';
import { afterAll, describe, expect, it } from 'vitest';
import { registerCommands } from '../commands.js';
import { type ConflictCount, countConflicts } from './conflict-counter.js';
import { stockOf } from './stock-of.js';

const admin: Principal = { id: 'root', roles: ['admin'] };

/** A fresh, empty store, and how to close it. */
export type StoreFactory = () => Promise<{ store: EventStore; close(): Promise<void> }>;

/**
 * The cases against stores from `create`. `sameHead`: whether the store lets every one of 20 concurrent commands read
 * before any commits (one process, appends that wait for the next turn of the event loop); on a pool of connections
 * some read later, so only a share of them is required to have raced.
 */
export function describeStockConflicts(name: string, create: StoreFactory, { sameHead = true } = {}): void {
  const opened: Array<() => Promise<void>> = [];
  afterAll(async () => {
    for (const close of opened) await close();
  });

  async function shopWith(products: ReadonlyArray<{ productId: string; stock: number }>, options = {}) {
    const { store: memory, close } = await create();
    opened.push(close);
    const { store, count } = countConflicts(memory, options);
    const bus: CommandBus = createCommandBus();
    registerCommands(bus, store);
    const send = (name: string, payload: unknown) => bus.dispatch(name, payload, { principal: admin });
    await send('RegisterCustomer', { customerId: 'ada', name: 'Ada Lovelace', email: 'ada@example.com' });
    for (const { productId, stock } of products) {
      await send('CreateProduct', { productId, sku: productId.toUpperCase(), name: productId, priceCents: 100, currency: 'EUR' });
      await send('RestockProduct', { productId, quantity: stock });
    }
    const setup = { ...count, decidedAt: [...count.decidedAt] };
    const since = (): ConflictCount => ({
      conditional: count.conditional - setup.conditional,
      conflicts: count.conflicts - setup.conflicts,
      decidedAt: count.decidedAt.slice(setup.decidedAt.length),
    });
    const stock = (productId: string) => stockOf(memory, productId);
    const outcome = (name: string, payload: unknown) =>
      send(name, payload).then(
        () => 'ok',
        (err: { code?: string }) => err.code,
      );
    return { head: () => memory.headPosition(), since, stock, outcome };
  }

  const order = (orderId: string, ...productIds: string[]) => ({
    orderId,
    customerId: 'ada',
    lines: productIds.map((productId) => ({ productId, quantity: 1 })),
  });

  describe(`stock per product (${name})`, () => {
    it('concurrent orders for disjoint products, all from one customer: every one commits, zero conflicts', async () => {
      // 20 orders of three products each, no product in two orders.
      const ids = Array.from({ length: 60 }, (_, i) => `p${i}`);
      const shop = await shopWith(ids.map((productId) => ({ productId, stock: 1 })));
      const head = await shop.head();
      const outcomes = await Promise.all(
        Array.from({ length: 20 }, (_, i) => shop.outcome('CreateOrder', order(`o${i}`, ...ids.slice(3 * i, 3 * i + 3)))),
      );
      expect(outcomes).toEqual(Array(20).fill('ok'));
      const count = shop.since();
      expect(count).toMatchObject({ conditional: 20, conflicts: 0 });
      // The premise: they really raced, deciding on the log as it was before any of them committed.
      const raced = count.decidedAt.filter((at) => at === head).length;
      expect(raced).toBeGreaterThanOrEqual(sameHead ? 20 : 2);
      for (const id of ids) expect(await shop.stock(id)).toEqual({ onHand: 1, reserved: 1 });
    });

    it('concurrent orders for one product: they conflict and retry, and exactly the stock is sold', async () => {
      const shop = await shopWith([{ productId: 'mug', stock: 10 }]);
      const outcomes = await Promise.all(
        Array.from({ length: 30 }, (_, i) => shop.outcome('CreateOrder', order(`o${i}`, 'mug'))),
      );
      expect(outcomes.filter((o) => o === 'ok')).toHaveLength(10);
      expect(outcomes.filter((o) => o === 'DOMAIN_RULE')).toHaveLength(20);
      const count = shop.since();
      expect(count.conflicts).toBeGreaterThan(0);
      // Every conflict was retried: the ten that committed plus each refused attempt.
      expect(count.conditional).toBe(10 + count.conflicts);
      expect(await shop.stock('mug')).toEqual({ onHand: 10, reserved: 10 });
    });

    it('orders sharing one product of three conflict on that product only, and still sell exactly its stock', async () => {
      const shop = await shopWith([
        { productId: 'shared', stock: 5 },
        ...Array.from({ length: 24 }, (_, i) => ({ productId: `own${i}`, stock: 1 })),
      ]);
      const outcomes = await Promise.all(
        Array.from({ length: 12 }, (_, i) =>
          shop.outcome('CreateOrder', order(`o${i}`, `own${2 * i}`, 'shared', `own${2 * i + 1}`)),
        ),
      );
      expect(outcomes.filter((o) => o === 'ok')).toHaveLength(5);
      expect(shop.since().conflicts).toBeGreaterThan(0);
      expect(await shop.stock('shared')).toEqual({ onHand: 5, reserved: 5 });
      const ownReserved = await Promise.all(Array.from({ length: 24 }, async (_, i) => (await shop.stock(`own${i}`))?.reserved));
      expect(ownReserved.reduce((sum = 0, r = 0) => sum + r, 0)).toBe(10);
    });

    it('without the append condition the same race oversells (so the tests above can fail)', async () => {
      const shop = await shopWith([{ productId: 'mug', stock: 10 }], { withoutConditions: true });
      const outcomes = await Promise.all(
        Array.from({ length: 30 }, (_, i) => shop.outcome('CreateOrder', order(`o${i}`, 'mug'))),
      );
      expect(outcomes.filter((o) => o === 'ok').length).toBeGreaterThan(10);
      expect((await shop.stock('mug'))?.reserved).toBeGreaterThan(10);
    });
  });
}
