// A process manager wired the way applications wire it, through createWorkflows with the real scheduler: what its
// steps schedule fires when the (hand-moved) clock gets there, and what they cancel never does.
import { afterEach, describe, expect, it } from 'vitest';
import { createInMemoryEventStore } from '../in-memory-event-store.js';
import { createInMemoryReadStore } from '../projections/in-memory-read-store.js';
import { createProjector, type Projector } from '../projections/projector.js';
import { createWorkflows } from './create-workflows.js';
import { expiryKey, orderCommands, orderProcess } from './fixtures/process-orders.js';

const T0 = Date.parse('2031-06-01T08:00:00.000Z');
const projectors: Projector[] = [];
afterEach(async () => {
  await Promise.all(projectors.splice(0).map((p) => p.stop()));
});

async function world() {
  let now = T0;
  const eventStore = createInMemoryEventStore();
  const readStore = createInMemoryReadStore();
  const { bus, sent } = orderCommands(eventStore);
  const workflows = createWorkflows({
    commandBus: bus,
    eventStore,
    readStore,
    processManagers: [orderProcess()],
    clock: () => now,
    // Rounds only when the test asks (fireDue), not on their own.
    scheduler: { pollIntervalMs: 60_000 },
  });
  const projector = createProjector({ eventStore, readStore, projections: workflows.projections, pollIntervalMs: 5 });
  projectors.push(projector);
  await projector.start();
  // Until every projection passed the head and the head stayed put: the process's own sends move it.
  const settle = async () => {
    for (let head = -1; head !== (await eventStore.headPosition()); ) {
      head = await eventStore.headPosition();
      await projector.waitForPosition(head, { timeoutMs: 5000 });
    }
  };
  return {
    eventStore,
    workflows,
    sent,
    settle,
    moveTo(ms: number) {
      now = T0 + ms;
    },
    place: (orderId: string) => eventStore.append(`order-${orderId}`, [{ type: 'OrderPlaced', data: { orderId, amount: 1 } }]),
    pay: (orderId: string) => eventStore.append(`order-${orderId}`, [{ type: 'OrderPaid', data: { orderId } }]),
    expired: async () => (await eventStore.readAll({ filter: { types: ['OrderExpired'] } })).map((e) => e.data),
  };
}

describe('process managers through createWorkflows', () => {
  it('fires what a step scheduled once the clock reaches it, and never what a later step cancelled', async () => {
    const w = await world();
    await w.place('unpaid');
    await w.place('paid');
    await w.settle();
    expect(w.sent.map((s) => s.type)).toEqual(['ReserveStock', 'ReserveStock']);
    expect(await w.workflows.status()).toMatchObject({ schedules: { pending: 2, overdue: 0 } });
    await w.pay('paid');
    await w.settle();
    expect(await w.workflows.status()).toMatchObject({ schedules: { pending: 1 } });

    // Not due yet: nothing fires.
    w.moveTo(59_000);
    expect(await w.workflows.fireDue()).toBe(0);
    w.moveTo(61_000);
    await w.settle();
    expect(await w.workflows.fireDue()).toBe(1);
    await w.settle();
    expect(await w.expired()).toEqual([{ orderId: 'unpaid' }]);
    // The scheduled command went through the same bus, as the workflows principal, under a key of its own.
    const fired = w.sent.find((s) => s.type === 'ExpireOrder')!;
    expect(fired.context.principal?.id).toBe('chronicle-workflows');
    expect(fired.context.idempotencyKey).toContain(expiryKey('unpaid'));
    expect(await w.workflows.fireDue()).toBe(0);
    expect(await w.workflows.status()).toMatchObject({ schedules: { pending: 0 } });
  });
});
