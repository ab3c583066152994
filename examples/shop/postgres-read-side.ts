// The Shop's read side on PostgreSQL: the read store and this process's projector worker. With several workers on one
// store, each projection is held by one of them at a time through a lease (see the README's Roles).
import { createProjector, type EventSource, type Projection, type Projector } from 'chronicle-es';
import { createPostgresReadStore } from 'chronicle-es/postgres';
import type { PostgresLocation, ShopReadStore } from './app.js';
import { projections } from './projections/index.js';
import type { ReadSide } from './read-side.js';

export type PostgresReadSideOptions = {
  /** The event store, or a reader of its log elsewhere (a JetStream source). */
  eventStore: EventSource;
  location: PostgresLocation;
  pollIntervalMs?: number;
  /** The worker's id in leases and status; default: one the projector makes up. */
  workerId?: string;
  /** More projections made over the read store once open: the workflows' (see read-side.ts). */
  workflowProjections?: (readStore: ShopReadStore) => readonly Projection<any>[];
};

/** Opens the read store and starts the worker. @throws STORE_ERROR when the server cannot be reached */
export async function openPostgresReadSide(options: PostgresReadSideOptions): Promise<ReadSide> {
  const readStore = createPostgresReadStore(options.location);
  let projector: Projector | undefined;
  try {
    projector = createProjector({
      eventStore: options.eventStore,
      readStore,
      projections: [...projections, ...(options.workflowProjections?.(readStore) ?? [])],
      pollIntervalMs: options.pollIntervalMs,
      worker: { id: options.workerId },
    });
    // Reached now, so a wrong URL stops startup instead of failing every projection later.
    await readStore.list();
    await projector.start();
  } catch (err) {
    await projector?.stop().catch(() => {});
    await readStore.close();
    throw err;
  }
  const started = projector;
  return {
    readStore,
    projector: started,
    reader: (projection) => readStore.reader(projection),
    state: () => 'sound',
    async ready() {
      const status = await started.status();
      return status.every((p) => p.state !== 'failed' && p.state !== 'stopped');
    },
    async close() {
      await started.stop();
      await readStore.close();
    },
  };
}
