import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { Bump, scheduleCommands } from '../../../test/support/workflows-schedule-kit.js';
import { createCommandBus } from '../command-bus.js';
import { createInMemoryEventStore } from '../in-memory-event-store.js';
import { defineCommand } from '../messages.js';
import { createInMemoryReadStore } from '../projections/in-memory-read-store.js';
import type { ProjectionStore } from '../projections/projection-store.js';
import { createProjector } from '../projections/projector.js';
import { createWorkflows } from './create-workflows.js';
import { SCHEDULER_PROJECTION } from './schedule-table.js';
import { pause } from './workflow-failures.js';

const T0 = Date.parse('2031-03-01T12:00:00.000Z');

// The in-memory read store, counting how often the scheduler's table is read (each round reads it at least once).
function countingReadStore() {
  const inner = createInMemoryReadStore();
  const counter = { reads: 0 };
  const store: ProjectionStore<any, any> = {
    ...inner,
    reader(name: string) {
      const reader = inner.reader(name) as { table(t: string): unknown };
      if (name !== SCHEDULER_PROJECTION) return reader;
      return {
        ...reader,
        table(t: string) {
          counter.reads++;
          return reader.table(t);
        },
      };
    },
  };
  return { store, counter };
}

describe('the fire loop', () => {
  it('polls at its interval under a clock that stands still, however close the next due time', async () => {
    // A hand-moved clock that is not moved: the schedule stays 1 ms ahead of it however long the loop waits.
    const eventStore = createInMemoryEventStore();
    const { store: readStore, counter } = countingReadStore();
    const { bus } = scheduleCommands(eventStore);
    const workflows = createWorkflows({
      commandBus: bus,
      eventStore,
      readStore,
      clock: () => T0,
      scheduler: { pollIntervalMs: 200 },
    });
    const projector = createProjector({ eventStore, readStore, projections: workflows.projections, pollIntervalMs: 5 });
    await projector.start();
    try {
      await workflows.schedule(Bump, { id: 'soon' }, { key: 'k-soon', at: T0 + 1 });
      await projector.waitForPosition(await eventStore.headPosition());
      await pause(50);
      counter.reads = 0;
      await pause(1000);
      // About five rounds of a few reads each; a loop sleeping the clock's 1 ms in real ms reads it hundreds of times.
      expect(counter.reads).toBeLessThan(40);
      expect(counter.reads).toBeGreaterThan(0);
    } finally {
      await projector.stop();
    }
  });

  it('stops within its bound while a command it sent never answers', async () => {
    const eventStore = createInMemoryEventStore();
    const readStore = createInMemoryReadStore();
    const Hang = defineCommand('Hang', z.object({}));
    const bus = createCommandBus();
    let sent = 0;
    bus.register(Hang, () => {
      sent++;
      return new Promise(() => {});
    });
    const workflows = createWorkflows({
      commandBus: bus,
      eventStore,
      readStore,
      clock: () => T0,
      scheduler: { pollIntervalMs: 60_000, stopTimeoutMs: 100 },
    });
    const projector = createProjector({ eventStore, readStore, projections: workflows.projections, pollIntervalMs: 5 });
    await projector.start();
    await workflows.schedule(Hang, {}, { key: 'k-hang', at: T0 });
    await expect.poll(() => sent, { timeout: 5000 }).toBe(1);
    const stopped = projector.stop().then(() => 'stopped');
    expect(await Promise.race([stopped, pause(5000).then(() => 'still waiting')])).toBe('stopped');
  });
});
