// Type-level tests: what a definition's schema says, the compiler knows. Each `@ts-expect-error` is a wrong use that
// must not compile; `npm test` type-checks this file (tsc fails on an unused @ts-expect-error), and vitest runs it.
import { describe, expect, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import { createCommandBus } from './command-bus.js';
import { type CommandHandler, type CommandResult, createMultiStreamHandler } from './command-handler.js';
import type { Decider } from './decider.js';
import type { RecordedEvent } from './event-store.js';
import { createInMemoryEventStore } from './in-memory-event-store.js';
import {
  type CommandOf,
  defineCommand,
  defineEvent,
  defineQuery,
  type EventOf,
  type InputOf,
  type PayloadOf,
  type ResultOf,
  returns,
} from './messages.js';
import { defineProjection } from './projections/define-projection.js';
import type { InMemoryReadTx } from './projections/in-memory-read-store.js';
import { createQueryBus } from './query-bus.js';

const AddTodo = defineCommand('AddTodo', z.object({ listId: z.string(), text: z.string(), done: z.boolean().default(false) }));
const RemoveTodo = defineCommand('RemoveTodo', z.object({ listId: z.string(), index: z.number().int() }));
const GetList = defineQuery('GetList', z.object({ listId: z.string() }), {
  result: z.object({ items: z.array(z.string()) }),
});
const CountLists = defineQuery('CountLists', z.object({}), { result: returns<number>() });
const Untyped = defineQuery('Untyped', z.object({}));
const TodoAdded = defineEvent('TodoAdded', z.object({ text: z.string() }));
const TodoRemoved = defineEvent('TodoRemoved', z.object({ index: z.number() }));

type TodoCommand = CommandOf<typeof AddTodo | typeof RemoveTodo>;
type TodoEvent = EventOf<typeof TodoAdded | typeof TodoRemoved>;
type TodoState = { items: string[] };

const todo: Decider<TodoCommand, TodoEvent, TodoState> = {
  initialState: { items: [] },
  decide: (command) =>
    command.type === 'AddTodo'
      ? [{ type: 'TodoAdded', data: { text: command.data.text } }]
      : [{ type: 'TodoRemoved', data: { index: command.data.index } }],
  evolve: (state, event) =>
    event.type === 'TodoAdded'
      ? { items: [...state.items, event.data.text] }
      : { items: state.items.filter((_, i) => i !== event.data.index) },
};

describe('typed API', () => {
  it('derives command and event unions from definitions, one at a time or as a set', () => {
    expectTypeOf<CommandOf<typeof AddTodo>>().toEqualTypeOf<{
      type: 'AddTodo';
      data: { listId: string; text: string; done: boolean };
    }>();
    expectTypeOf<TodoCommand['type']>().toEqualTypeOf<'AddTodo' | 'RemoveTodo'>();
    expectTypeOf<CommandOf<[typeof AddTodo, typeof RemoveTodo]>>().toEqualTypeOf<TodoCommand>();
    expectTypeOf<CommandOf<{ AddTodo: typeof AddTodo; RemoveTodo: typeof RemoveTodo }>>().toEqualTypeOf<TodoCommand>();
    expectTypeOf<EventOf<readonly [typeof TodoAdded, typeof TodoRemoved]>>().toEqualTypeOf<TodoEvent>();
    // A set of mixed definitions yields only the kind asked for.
    expectTypeOf<EventOf<[typeof AddTodo, typeof TodoAdded]>>().toEqualTypeOf<EventOf<typeof TodoAdded>>();
    // Input (what a caller sends) and payload (after defaults) differ where the schema says so.
    expectTypeOf<InputOf<typeof AddTodo>>().toEqualTypeOf<{ listId: string; text: string; done?: boolean | undefined }>();
    expectTypeOf<PayloadOf<typeof AddTodo>['done']>().toEqualTypeOf<boolean>();
  });

  it('types dispatch payloads by the definition, and keeps dispatch by name for transports', async () => {
    const bus = createCommandBus();
    const dispatch = () => {
      // @ts-expect-error text must be a string
      void bus.dispatch(AddTodo, { listId: 'l', text: 5 });
      // @ts-expect-error listId is required
      void bus.dispatch(AddTodo, { text: 'x' });
      // @ts-expect-error a payload is required
      void bus.dispatch(AddTodo);
      // The schema's input type: `done` has a default, so it may be left out.
      void bus.dispatch(AddTodo, { listId: 'l', text: 'x' });
      // By name the payload is checked only at run time.
      void bus.dispatch('AddTodo', { anything: true });
    };
    expectTypeOf(dispatch).toBeFunction();
    expectTypeOf(() => bus.dispatch(AddTodo, { listId: 'l', text: 'x' })).returns.resolves.toEqualTypeOf<CommandResult>();
  });

  it('types a handler registered for a definition, and refuses one for another command', () => {
    const addOnly: CommandHandler<CommandOf<typeof AddTodo>> = async () => ({ streamId: 's', version: 1, position: 1 });
    const both: CommandHandler<TodoCommand> = async () => ({ streamId: 's', version: 1, position: 1 });
    createCommandBus().register(AddTodo, addOnly);
    // @ts-expect-error a handler of AddTodo cannot handle RemoveTodo
    createCommandBus().register(RemoveTodo, addOnly);
    // A handler of the union handles each member.
    createCommandBus().register(AddTodo, both).register(RemoveTodo, both);
  });

  it('types query payloads and results by the definition', () => {
    const bus = createQueryBus();
    bus.register(GetList, ({ listId }) => {
      expectTypeOf(listId).toEqualTypeOf<string>();
      return { items: [listId] };
    });
    bus.register(CountLists, () => 3);
    const mustNotCompile = () => {
      // @ts-expect-error the result must match the declared result schema
      createQueryBus().register(GetList, () => ({ items: [1] }));
      // @ts-expect-error returns<number>() declares a number
      createQueryBus().register(CountLists, () => 'three');
      // @ts-expect-error listId must be a string
      void bus.run(GetList, { listId: 1 });
    };
    expectTypeOf(mustNotCompile).toBeFunction();
    expectTypeOf(() => bus.run(GetList, { listId: 'l' })).returns.resolves.toEqualTypeOf<{ items: string[] }>();
    expectTypeOf(() => bus.run(CountLists, {})).returns.resolves.toEqualTypeOf<number>();
    expectTypeOf<ResultOf<typeof Untyped>>().toEqualTypeOf<unknown>();
    expectTypeOf(() => bus.run('GetList', {})).returns.resolves.toEqualTypeOf<unknown>();
  });

  it('types projection handlers by the listed events, and refuses a handler for an unknown type', () => {
    defineProjection({
      name: 'lists',
      version: 1,
      events: [TodoAdded, TodoRemoved],
      setup: (tx: InMemoryReadTx) => tx.table('lists'),
      handlers: {
        TodoAdded: (event, tx) => {
          expectTypeOf(event).toEqualTypeOf<RecordedEvent<'TodoAdded', { text: string }>>();
          expectTypeOf(tx).toEqualTypeOf<InMemoryReadTx>();
        },
        TodoRemoved: (event) => {
          expectTypeOf(event.data.index).toEqualTypeOf<number>();
          // @ts-expect-error TodoRemoved carries no text
          void event.data.text;
        },
      },
    });
    // Refused at run time too, for callers that bypass the types.
    expect(() =>
      defineProjection({
        name: 'typo',
        version: 1,
        events: [TodoAdded],
        setup: (_tx: InMemoryReadTx) => {},
        handlers: {
          // @ts-expect-error TodoAded is not among the events
          TodoAded: () => {},
        },
      }),
    ).toThrow(/TodoAded, which is not among its events/);
  });

  it('gives decide each role its model state: one stream, or a map of them', () => {
    const handler = createMultiStreamHandler({
      store: createInMemoryEventStore(),
      streams: (command: CommandOf<typeof AddTodo>) => ({
        list: { streamId: `list-${command.data.listId}`, model: todo },
        others: new Map([['x', { streamId: 'list-x', model: todo }]]),
      }),
      decide: (_command, states) => {
        expectTypeOf(states.list).toEqualTypeOf<TodoState>();
        expectTypeOf(states.others).toEqualTypeOf<ReadonlyMap<string, TodoState>>();
        // @ts-expect-error no such role
        void states.missing;
        return [];
      },
    });
    expectTypeOf(handler).toEqualTypeOf<CommandHandler<CommandOf<typeof AddTodo>>>();
  });
});
