// Child process of workflows-process-sigkill.int.test.ts: runs a process manager over an event-store file and a
// read-store file. It sends one Effect command per Triggered event; the command's handler appends one Effected event
// (it is not idempotent by itself: only the idempotency key the process sends stops a second effect). Prints
// `progress <checkpoint>` after each committed batch and `done <checkpoint>` once caught up. THROTTLE_MS holds each
// command up to that long (at random), so a batch's effects commit in several groups over its time and a parent's
// SIGKILL often lands after some of them, before the batch's checkpoint.
import {
  command,
  createCommandBus,
  createCommandHandler,
  createProjector,
  createWorkflows,
  type Decider,
  defineCommand,
  defineProcessManager,
} from 'chronicle-es';
import { createSqliteEventStore, createSqliteReadStore } from 'chronicle-es/sqlite';
import { z } from 'zod';

const [eventsPath, readPath, triggers] = process.argv.slice(2);
const throttleMs = Number(process.env.THROTTLE_MS ?? 0);

export const Effect = defineCommand('Effect', z.object({ trigger: z.number().int() }));
type EffectCommand = { type: 'Effect'; data: { trigger: number } };
type EffectEvent = { type: 'Effected'; data: { trigger: number } };
const effect: Decider<EffectCommand, EffectEvent, null> = {
  initialState: null,
  decide: (c) => [{ type: 'Effected', data: { trigger: c.data.trigger } }],
  evolve: (s) => s,
};

const eventStore = createSqliteEventStore({ path: eventsPath });
const readStore = createSqliteReadStore({ path: readPath });
const bus = createCommandBus();
const handle = createCommandHandler({
  store: eventStore,
  decider: effect,
  streamId: (c) => `effect-${c.data.trigger}`,
  cacheSize: 0,
});
bus.register(Effect, async (c, context) => {
  if (throttleMs > 0) await new Promise((r) => setTimeout(r, Math.random() * throttleMs));
  return handle(c, context);
});

const effector = defineProcessManager<{ triggered: number }>({
  name: 'effector',
  version: 1,
  handlers: {
    Triggered: (event, { state }) => ({
      state: { triggered: (state?.triggered ?? 0) + 1 },
      send: [command(Effect, { trigger: (event.data as { n: number }).n })],
    }),
  },
});
// Process managers only: this process fires no schedules.
const workflows = createWorkflows({ commandBus: bus, eventStore, readStore, processManagers: [effector], scheduler: false });
const projector = createProjector({
  eventStore,
  readStore,
  projections: workflows.projections,
  batchSize: 100,
  pollIntervalMs: 20,
});
projector.onChange(({ position }) => process.stdout.write(`progress ${position}\n`));
await projector.start();
await projector.waitForPosition(Number(triggers), { timeoutMs: 120_000 });
await projector.stop();
const record = await readStore.load('effector');
await readStore.close();
await eventStore.close();
process.stdout.write(`done ${record?.position}\n`);
