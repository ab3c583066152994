// The typed API as a consumer sees it through the published declarations: payloads, results and event data are
// inferred from the zod schemas. Each `@ts-expect-error` is a wrong use that must not compile; keep each on one line.
import {
  type CommandOf,
  createCommandBus,
  createMultiStreamHandler,
  createQueryBus,
  defineCommand,
  defineEvent,
  defineProjection,
  defineQuery,
  type EventOf,
} from 'chronicle-es';
import type { SqliteReadTx } from 'chronicle-es/sqlite';
import { z } from 'zod';

const AddTodo = defineCommand('AddTodo', z.object({ text: z.string() }), { roles: ['writer'] });
const GetBalance = defineQuery('GetBalance', z.object({ accountId: z.string() }), { result: z.object({ cents: z.number() }) });
const TodoAdded = defineEvent('TodoAdded', z.object({ text: z.string() }));

export async function wrongUses(): Promise<void> {
  const commands = createCommandBus();
  // @ts-expect-error text must be a string
  await commands.dispatch(AddTodo, { text: 5 });
  await commands.dispatch(AddTodo, { text: 'ok' });

  const queries = createQueryBus();
  const balance = await queries.run(GetBalance, { accountId: 'a1' });
  const cents: number = balance.cents;
  // @ts-expect-error the result has no owner
  void balance.owner;
  // @ts-expect-error the handler must return the declared result
  queries.register(GetBalance, () => ({ cents: 'many' }));
  void cents;
}

export const todos = defineProjection({
  name: 'todos',
  version: 1,
  events: [TodoAdded],
  setup: (tx: SqliteReadTx) => tx.run('CREATE TABLE todos (text TEXT)'),
  handlers: {
    TodoAdded: (event, tx) => {
      const text: string = event.data.text;
      // @ts-expect-error TodoAdded carries no done flag
      void event.data.done;
      tx.run('INSERT INTO todos VALUES (?)', [text]);
    },
    // @ts-expect-error not one of the projection's events
    TodoRemoved: () => {},
  },
});

type Todo = EventOf<typeof TodoAdded>;
const list = { initialState: [] as string[], evolve: (state: string[], event: Todo) => [...state, event.data.text] };
export const handler = createMultiStreamHandler({
  store: undefined as never,
  streams: (command: CommandOf<typeof AddTodo>) => ({ list: { streamId: `list-${command.data.text}`, model: list } }),
  decide: (_command, states) => {
    const items: string[] = states.list;
    // @ts-expect-error no such role
    void states.other;
    return items.length > 0 ? [] : [];
  },
});
