import {
  createCommandBus,
  createCommandHandler,
  createInMemoryEventStore,
  createQueryBus,
  type Decider,
  defineCommand,
  defineQuery,
  domainError,
} from 'chronicle-es';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createHttpMetrics } from './metrics.js';

const Add = defineCommand('Add', z.object({ id: z.string(), by: z.number().int() }));
const GetNothing = defineQuery('GetNothing', z.object({}));
type AddCommand = { type: 'Add'; data: { id: string; by: number } };
const adder: Decider<AddCommand, { type: 'Added'; data: { by: number } }, number> = {
  initialState: 0,
  decide: (c) => {
    if (c.data.by < 0) throw domainError('no negative amounts');
    return [{ type: 'Added', data: { by: c.data.by } }];
  },
  evolve: (s, e) => s + e.data.by,
};

const line = (text: string, prefix: string) => text.split('\n').find((l) => l.startsWith(prefix));

describe('channel-fed metrics', () => {
  it('count every dispatch by registered name and outcome, appends and events, consistency waits; none once stopped', async () => {
    const store = createInMemoryEventStore();
    const commands = createCommandBus().register(
      Add,
      createCommandHandler({ store, decider: adder, streamId: (c) => `acc-${c.data.id}` }),
    );
    const queries = createQueryBus({
      waitForPosition: async (position) => {
        if (position > 100) throw Object.assign(new Error('not yet'), { code: 'TIMEOUT' });
      },
    }).register(GetNothing, () => null);
    const metrics = await createHttpMetrics({ defaultMetrics: false });
    const stop = metrics.listen();
    await commands.dispatch(Add, { id: 'a', by: 1 });
    await commands.dispatch(Add, { id: 'a', by: 2 });
    await commands.dispatch(Add, { id: 'a', by: -1 }).catch(() => {});
    await commands.dispatch('Nope', {}).catch(() => {});
    await commands.dispatch(Add, { id: 1 } as never).catch(() => {});
    await queries.run(GetNothing, {}, { minPosition: 1 });
    await queries.run(GetNothing, {}, { minPosition: 101 }).catch(() => {});
    const text = await metrics.registry!.metrics();
    const prefix = 'chronicle_dispatch_duration_seconds_count';
    expect(line(text, `${prefix}{kind="command",message="Add",outcome="ok"}`)).toMatch(/ 2$/);
    expect(line(text, `${prefix}{kind="command",message="Add",outcome="DOMAIN_RULE"}`)).toMatch(/ 1$/);
    expect(line(text, `${prefix}{kind="command",message="Add",outcome="VALIDATION_FAILED"}`)).toMatch(/ 1$/);
    expect(line(text, `${prefix}{kind="query",message="GetNothing",outcome="ok"}`)).toMatch(/ 1$/);
    expect(line(text, `${prefix}{kind="query",message="GetNothing",outcome="TIMEOUT"}`)).toMatch(/ 1$/);
    // An unknown name never reaches the bus's channel: no series for it.
    expect(text).not.toContain('Nope');
    expect(line(text, 'chronicle_appends_total{backend="memory",outcome="ok"}')).toMatch(/ 2$/);
    expect(line(text, 'chronicle_events_written_total{backend="memory"}')).toMatch(/ 2$/);
    expect(line(text, 'chronicle_consistency_wait_seconds_count{outcome="reached"}')).toMatch(/ 1$/);
    expect(line(text, 'chronicle_consistency_wait_seconds_count{outcome="timeout"}')).toMatch(/ 1$/);

    stop();
    stop();
    await commands.dispatch(Add, { id: 'a', by: 3 });
    const later = await metrics.registry!.metrics();
    expect(line(later, `${prefix}{kind="command",message="Add",outcome="ok"}`)).toMatch(/ 2$/);
  });
});
