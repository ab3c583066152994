// Type-level tests of the decision handler: the states decide receives are typed by the models each role names, and
// what it returns must be tagged events that name their stream. Each `@ts-expect-error` is a wrong use that must not
// compile; `npm test` type-checks this file (tsc fails on an unused @ts-expect-error), and vitest runs it.
import { describe, expectTypeOf, it } from 'vitest';
import type { CommandHandler, CommandResult } from './command-handler.js';
import { createDecisionHandler, type DecisionModel, type DecisionStatesOf, type LoadDecision } from './decision-handler.js';
import { Query } from './event-query.js';
import type { RecordedEvent, TaggedEvent } from './event-store.js';
import { type OrderState, orderModel, type ProductState, productModel } from './fixtures/stock.js';
import { createInMemoryEventStore } from './in-memory-event-store.js';

type PlaceOrder = { type: 'PlaceOrder'; data: { orderId: string; productIds: string[] } };
type Count = { type: 'Count'; data: { tag: string } };

const store = createInMemoryEventStore();

describe('decision handler types', () => {
  it('types each role’s state by its model, a map role as a map of states, and refuses unknown roles', () => {
    const handler = createDecisionHandler({
      store,
      models: (c: PlaceOrder) => ({
        order: orderModel(c.data.orderId),
        products: new Map(c.data.productIds.map((id) => [id, productModel(id)])),
      }),
      decide: (_c, states) => {
        expectTypeOf(states.order).toEqualTypeOf<OrderState>();
        expectTypeOf(states.products).toEqualTypeOf<ReadonlyMap<string, ProductState>>();
        // @ts-expect-error no such role
        void states.customer;
        // @ts-expect-error states are read-only
        states.order = { placed: true, cancelled: false, productIds: [] };
        return [];
      },
    });
    expectTypeOf(handler).toEqualTypeOf<CommandHandler<PlaceOrder>>();
    expectTypeOf(handler).returns.resolves.toEqualTypeOf<CommandResult>();
  });

  it('keeps a map role’s key type, and types load by the model it folds', () => {
    createDecisionHandler({
      store,
      models: async (c: PlaceOrder, load) => {
        expectTypeOf(load).toEqualTypeOf<LoadDecision>();
        const order = await load(orderModel(c.data.orderId));
        expectTypeOf(order).toEqualTypeOf<OrderState>();
        return { sizes: new Map<'s' | 'm', DecisionModel<number>>() };
      },
      decide: (_c, states) => {
        expectTypeOf(states.sizes).toEqualTypeOf<ReadonlyMap<'s' | 'm', number>>();
        return [];
      },
    });
    expectTypeOf<DecisionStatesOf<{ a: DecisionModel<boolean> }>>().toEqualTypeOf<{ readonly a: boolean }>();
  });

  it('requires decided events to name their stream', () => {
    createDecisionHandler({
      store,
      models: (c: PlaceOrder) => ({ order: orderModel(c.data.orderId) }),
      // @ts-expect-error an event without streamId is a NewEvent, not a TaggedEvent
      decide: () => [{ type: 'OrderPlaced', data: {} }],
    });
    createDecisionHandler({
      store,
      models: (c: PlaceOrder) => ({ order: orderModel(c.data.orderId) }),
      decide: (c): TaggedEvent[] => [{ streamId: `order-${c.data.orderId}`, type: 'OrderPlaced', data: {} }],
    });
  });

  it('types the single-model form’s state by its model and its command by its query', () => {
    const handler = createDecisionHandler({
      store,
      query: (c: Count) => Query.tags(c.data.tag),
      model: { initialState: { n: 0 }, evolve: (s: { n: number }, _e: RecordedEvent) => ({ n: s.n + 1 }) },
      decide: (c, state) => {
        expectTypeOf(c).toEqualTypeOf<Count>();
        expectTypeOf(state).toEqualTypeOf<{ n: number }>();
        return [{ streamId: `count-${c.data.tag}`, type: 'Counted', data: { n: state.n }, tags: [c.data.tag] }];
      },
    });
    expectTypeOf(handler).toEqualTypeOf<CommandHandler<Count>>();
    createDecisionHandler({
      store,
      query: (c: Count) => Query.tags(c.data.tag),
      model: { initialState: 0, evolve: (n: number) => n + 1 },
      // @ts-expect-error the single form's decide returns tagged events too
      decide: () => [{ type: 'Counted', data: {} }],
    });
  });
});
