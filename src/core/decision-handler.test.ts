import { describe, expect, it } from 'vitest';
import type { Command } from './command-handler.js';
import { createDecisionHandler } from './decision-handler.js';
import { domainError, isChronicleError } from './errors.js';
import { Query } from './event-query.js';
import type { EventStore, ReadOptions, TaggedEvent } from './event-store.js';
import {
  dataOf,
  orderModel,
  orderTag,
  type ProductState,
  productAdded,
  productModel,
  productTag,
  reserve,
} from './fixtures/stock.js';
import { createInMemoryEventStore } from './in-memory-event-store.js';

type Reserve = { type: 'Reserve'; data: { orderId: string; productId: string; qty?: number } };
type PlaceOrder = { type: 'PlaceOrder'; data: { orderId: string; productIds: string[] } };
type CancelOrder = { type: 'CancelOrder'; data: { orderId: string } };

const reserveCmd = (orderId: string, productId: string, qty = 1): Reserve => ({
  type: 'Reserve',
  data: { orderId, productId, qty },
});

// A store whose reads and append outcomes are counted, to prove what the handler asks of it.
function counting(store: EventStore = createInMemoryEventStore()) {
  const reads: { query: unknown; from: number | undefined }[] = [];
  let conflicts = 0;
  const wrapped: EventStore = {
    ...store,
    read: (query, options?: ReadOptions) => {
      reads.push({ query, from: options?.from });
      return store.read(query, options);
    },
    append: (async (...args: Parameters<EventStore['append']>) => {
      try {
        return await (store.append as (...a: unknown[]) => Promise<unknown>)(...args);
      } catch (err) {
        if (isChronicleError(err, 'CONCURRENCY_CONFLICT')) conflicts++;
        throw err;
      }
    }) as EventStore['append'],
  };
  return { store: wrapped, inner: store, reads, conflicts: () => conflicts };
}

// The single-model form: one product's stock.
function reserveHandler(store: EventStore, extra: { maxRetries?: number; cacheSize?: number } = {}) {
  return createDecisionHandler({
    store,
    query: (c: Reserve) => Query.tags(productTag(c.data.productId)),
    model: productModel('unused') as { initialState: ProductState; evolve(s: ProductState, e: never): ProductState },
    decide: (c, state) => [reserve(state, c.data.productId, c.data.orderId, c.data.qty)],
    ...extra,
  });
}

describe('createDecisionHandler, single model', () => {
  it('folds the events its query selects, decides, and appends tagged events, returning only a status', async () => {
    const store = createInMemoryEventStore();
    await store.append([productAdded('p1', 2), productAdded('p2', 5)]);
    const handle = reserveHandler(store);
    expect(await handle(reserveCmd('o1', 'p1'), {})).toEqual({ streamId: 'order-o1', version: 1, position: 3 });
    const recorded = (await store.read(Query.tags(orderTag('o1')))).events;
    expect(recorded.map((e) => [e.type, e.streamId, e.tags])).toEqual([
      ['StockReserved', 'order-o1', ['product:p1', 'order:o1']],
    ]);
    await handle(reserveCmd('o2', 'p1'), {});
    // p2's stock never counted toward p1's: the third reservation of p1 is refused.
    const refused = await handle(reserveCmd('o3', 'p1'), {}).catch((e) => e);
    expect(isChronicleError(refused, 'DOMAIN_RULE')).toBe(true);
    expect(refused.message).toContain('has 0 left');
    expect(await store.headPosition()).toBe(4);
  });

  it('records correlation, causation, actor and command in event metadata, keeping an event’s own keys', async () => {
    const store = createInMemoryEventStore();
    const handle = createDecisionHandler({
      store,
      query: () => Query.tags('thing'),
      model: { initialState: 0, evolve: (n: number) => n + 1 },
      decide: () => [{ streamId: 'thing-1', type: 'Done', data: {}, tags: ['thing'], metadata: { correlationId: 'own' } }],
    });
    await handle({ type: 'Do', data: {} }, { causationId: 'cause', principal: { id: 'ann', roles: [] } });
    const [event] = (await store.read(Query.tags('thing'))).events;
    expect(event.metadata).toMatchObject({ correlationId: 'own', causationId: 'cause', actor: 'ann', command: 'Do' });
  });
});

describe('createDecisionHandler, models by role', () => {
  const placeOrder = (store: EventStore) =>
    createDecisionHandler({
      store,
      models: (c: PlaceOrder) => ({
        order: orderModel(c.data.orderId),
        products: new Map(c.data.productIds.map((id) => [id, productModel(id)])),
      }),
      decide: (c, { order, products }) => {
        if (order.placed) throw domainError(`order ${c.data.orderId} is already placed`);
        const reservations = [...products].map(([id, product]) => reserve(product, id, c.data.orderId));
        return [
          {
            streamId: `order-${c.data.orderId}`,
            type: 'OrderPlaced',
            data: { orderId: c.data.orderId, productIds: c.data.productIds },
            tags: [orderTag(c.data.orderId)],
          },
          ...reservations,
        ];
      },
    });

  it('folds each model over the events matching its own query, and a map role into a map of states', async () => {
    const store = createInMemoryEventStore();
    await store.append([productAdded('a', 1), productAdded('b', 3), productAdded('c', 7)]);
    const seen: unknown[] = [];
    const handle = createDecisionHandler({
      store,
      models: (c: PlaceOrder) => ({
        order: orderModel(c.data.orderId),
        products: new Map(c.data.productIds.map((id) => [id, productModel(id)])),
      }),
      decide: (_c, states) => {
        seen.push({ order: states.order, products: Object.fromEntries(states.products) });
        return [];
      },
      reportStream: (c) => `order-${c.data.orderId}`,
    });
    await handle({ type: 'PlaceOrder', data: { orderId: 'o', productIds: ['a', 'c', 'zz'] } }, {});
    expect(seen).toEqual([
      {
        order: { placed: false, cancelled: false, productIds: [] },
        products: {
          a: { exists: true, available: 1 },
          c: { exists: true, available: 7 },
          zz: { exists: false, available: 0 },
        },
      },
    ]);
  });

  it('writes to several streams atomically, reports the first event’s stream and the last position written', async () => {
    const store = createInMemoryEventStore();
    await store.append([productAdded('a', 1), productAdded('b', 1)]);
    const handle = placeOrder(store);
    const result = await handle({ type: 'PlaceOrder', data: { orderId: 'o1', productIds: ['a', 'b'] } }, {});
    expect(result).toEqual({ streamId: 'order-o1', version: 3, position: 5 });
    // b is sold out now: the whole second order is refused, including its reservation of nothing else.
    await store.append([productAdded('c', 1)]);
    const refused = await handle({ type: 'PlaceOrder', data: { orderId: 'o2', productIds: ['c', 'b'] } }, {}).catch((e) => e);
    expect(isChronicleError(refused, 'DOMAIN_RULE')).toBe(true);
    expect((await store.read(Query.tags(orderTag('o2')))).events).toEqual([]);
  });

  it('load folds a model while choosing the others, and a change to it before the append redoes the choice', async () => {
    const { store, inner, conflicts, reads } = counting();
    await inner.append([productAdded('a', 1), productAdded('b', 1)]);
    await placeOrder(inner)({ type: 'PlaceOrder', data: { orderId: 'o1', productIds: ['a'] } }, {});
    let chosen: string[][] = [];
    let interfere = true;
    const cancel = createDecisionHandler({
      store,
      models: async (c: CancelOrder, load) => {
        const order = await load(orderModel(c.data.orderId));
        chosen.push(order.productIds);
        return { order: orderModel(c.data.orderId), products: new Map(order.productIds.map((id) => [id, productModel(id)])) };
      },
      decide: (c, { order, products }) => {
        if (interfere) {
          interfere = false;
          // Another writer changes the order between the choice and the append (here: its product list). It does
          // not touch product a, so only the loaded model makes this a conflict.
          void inner.append([
            {
              streamId: 'order-o1',
              type: 'OrderPlaced',
              data: { orderId: 'o1', productIds: ['b'] },
              tags: [orderTag('o1')],
            },
          ]);
        }
        if (!order.placed || order.cancelled) throw domainError('nothing to cancel');
        return [
          {
            streamId: `order-${c.data.orderId}`,
            type: 'OrderCancelled',
            data: { orderId: c.data.orderId, released: [...products.keys()] },
            tags: [orderTag(c.data.orderId), ...[...products.keys()].map(productTag)],
          },
        ];
      },
    });
    chosen = [];
    await cancel({ type: 'CancelOrder', data: { orderId: 'o1' } }, {});
    expect(chosen).toEqual([['a'], ['b']]);
    expect(conflicts()).toBe(1);
    // Per attempt: the load, then the products; the order, loaded already, is not read again.
    expect(reads).toHaveLength(4);
    const [cancelled] = (await inner.read([{ types: ['OrderCancelled'] }])).events;
    expect(cancelled.data).toEqual({ orderId: 'o1', released: ['b'] });
  });

  it('a change to a loaded model between its load and the other reads conflicts too (the condition starts at the lowest head)', async () => {
    const { store, inner, conflicts } = counting();
    await inner.append([productAdded('a', 1), productAdded('b', 1)]);
    await placeOrder(inner)({ type: 'PlaceOrder', data: { orderId: 'o1', productIds: ['a'] } }, {});
    const chosen: string[][] = [];
    let interfere = true;
    const cancel = createDecisionHandler({
      store,
      models: async (c: CancelOrder, load) => {
        const order = await load(orderModel(c.data.orderId));
        chosen.push(order.productIds);
        if (interfere) {
          interfere = false;
          // Lands after the load's read and before the products' read: only the load's head is below it.
          await inner.append([
            { streamId: 'order-o1', type: 'OrderPlaced', data: { orderId: 'o1', productIds: ['b'] }, tags: [orderTag('o1')] },
          ]);
        }
        return { products: new Map(order.productIds.map((id) => [id, productModel(id)])) };
      },
      decide: (c, { products }) => [
        {
          streamId: `order-${c.data.orderId}`,
          type: 'OrderCancelled',
          data: { orderId: c.data.orderId, released: [...products.keys()] },
          tags: [orderTag(c.data.orderId)],
        },
      ],
    });
    await cancel({ type: 'CancelOrder', data: { orderId: 'o1' } }, {});
    expect(chosen).toEqual([['a'], ['b']]);
    expect(conflicts()).toBe(1);
    const [cancelled] = (await inner.read([{ types: ['OrderCancelled'] }])).events;
    expect(cancelled.data).toEqual({ orderId: 'o1', released: ['b'] });
  });

  it('refuses a role that is not a model, a malformed query, and a command that reads nothing', async () => {
    const store = createInMemoryEventStore();
    const run = (models: () => unknown) =>
      createDecisionHandler({ store, models: models as never, decide: () => [], reportStream: () => 's' })(
        { type: 'X', data: {} },
        {},
      ).catch((e) => e);
    const notModel = await run(() => ({ a: { query: Query.all() } }));
    expect(isChronicleError(notModel, 'INVALID_ARGUMENT')).toBe(true);
    expect(notModel.message).toContain('role a is not a decision model');
    const badQuery = await run(() => ({ a: { query: [], initialState: 0, evolve: () => 0 } }));
    expect(isChronicleError(badQuery, 'INVALID_ARGUMENT')).toBe(true);
    expect(badQuery.message).toContain('role a');
    const none = await run(() => ({ products: new Map() }));
    expect(isChronicleError(none, 'INVALID_ARGUMENT')).toBe(true);
    expect(none.message).toContain('reads no model');
  });

  it('refuses a decided event without a streamId and writes nothing', async () => {
    const store = createInMemoryEventStore();
    const handle = createDecisionHandler({
      store,
      query: () => Query.all(),
      model: { initialState: 0, evolve: (n: number) => n },
      decide: () => [{ type: 'Done', data: {} } as unknown as TaggedEvent],
    });
    const err = await handle({ type: 'Do', data: {} }, {}).catch((e) => e);
    expect(isChronicleError(err, 'INVALID_ARGUMENT')).toBe(true);
    expect(err.message).toContain('without a streamId');
    expect(await store.headPosition()).toBe(0);
  });
});

describe('concurrency', () => {
  it('50 concurrent orders for 10 units: exactly 10 succeed, the rest are refused by the rule', async () => {
    const store = createInMemoryEventStore();
    await store.append([productAdded('hot', 10)]);
    const handle = reserveHandler(store, { maxRetries: 100 });
    const settled = await Promise.allSettled(Array.from({ length: 50 }, (_, i) => handle(reserveCmd(`o${i}`, 'hot'), {})));
    const ok = settled.filter((s) => s.status === 'fulfilled').length;
    const refused = settled.filter((s) => s.status === 'rejected' && isChronicleError(s.reason, 'DOMAIN_RULE'));
    expect(ok).toBe(10);
    expect(refused.length).toBe(40);
    expect((await store.read([{ types: ['StockReserved'] }])).events.length).toBe(10);
  });

  it('with few retries the losers fail with CONCURRENCY_CONFLICT, never oversell', async () => {
    const { store, inner, conflicts } = counting();
    await inner.append([productAdded('hot', 10)]);
    const handle = reserveHandler(store, { maxRetries: 1 });
    const settled = await Promise.allSettled(Array.from({ length: 50 }, (_, i) => handle(reserveCmd(`o${i}`, 'hot'), {})));
    const ok = settled.filter((s) => s.status === 'fulfilled').length;
    const reasons = settled.flatMap((s) => (s.status === 'rejected' ? [s.reason] : []));
    expect(reasons.every((r) => isChronicleError(r, 'CONCURRENCY_CONFLICT') || isChronicleError(r, 'DOMAIN_RULE'))).toBe(true);
    expect(reasons.some((r) => isChronicleError(r, 'CONCURRENCY_CONFLICT'))).toBe(true);
    expect(ok).toBeGreaterThan(0);
    expect(ok).toBeLessThanOrEqual(10);
    expect(ok + reasons.length).toBe(50);
    expect((await inner.read([{ types: ['StockReserved'] }])).events.length).toBe(ok);
    expect(conflicts()).toBeGreaterThan(0);
  });

  it('the same race oversells without the append condition, so the tests above do test it', async () => {
    const inner = createInMemoryEventStore();
    await inner.append([productAdded('hot', 10)]);
    const unconditional: EventStore = {
      ...inner,
      append: ((events: readonly TaggedEvent[], options: object) =>
        inner.append(events, { ...options, condition: undefined })) as EventStore['append'],
    };
    const handle = reserveHandler(unconditional, { maxRetries: 100 });
    await Promise.allSettled(Array.from({ length: 50 }, (_, i) => handle(reserveCmd(`o${i}`, 'hot'), {})));
    expect((await inner.read([{ types: ['StockReserved'] }])).events.length).toBeGreaterThan(10);
  });

  it('concurrent decisions over disjoint products never conflict, and each reads once', async () => {
    const { store, inner, reads, conflicts } = counting();
    await inner.append(Array.from({ length: 20 }, (_, i) => productAdded(`p${i}`, 1)));
    const handle = reserveHandler(store, { maxRetries: 0 });
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => handle(reserveCmd(`o${i}`, `p${i}`), {})));
    expect(results).toHaveLength(20);
    expect(conflicts()).toBe(0);
    expect(reads).toHaveLength(20);
  });

  it('gives up with CONCURRENCY_CONFLICT after maxRetries, having decided maxRetries + 1 times', async () => {
    const store = createInMemoryEventStore();
    await store.append([productAdded('p', 100)]);
    let decisions = 0;
    const handle = createDecisionHandler({
      store,
      query: (c: Reserve) => Query.tags(productTag(c.data.productId)),
      model: productModel('p') as never,
      decide: (c, state: ProductState) => {
        decisions++;
        // Someone always gets there first.
        void store.append([reserve(state, 'p', `rival-${decisions}`)]);
        return [reserve(state, 'p', c.data.orderId)];
      },
      maxRetries: 2,
    });
    const err = await handle(reserveCmd('o', 'p'), {}).catch((e) => e);
    expect(isChronicleError(err, 'CONCURRENCY_CONFLICT')).toBe(true);
    expect(decisions).toBe(3);
  });
});

describe('read cost and the cache', () => {
  it('reads cached models together from their lowest position + 1, uncached ones together from 0', async () => {
    const { store, inner, reads } = counting();
    await inner.append([productAdded('a', 5), productAdded('b', 5), productAdded('c', 5), productAdded('d', 5)]);
    const seen: Record<string, number>[] = [];
    const handle = createDecisionHandler({
      store,
      models: (c: PlaceOrder) => ({ products: new Map(c.data.productIds.map((id) => [id, productModel(id)])) }),
      decide: (c, { products }) => {
        seen.push(Object.fromEntries([...products].map(([id, p]) => [id, p.available])));
        return [...products].map(([id, p]) => reserve(p, id, c.data.orderId));
      },
    });
    await handle({ type: 'PlaceOrder', data: { orderId: 'o1', productIds: ['a', 'b'] } }, {});
    expect(reads.map((r) => r.from)).toEqual([1]);
    // a is cached at 4 (the head of that read); b at 6, the head when another order read it to take one more (at 7).
    await handle({ type: 'PlaceOrder', data: { orderId: 'o1b', productIds: ['b'] } }, {});
    expect(reads.map((r) => r.from)).toEqual([1, 5]);
    reads.length = 0;
    await inner.append([productAdded('x', 1)]);
    // c and d are new: one read from 0 for them; one from 5 for a and b, where b skips 5 and 6, folded already.
    await handle({ type: 'PlaceOrder', data: { orderId: 'o2', productIds: ['a', 'c', 'b', 'd'] } }, {});
    expect(reads).toHaveLength(2);
    expect(reads.map((r) => r.from).sort()).toEqual([1, 5]);
    const cachedRead = reads.find((r) => r.from === 5);
    expect(cachedRead?.query).toEqual([{ tags: ['product:a'] }, { tags: ['product:b'] }]);
    // Every model folded each of its events once: a lost one unit, b two, c and d none yet.
    expect(seen.at(-1)).toEqual({ a: 4, c: 5, b: 3, d: 5 });
  });

  it('models with one query and evolve but different initial states fold apart, in one command and across commands', async () => {
    const store = createInMemoryEventStore();
    await store.append([{ streamId: 'c-1', type: 'Added', data: 1 }]);
    const evolve = (total: number, e: { data: unknown }) => total + (e.data as number);
    const query = Query.tags('c-1');
    const seen: Array<{ low: number; high: number }> = [];
    const handle = createDecisionHandler({
      store,
      models: () => ({ low: { query, initialState: 0, evolve }, high: { query, initialState: 100, evolve } }),
      decide: (_c: Command, states) => {
        seen.push(states);
        return [{ streamId: 'c-1', type: 'Added', data: 1 }];
      },
    });
    await handle({ type: 'Add', data: {} }, {});
    await handle({ type: 'Add', data: {} }, {});
    expect(seen).toEqual([
      { low: 1, high: 101 },
      { low: 2, high: 102 },
    ]);
  });

  it('sees what another handler instance wrote since its state was cached', async () => {
    const inner = createInMemoryEventStore();
    await inner.append([productAdded('p', 2)]);
    const first = reserveHandler(inner);
    const second = reserveHandler(inner);
    await first(reserveCmd('o1', 'p'), {});
    await second(reserveCmd('o2', 'p'), {});
    // first has p cached with 1 left; second took it.
    const refused = await first(reserveCmd('o3', 'p'), {}).catch((e) => e);
    expect(isChronicleError(refused, 'DOMAIN_RULE')).toBe(true);
    expect(refused.message).toContain('has 0 left');
  });

  it('spends no cache slot on a model that matched nothing, and evicts the least recently used beyond cacheSize', async () => {
    const { store, inner, reads } = counting();
    await inner.append([productAdded('a', 9), productAdded('b', 9)]);
    const peek = createDecisionHandler({
      store,
      query: (c: { type: 'Peek'; data: { id: string } }) => Query.tags(productTag(c.data.id)),
      model: productModel('x') as never,
      decide: () => [],
      reportStream: () => 'peek',
      cacheSize: 1,
    });
    const peekAt = async (id: string) => {
      reads.length = 0;
      await peek({ type: 'Peek', data: { id } }, {});
      return reads[0].from;
    };
    expect(await peekAt('a')).toBe(1);
    expect(await peekAt('a')).toBe(3);
    // New, empty models do not push a out.
    expect(await peekAt('new-1')).toBe(1);
    expect(await peekAt('new-2')).toBe(1);
    expect(await peekAt('a')).toBe(3);
    // b matched events, so it takes a's only slot.
    expect(await peekAt('b')).toBe(1);
    expect(await peekAt('a')).toBe(1);
  });

  it('reads from 0 every time when the cache is off', async () => {
    const { store, inner, reads } = counting();
    await inner.append([productAdded('a', 9)]);
    const handle = reserveHandler(store, { cacheSize: 0 });
    await handle(reserveCmd('o1', 'a'), {});
    await handle(reserveCmd('o2', 'a'), {});
    expect(reads.map((r) => r.from)).toEqual([1, 1]);
  });
});

describe('idempotency, no-ops and the status', () => {
  type Ensure = { type: 'EnsureStock'; data: { productId: string; atLeast: number } };
  // Tops a product up to `atLeast`: a no-op when it already has that much.
  const ensure = (store: EventStore, reportStream?: (c: Ensure) => string) =>
    createDecisionHandler({
      store,
      query: (c: Ensure) => Query.tags(productTag(c.data.productId)),
      model: productModel('x') as never,
      decide: (c, state: ProductState) =>
        state.available >= c.data.atLeast ? [] : [productAdded(c.data.productId, c.data.atLeast - state.available)],
      reportStream,
    });
  const ensureCmd = (productId: string, atLeast: number): Ensure => ({ type: 'EnsureStock', data: { productId, atLeast } });

  it('the same key returns the first result and writes nothing; other data under it is IDEMPOTENCY_MISMATCH', async () => {
    const store = createInMemoryEventStore();
    await store.append([productAdded('p', 5)]);
    const handle = reserveHandler(store);
    const first = await handle(reserveCmd('o1', 'p'), { idempotencyKey: 'k1' });
    expect(await handle(reserveCmd('o1', 'p'), { idempotencyKey: 'k1' })).toEqual(first);
    expect(await store.headPosition()).toBe(2);
    const mismatch = await handle(reserveCmd('o1', 'p', 2), { idempotencyKey: 'k1' }).catch((e) => e);
    expect(isChronicleError(mismatch, 'IDEMPOTENCY_MISMATCH')).toBe(true);
    expect(await store.headPosition()).toBe(2);
    // The key is scoped by command type: another command may use the same key.
    await ensure(store, () => 'product-p')(ensureCmd('p', 100), { idempotencyKey: 'k1' });
    expect(await store.headPosition()).toBe(3);
  });

  it('concurrent requests with one key write once and all answer with that write', async () => {
    const store = createInMemoryEventStore();
    await store.append([productAdded('p', 5)]);
    const handle = reserveHandler(store, { maxRetries: 10 });
    const results = await Promise.all(Array.from({ length: 5 }, () => handle(reserveCmd('o1', 'p'), { idempotencyKey: 'same' })));
    expect(new Set(results.map((r) => JSON.stringify(r))).size).toBe(1);
    expect((await store.read([{ types: ['StockReserved'] }])).events).toHaveLength(1);
  });

  it('a no-op without a key writes nothing and reports the reported stream’s version at the read head', async () => {
    const store = createInMemoryEventStore();
    await store.append([productAdded('p', 5), productAdded('q', 1)]);
    const result = await ensure(store, (c) => `product-${c.data.productId}`)(ensureCmd('p', 3), {});
    expect(result).toEqual({ streamId: 'product-p', version: 1, position: 2 });
    expect(await store.findIdempotentResult('EnsureStock:none')).toBeUndefined();
    expect(await store.headPosition()).toBe(2);
  });

  it('a no-op with a key records it, so its replay after the state moved on writes nothing', async () => {
    const store = createInMemoryEventStore();
    await store.append([productAdded('p', 5)]);
    const handle = ensure(store, (c) => `product-${c.data.productId}`);
    const noop = await handle(ensureCmd('p', 3), { idempotencyKey: 'e1' });
    expect(noop).toEqual({ streamId: 'product-p', version: 1, position: 1 });
    expect(await store.findIdempotentResult('EnsureStock:e1')).toEqual([]);
    // The stock drops; the replay is still the no-op it was, not a top-up.
    await store.append([reserve({ exists: true, available: 5 }, 'p', 'o', 4)]);
    const replay = await handle(ensureCmd('p', 3), { idempotencyKey: 'e1' });
    expect(replay.streamId).toBe('product-p');
    expect(replay.position).toBeGreaterThanOrEqual(noop.position);
    expect(await store.headPosition()).toBe(2);
  });

  it('a keyed no-op decided on state that changed before its append is decided again', async () => {
    const inner = createInMemoryEventStore();
    await inner.append([productAdded('p', 5)]);
    let sneak = true;
    const store: EventStore = {
      ...inner,
      append: (async (...args: Parameters<EventStore['append']>) => {
        if (sneak) {
          sneak = false;
          await inner.append([reserve({ exists: true, available: 5 }, 'p', 'o', 4)]);
        }
        return (inner.append as (...a: unknown[]) => Promise<unknown>)(...args);
      }) as EventStore['append'],
    };
    const result = await ensure(store, () => 'product-p')(ensureCmd('p', 3), { idempotencyKey: 'e2' });
    // The retry saw 1 left and topped up by 2.
    expect(dataOf((await inner.read([{ types: ['ProductAdded'] }])).events)).toEqual([
      { productId: 'p', stock: 5 },
      { productId: 'p', stock: 2 },
    ]);
    expect(result).toEqual({ streamId: 'product-p', version: 2, position: 3 });
  });

  it('a no-op needs reportStream to name its status', async () => {
    const store = createInMemoryEventStore();
    await store.append([productAdded('p', 5)]);
    const err = await ensure(store)(ensureCmd('p', 1), { idempotencyKey: 'e3' }).catch((e) => e);
    expect(isChronicleError(err, 'INVALID_ARGUMENT')).toBe(true);
    expect(err.message).toContain('reportStream');
    expect(await store.findIdempotentResult('EnsureStock:e3')).toBeUndefined();
  });

  it('reportStream names a stream the decision did not write, with its current version', async () => {
    const store = createInMemoryEventStore();
    await store.append([productAdded('p', 5)]);
    const handle = createDecisionHandler({
      store,
      query: (c: Reserve) => Query.tags(productTag(c.data.productId)),
      model: productModel('x') as never,
      decide: (c: Reserve, state: ProductState) => [reserve(state, c.data.productId, c.data.orderId)],
      reportStream: (c) => `product-${c.data.productId}`,
    });
    expect(await handle(reserveCmd('o1', 'p'), {})).toEqual({ streamId: 'product-p', version: 1, position: 2 });
  });

  it('passes the dispatch context to decide', async () => {
    const store = createInMemoryEventStore();
    const contexts: unknown[] = [];
    const handle = createDecisionHandler({
      store,
      query: () => Query.tags('t'),
      model: { initialState: null, evolve: (s: null) => s },
      decide: (_c: Command, _s, context) => {
        contexts.push(context);
        return [];
      },
      reportStream: () => 'r',
    });
    await handle({ type: 'X', data: {} }, { correlationId: 'c1' });
    expect(contexts).toEqual([{ correlationId: 'c1' }]);
  });
});

describe('folding many models from one read, and model keys', () => {
  type Look = { type: 'Look'; data: Record<string, never> };
  const look: Look = { type: 'Look', data: {} };
  // Folds the positions of the events a model is given, so each model's state can be checked against its own read.
  const positions = (state: number[], event: { position: number }) => [...state, event.position];
  const model = (query: Query) => ({ query, initialState: [] as number[], evolve: positions });
  const looking = (store: EventStore, models: Record<string, Query>) =>
    createDecisionHandler({
      store,
      models: () => Object.fromEntries(Object.entries(models).map(([role, query]) => [role, model(query)])),
      decide: (_c, states) => {
        lastSeen = states as Record<string, number[]>;
        return [];
      },
      reportStream: () => 'look',
    });
  // What the last decision was given, by role.
  let lastSeen: Record<string, number[]> = {};
  const seen = async (handle: ReturnType<typeof looking>) => {
    await handle(look, {});
    return lastSeen;
  };

  // With 40 more models, one read carries dozens of models at once.
  it.each([0, 40])(
    'many models in one read each fold exactly the events their own query selects, each once (+%i)',
    async (more) => {
      const { store, inner, reads } = counting();
      await inner.append([
        { streamId: 's-1', type: 'A', data: {}, tags: ['x:1'] },
        { streamId: 's-2', type: 'B', data: {}, tags: ['x:2', 'y'] },
        { streamId: 's-3', type: 'A', data: {}, tags: ['x:1', 'x:2'] },
        { streamId: 'x:3', type: 'C', data: {} },
        { streamId: 's-5', type: 'B', data: {}, tags: ['y'] },
      ]);
      const queries: Record<string, Query> = {
        one: Query.tags('x:1'),
        two: Query.tags('x:2'),
        either: Query.of({ tags: ['x:1'] }, { tags: ['x:2'] }),
        byStream: Query.tags('x:3'),
        typeOnly: Query.of({ types: ['B'] }),
        bothTags: Query.tags('x:2', 'y'),
        typedTag: Query.of({ types: ['A'], tags: ['x:2'] }),
        nothing: Query.tags('x:9'),
      };
      for (let i = 0; i < more; i++) queries[`more${i}`] = Query.tags(`more:${i}`);
      const handle = looking(store, queries);
      const expected = async () =>
        Object.fromEntries(
          await Promise.all(
            Object.entries(queries).map(async ([role, q]) => [role, (await inner.read(q)).events.map((e) => e.position)]),
          ),
        );
      const first = await seen(handle);
      expect(first).toEqual(await expected());
      expect(first.either).toEqual([1, 2, 3]);
      expect(reads).toHaveLength(1);
      // Cached now (all but `nothing`): one read from past the lowest position, each model taking only what is new to it.
      await inner.append([
        { streamId: 's-6', type: 'B', data: {}, tags: ['x:1', 'y'] },
        { streamId: 's-7', type: 'A', data: {}, tags: ['x:2', 'x:1', 'y'] },
      ]);
      reads.length = 0;
      expect(await seen(handle)).toEqual(await expected());
      expect(reads.map((r) => r.from).sort()).toEqual([1, 6]);
    },
  );

  it('knows a model written with items or values in another order as the same one, and never confuses two', async () => {
    const { store, inner, reads } = counting();
    await inner.append([
      { streamId: 's-1', type: 'c', data: {}, tags: ['p', 'q'] },
      { streamId: 's-2', type: 'a', data: {}, tags: ['q'] },
      { streamId: 's-3', type: 'b', data: {}, tags: ['p'] },
    ]);
    // One handler, whose command names its models one way, then the same models written another way.
    let written: Record<string, Query> = {
      pq: Query.tags('p', 'q'),
      mixed: Query.of({ types: ['b', 'a'] }, { tags: ['q'] }),
      // Keys that joined values naively would be one model: this one selects nothing.
      comma: Query.of({ types: ['a,b'] }),
      split: Query.of({ types: ['a', 'b'] }),
    };
    const handle = createDecisionHandler({
      store,
      models: () => Object.fromEntries(Object.entries(written).map(([role, query]) => [role, model(query)])),
      decide: (_c, states) => {
        lastSeen = states as Record<string, number[]>;
        return [];
      },
      reportStream: () => 'look',
    });
    expect(await seen(handle)).toEqual({ pq: [1], mixed: [1, 2, 3], comma: [], split: [2, 3] });
    written = { qp: Query.tags('q', 'p'), mixed: Query.of({ tags: ['q'] }, { types: ['a', 'b'] }) };
    reads.length = 0;
    expect(await seen(handle)).toEqual({ qp: [1], mixed: [1, 2, 3] });
    // Both found cached: one read of what is new since.
    expect(reads.map((r) => r.from)).toEqual([4]);
  });

  it('folds one query under one evolve once, however many roles name it', async () => {
    const { store, inner, reads } = counting();
    await inner.append([productAdded('a', 2)]);
    let folds = 0;
    const evolve = (s: number, _e: unknown) => {
      folds++;
      return s + 1;
    };
    const handle = createDecisionHandler({
      store,
      models: () => ({
        mine: { query: Query.tags(productTag('a')), initialState: 0, evolve },
        again: { query: [{ tags: [productTag('a'), productTag('a')] }], initialState: 0, evolve },
        inMap: new Map([['a', { query: Query.tags(productTag('a')), initialState: 0, evolve }]]),
      }),
      decide: (_c, s) => {
        expect([s.mine, s.again, s.inMap.get('a')]).toEqual([1, 1, 1]);
        return [];
      },
      reportStream: () => 'x',
    });
    await handle(look, {});
    expect(folds).toBe(1);
    expect(reads).toEqual([{ query: [{ tags: [productTag('a')] }], from: 1 }]);
  });
});
