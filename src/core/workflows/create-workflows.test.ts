import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { scheduleCommands } from '../../../test/support/workflows-schedule-kit.js';
import { createInMemoryEventStore } from '../in-memory-event-store.js';
import { defineEvent } from '../messages.js';
import { defineProjection } from '../projections/define-projection.js';
import { createInMemoryReadStore } from '../projections/in-memory-read-store.js';
import { createWorkflows, type WorkflowsOptions } from './create-workflows.js';
import { defineProcessManager } from './define-process-manager.js';
import { SCHEDULER_PROJECTION } from './schedule-table.js';

const Placed = defineEvent('Placed', z.object({ id: z.string() }));
const pm = (name: string) =>
  defineProcessManager<unknown, typeof Placed>({ name, version: 1, events: [Placed], handlers: { Placed: () => undefined } });

function base(): WorkflowsOptions {
  const eventStore = createInMemoryEventStore();
  return { commandBus: scheduleCommands(eventStore).bus, eventStore, readStore: createInMemoryReadStore() };
}

describe('createWorkflows', () => {
  it('takes good options, with or without the scheduler', () => {
    expect(createWorkflows({ ...base(), processManagers: [pm('orders')] }).projections).toHaveLength(2);
    expect(createWorkflows({ ...base(), processManagers: [pm('orders')], scheduler: false }).projections).toHaveLength(1);
  });

  it('refuses bad options with INVALID_ARGUMENT naming what is wrong, with or without the scheduler', () => {
    const projection = defineProjection({ name: 'plain', version: 1, handlers: { Placed: () => {} } });
    const cases: [string, Partial<Record<keyof WorkflowsOptions, unknown>>, RegExp][] = [
      ['a missing process manager', { processManagers: [undefined] }, /process manager/],
      ['process managers not in an array', { processManagers: 'orders' }, /processManagers/],
      ['a projection given as a process manager', { processManagers: [projection] }, /defineProcessManager/],
      ['a process manager named as the scheduler', { processManagers: [pm(SCHEDULER_PROJECTION)] }, /scheduler/],
      ['two process managers with one name', { processManagers: [pm('twice'), pm('twice')] }, /twice/],
      ['a clock that is not a function', { clock: 'now' }, /clock/],
      ['a principal without an id', { principal: {} }, /principal/],
      ['a principal without roles', { principal: { id: 'p' } }, /principal/],
      ['a command bus that is not one', { commandBus: {} }, /commandBus/],
      ['an event store that is not one', { eventStore: {} }, /eventStore/],
      ['a read store that is not one', { readStore: {} }, /readStore/],
    ];
    for (const [what, bad, message] of cases) {
      for (const scheduler of [undefined, false] as const) {
        const options = { ...base(), ...(scheduler === false && { scheduler }), ...bad } as WorkflowsOptions;
        expect(() => createWorkflows(options), `${what}, scheduler ${scheduler}`).toThrow(
          expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(message) }),
        );
      }
    }
    for (const options of [undefined, null, 'x']) {
      expect(() => createWorkflows(options as never)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    }
    expect(() => createWorkflows({ ...base(), scheduler: 'fast' as never })).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    );
  });
});
