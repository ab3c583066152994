// Child process of workflows-schedule-postgres.int.test.ts: one projector worker with its own workflows on the shared
// PostgreSQL event store and read store (with leases). Its Bump effects name it, and every 50 ms it says whether it
// holds the scheduler's projection (`held 1`) or not (`held 0`), until the parent kills it.
import { createProjector, createWorkflows, SCHEDULER_PROJECTION } from 'chronicle-es';
import { createPostgresEventStore, createPostgresReadStore } from 'chronicle-es/postgres';
import { scheduleCommands } from './support/workflows-schedule-kit.js';

const [url, eventsSchema, readSchema, worker] = process.argv.slice(2);
const eventStore = createPostgresEventStore({ connectionString: url, schema: eventsSchema, poolSize: 6 });
const readStore = createPostgresReadStore({ connectionString: url, schema: readSchema, poolSize: 4 });
const { bus } = scheduleCommands(eventStore, { worker });
const workflows = createWorkflows({ commandBus: bus, eventStore, readStore, scheduler: { pollIntervalMs: 50 } });
const projector = createProjector({
  eventStore,
  readStore,
  projections: workflows.projections,
  pollIntervalMs: 20,
  worker: { id: worker, leaseTtlMs: 1000 },
});
await projector.start();
setInterval(async () => {
  const status = (await projector.status()).find((s) => s.name === SCHEDULER_PROJECTION);
  process.stdout.write(`held ${status?.held ? 1 : 0}\n`);
}, 50);
