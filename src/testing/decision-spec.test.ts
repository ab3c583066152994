import { AssertionError } from 'node:assert';
import { describe, expect, it } from 'vitest';
import { createDecisionHandler } from '../core/decision-handler.js';
import { domainError } from '../core/errors.js';
import { Query } from '../core/event-query.js';
import type { TaggedEvent } from '../core/event-store.js';
import {
  orderModel,
  orderTag,
  type ProductState,
  productAdded,
  productModel,
  productTag,
  reserve,
} from '../core/fixtures/stock.js';
import { decisionModelSpec, decisionSpec } from './decision-spec.js';

type Reserve = { type: 'Reserve'; data: { orderId: string; productId: string } };
const cmd = (orderId: string, productId = 'p'): Reserve => ({ type: 'Reserve', data: { orderId, productId } });
const reserved = (orderId: string, productId = 'p') => ({
  streamId: `order-${orderId}`,
  type: 'StockReserved',
  data: { productId, orderId, qty: 1 },
  tags: [productTag(productId), orderTag(orderId)],
});

const spec = decisionSpec({
  models: (c: Reserve) => ({ product: productModel(c.data.productId) }),
  decide: (c, { product }) => [reserve(product, c.data.productId, c.data.orderId)],
});

describe('decisionSpec', () => {
  it('passes when the command appends the expected events, and resolves with the status', async () => {
    const result = await spec
      .given([productAdded('p', 1)])
      .when(cmd('o1'))
      .then([reserved('o1')]);
    expect(result).toEqual({ streamId: 'order-o1', version: 1, position: 2 });
  });

  it('fails when the events differ in data, stream or tags', async () => {
    const given = spec.given([productAdded('p', 1)]);
    await expect(given.when(cmd('o1')).then([{ ...reserved('o1'), data: { qty: 2 } }])).rejects.toThrow(AssertionError);
    await expect(given.when(cmd('o1')).then([{ ...reserved('o1'), streamId: 'order-x' }])).rejects.toThrow(AssertionError);
    await expect(given.when(cmd('o1')).then([{ ...reserved('o1'), tags: [] }])).rejects.toThrow(AssertionError);
    await expect(given.when(cmd('o1')).then([])).rejects.toThrow(AssertionError);
  });

  it('checks refusals by code and message, and that nothing was written', async () => {
    const given = spec.given([productAdded('p', 1), reserve({ exists: true, available: 1 }, 'p', 'o0')]);
    await given.when(cmd('o1')).thenFails('DOMAIN_RULE', /has 0 left/);
    await given.when(cmd('o1')).thenFails(/has 0 left/);
    await expect(given.when(cmd('o1')).thenFails('CONCURRENCY_CONFLICT')).rejects.toThrow(AssertionError);
    await expect(
      spec
        .given([productAdded('p', 1)])
        .when(cmd('o1'))
        .thenFails('DOMAIN_RULE'),
    ).rejects.toThrow(/appended/);
    await expect(
      spec
        .given([productAdded('p', 1)])
        .when(cmd('o1'))
        .then([]),
    ).rejects.toThrow(AssertionError);
  });

  it('fails a refusal that wrote something before it threw', async () => {
    // A handler that writes, then throws: thenFails must not pass it.
    const leaky = decisionSpec((store) => async (c: Reserve) => {
      await store.append([reserved(c.data.orderId) as TaggedEvent]);
      throw domainError('refused after writing');
    });
    await expect(leaky.given().when(cmd('o1')).thenFails('DOMAIN_RULE')).rejects.toThrow(/write nothing/);
  });

  it('only the given events its query selects count, through the real condition and folds', async () => {
    await spec
      .given([productAdded('p', 1), productAdded('other', 5), reserve({ exists: true, available: 5 }, 'other', 'o9')])
      .when(cmd('o1'))
      .then([reserved('o1')]);
  });

  it('takes the single-model form and a handler factory', async () => {
    const single = decisionSpec({
      query: (c: Reserve) => Query.tags(productTag(c.data.productId)),
      model: productModel('x') as never,
      decide: (c: Reserve, state: ProductState) => [reserve(state, c.data.productId, c.data.orderId)],
    });
    await single
      .given([productAdded('p', 1)])
      .when(cmd('o1'))
      .then([reserved('o1')]);
    const factory = decisionSpec((store) =>
      createDecisionHandler({
        store,
        models: (c: Reserve) => ({ product: productModel(c.data.productId) }),
        decide: () => [],
        reportStream: (c) => `order-${c.data.orderId}`,
      }),
    );
    expect(await factory.given().when(cmd('o1'), { idempotencyKey: 'k' }).then([])).toEqual({
      streamId: 'order-o1',
      version: 0,
      position: 0,
    });
  });

  it('says how to use it when the scenario itself is awaited', async () => {
    await expect(
      (async () => {
        await (spec.given().when(cmd('o1')) as unknown as Promise<void>);
      })(),
    ).rejects.toThrow(/do not await/);
  });
});

describe('decisionModelSpec', () => {
  it('folds only the events the model’s query selects', async () => {
    await decisionModelSpec(productModel('p'))
      .given([productAdded('p', 3), productAdded('q', 9), reserve({ exists: true, available: 3 }, 'p', 'o1')])
      .thenState({ exists: true, available: 2 });
    await decisionModelSpec(orderModel('o1'))
      .given([productAdded('p', 3)])
      .thenState({
        placed: false,
        cancelled: false,
        productIds: [],
      });
    await expect(decisionModelSpec(productModel('p')).given().thenState({ exists: true, available: 0 })).rejects.toThrow(
      AssertionError,
    );
  });

  it('stores the given events in the order given, even when they interleave streams', async () => {
    // The fold sees a's events around b's: a model that records the order of what it saw tells them apart.
    const seen = {
      query: Query.of({ tags: ['a'] }, { tags: ['b'] }),
      initialState: [] as string[],
      evolve: (state: string[], event: { streamId: string; data: unknown }) => [...state, `${event.streamId}:${event.data}`],
    };
    await decisionModelSpec(seen)
      .given([
        { streamId: 'a', type: 'X', data: 1 },
        { streamId: 'b', type: 'X', data: 2 },
        { streamId: 'a', type: 'X', data: 3 },
      ])
      .thenState(['a:1', 'b:2', 'a:3']);
  });
});
