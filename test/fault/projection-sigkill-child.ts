// Child process of projection-sigkill.int.test.ts: projects an event-store file into a read-store file,
// counting applications per event, and reports progress on stdout. THROTTLE_US slows each event so a
// parent's SIGKILL lands mid-run (usually inside an open batch transaction).
import { createProjector, defineProjection } from 'chronicle-es';
import { createSqliteEventStore, createSqliteReadStore, type SqliteReadTx } from 'chronicle-es/sqlite';

const [eventsPath, readPath] = process.argv.slice(2);
const throttleUs = Number(process.env.THROTTLE_US ?? 0);

const spin = (us: number) => {
  const until = process.hrtime.bigint() + BigInt(us) * 1000n;
  while (process.hrtime.bigint() < until) {}
};

const counter = defineProjection<SqliteReadTx>({
  name: 'counter',
  version: 1,
  setup: (tx) =>
    tx.run(
      `CREATE TABLE ${tx.table('applied')} (position INTEGER PRIMARY KEY, event_id TEXT NOT NULL, applied INTEGER NOT NULL)`,
    ),
  handlers: {
    Counted: (event, tx) => {
      if (throttleUs > 0) spin(throttleUs);
      tx.run(
        `INSERT INTO ${tx.table('applied')} (position, event_id, applied) VALUES (?, ?, 1)
         ON CONFLICT (position) DO UPDATE SET applied = applied + 1`,
        [event.position, event.id],
      );
    },
  },
});

const eventStore = createSqliteEventStore({ path: eventsPath });
const readStore = createSqliteReadStore({ path: readPath });
const projector = createProjector({ eventStore, readStore, projections: [counter], batchSize: 100 });
projector.onChange(({ position }) => process.stdout.write(`progress ${position}\n`));
await projector.start();
const head = await eventStore.headPosition();
await projector.waitForPosition(head, { timeoutMs: 120_000 });
await projector.stop();
await readStore.close();
await eventStore.close();
process.stdout.write(`done ${head}\n`);
