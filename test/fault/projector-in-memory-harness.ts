// The lease scenarios' harness for the in-memory read store: one store object shared by the "workers", as one
// database is by processes.
import {
  createInMemoryEventStore,
  createInMemoryReadStore,
  defineProjection,
  type InMemoryReadStore,
  type InMemoryReadTx,
  type ProjectionStore,
} from 'chronicle-es';
import type { Applied, LeaseScenarioHarness } from './projector-lease-scenarios.js';

export function inMemoryHarness(): LeaseScenarioHarness<InMemoryReadTx> {
  const shared: InMemoryReadStore = createInMemoryReadStore({ leases: true });
  return {
    eventStore: createInMemoryEventStore(),
    openReadStore: () => shared,
    projection: (name, worker, hold) =>
      defineProjection<InMemoryReadTx>({
        name,
        version: 1,
        handlers: {
          Added: async (event, tx) => {
            await hold?.(event);
            const applied = tx.table<Applied>('applied');
            applied.set(event.id, { count: (applied.get(event.id)?.count ?? 0) + 1, worker });
          },
        },
      }),
    applied: async (store: ProjectionStore<InMemoryReadTx, unknown>, name) =>
      new Map((store as InMemoryReadStore).reader(name).table<Applied>('applied')),
  };
}
