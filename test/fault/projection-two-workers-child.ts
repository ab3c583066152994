// Child process of projection-two-workers.int.test.ts: one of two projectors sharing an event-store file and a
// read-store file. It waits for "go" on stdin so both start together, counts applications per event, and
// reports its final status on stdout. VERSION above the stored one makes both rebuild together.
import { createInterface } from 'node:readline';
import { createProjector, defineProjection } from 'chronicle-es';
import { createSqliteEventStore, createSqliteReadStore, type SqliteReadTx } from 'chronicle-es/sqlite';

const [eventsPath, readPath] = process.argv.slice(2);
const throttleUs = Number(process.env.THROTTLE_US ?? 0);
const version = Number(process.env.VERSION ?? 1);

const spin = (us: number) => {
  const until = process.hrtime.bigint() + BigInt(us) * 1000n;
  while (process.hrtime.bigint() < until) {}
};

const counter = defineProjection<SqliteReadTx>({
  name: 'counter',
  version,
  setup: (tx) =>
    tx.run(
      `CREATE TABLE ${tx.table('applied')} (position INTEGER PRIMARY KEY, applied INTEGER NOT NULL, worker INTEGER NOT NULL)`,
    ),
  handlers: {
    Counted: (event, tx) => {
      if (throttleUs > 0) spin(throttleUs);
      tx.run(
        `INSERT INTO ${tx.table('applied')} (position, applied, worker) VALUES (?, 1, ?)
         ON CONFLICT (position) DO UPDATE SET applied = applied + 1`,
        [event.position, process.pid],
      );
    },
  },
});

const eventStore = createSqliteEventStore({ path: eventsPath });
const readStore = createSqliteReadStore({ path: readPath, busyTimeoutMs: 30_000 });
const projector = createProjector({ eventStore, readStore, projections: [counter], batchSize: 100, pollIntervalMs: 20 });

const lines = createInterface({ input: process.stdin });
process.stdout.write('ready\n');
for await (const line of lines) if (line === 'go') break;
lines.close();

await projector.start();
const head = await eventStore.headPosition();
await projector.waitForPosition(head, { timeoutMs: 120_000 });
// The old generation serves the head while a rebuild runs: wait for the swap, by either worker.
let [status] = await projector.status();
for (const until = Date.now() + 120_000; (status.version < version || status.state !== 'live') && Date.now() < until; ) {
  await new Promise((r) => setTimeout(r, 20));
  [status] = await projector.status();
}
await projector.stop();
await readStore.close();
await eventStore.close();
process.stdout.write(`done ${head} ${status.position} ${status.state} v${status.version}\n`);
