// A typed consumer of every entry: what compiles against the published declarations, with the types inferred.
import {
  type CommandResult,
  createCommandBus,
  createCommandHandler,
  createQueryBus,
  type Decider,
  defineCommand,
  defineQuery,
  isChronicleError,
} from 'chronicle-es';
import { createServer, type MetricsRegistry } from 'chronicle-es/http';
import { createSqliteEventStore, type GroupCommitStats, type SqliteEventStore } from 'chronicle-es/sqlite';
import { deciderSpec } from 'chronicle-es/testing';
import { z } from 'zod';

export const Increment = defineCommand('Increment', z.object({ counterId: z.string(), by: z.number().int() }));
export const GetCount = defineQuery('GetCount', z.object({ counterId: z.string() }));

type CounterCommand = { type: 'Increment'; data: { counterId: string; by: number } };
type CounterEvent = { type: 'Incremented'; data: { by: number } };
export const counter: Decider<CounterCommand, CounterEvent, { count: number }> = {
  initialState: { count: 0 },
  decide: (command) => [{ type: 'Incremented', data: { by: command.data.by } }],
  evolve: (state, event) => ({ count: state.count + event.data.by }),
};

export async function run(path: string): Promise<CommandResult> {
  const store: SqliteEventStore = createSqliteEventStore({ path, synchronous: 'normal' });
  const stats: GroupCommitStats = store.stats();
  const handle = createCommandHandler({ store, decider: counter, streamId: (c) => `counter-${c.data.counterId}` });
  const commands = createCommandBus().register(Increment, handle);
  const queries = createQueryBus().register(
    GetCount,
    async ({ counterId }) => (await store.readStream(`counter-${counterId}`)).length,
  );
  // Application metrics through our own registry type: a prom-client Counter is registered without naming prom-client.
  const metrics = (registry: MetricsRegistry) => registry.registerMetric({ name: 'app_total' });
  const server = await createServer({
    commandBus: commands,
    queryBus: queries,
    logger: false,
    metrics,
    defaultMetrics: stats.groups > 0,
  });
  await server.close();
  deciderSpec(counter)
    .given([])
    .when({ type: 'Increment', data: { counterId: 'c', by: 1 } })
    .then([{ type: 'Incremented', data: { by: 1 } }]);
  try {
    return await commands.dispatch(Increment, { counterId: 'c', by: 1 });
  } catch (err) {
    if (isChronicleError(err, 'CONCURRENCY_CONFLICT')) throw new Error(`conflict ${err.code}`, { cause: err });
    throw err;
  } finally {
    await store.close();
  }
}
