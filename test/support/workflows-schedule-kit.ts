// A small world for the scheduler's tests: commands whose effects can be counted (Bump appends one event per
// dispatch that takes effect, so a second effect would show), one a business rule always refuses, and one that fails
// transiently a set number of times. Every store is given by the test, so the same world runs in memory, on SQLite
// files and on PostgreSQL.
import {
  ChronicleError,
  type CommandBus,
  createCommandBus,
  createCommandHandler,
  defineCommand,
  domainError,
  type EventStore,
} from 'chronicle-es';
import { z } from 'zod';

/** Appends one `Bumped` to `bump-<id>` each time it takes effect. */
export const Bump = defineCommand('Bump', z.object({ id: z.string().min(1), by: z.string().optional() }));
/** Always refused by a business rule. */
export const Refuse = defineCommand('Refuse', z.object({ reason: z.string() }));
/** Fails with STORE_ERROR while `failures.remaining` > 0, then appends `Flaked` to `flaky-<id>`. */
export const Flaky = defineCommand('Flaky', z.object({ id: z.string() }));

export type Calls = { Bump: number; Refuse: number; Flaky: number };

/**
 * A command bus over `eventStore` with the three commands; `calls` counts dispatches that reached a handler. With
 * `worker`, every Bumped names it (`by`), so a test sees which process took effect.
 */
export function scheduleCommands(eventStore: EventStore, options: { worker?: string } = {}) {
  const calls: Calls = { Bump: 0, Refuse: 0, Flaky: 0 };
  const failures = { remaining: 0 };
  const bus: CommandBus = createCommandBus();
  const bump = createCommandHandler({
    store: eventStore,
    streamId: (c: { type: 'Bump'; data: { id: string; by?: string } }) => `bump-${c.data.id}`,
    decider: {
      initialState: null,
      decide: (c) => [{ type: 'Bumped', data: { id: c.data.id, by: options.worker ?? c.data.by ?? null } }],
      evolve: (s) => s,
    },
  });
  const flaky = createCommandHandler({
    store: eventStore,
    streamId: (c: { type: 'Flaky'; data: { id: string } }) => `flaky-${c.data.id}`,
    decider: { initialState: null, decide: (c) => [{ type: 'Flaked', data: { id: c.data.id } }], evolve: (s) => s },
  });
  bus.register(Bump, (command, context) => {
    calls.Bump++;
    return bump(command, context);
  });
  bus.register(Refuse, async (command) => {
    calls.Refuse++;
    throw domainError(`refused: ${command.data.reason}`);
  });
  bus.register(Flaky, async (command, context) => {
    calls.Flaky++;
    if (failures.remaining > 0) {
      failures.remaining--;
      throw new ChronicleError('STORE_ERROR', 'the disk hiccuped');
    }
    return flaky(command, context);
  });
  /** How many times Bump took effect for `id` (events in its stream), and who sent them. */
  const bumps = async (id: string) => (await eventStore.readStream(`bump-${id}`)).length;
  return { bus, calls, failures, bumps };
}

/** The events of a schedule's stream, by type, for assertions. */
export async function scheduleStream(eventStore: EventStore, key: string) {
  const events = await eventStore.readStream(`chronicle.schedule-${key}`);
  return events.map((e) => ({ type: e.type, version: e.version, data: e.data as Record<string, unknown> }));
}
