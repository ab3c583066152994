// Child process of nats-source-sigkill.int.test.ts: a read side with no event store, fed by the JetStream source,
// projecting into a SQLite read-store file; prints `progress <position>` after each committed batch and `done` once at
// `head`. THROTTLE_US slows each event so a parent's SIGKILL lands mid-run, usually inside an open batch.
import { connect } from '@nats-io/transport-node';
import { createProjector } from 'chronicle-es';
import { createJetStreamSource } from 'chronicle-es/nats';
import { createSqliteReadStore } from 'chronicle-es/sqlite';
import { countingSqlite } from './nats-source-fixture.js';

const [url, stream, durable, readPath, head] = process.argv.slice(2);
const throttleUs = Number(process.env.THROTTLE_US ?? 0);

const spin = () => {
  const until = process.hrtime.bigint() + BigInt(throttleUs) * 1000n;
  while (process.hrtime.bigint() < until) {}
};

const nats = await connect({ servers: url });
const source = createJetStreamSource({ nats, stream, durable, maxAckPending: 2000 });
const readStore = createSqliteReadStore({ path: readPath });
const projector = createProjector({
  eventStore: source,
  readStore,
  projections: [
    countingSqlite('all', { gate: throttleUs > 0 ? spin : undefined }),
    countingSqlite('orders', { types: ['OrderPlaced'] }),
  ],
  batchSize: 100,
});
projector.onChange(({ projection, position }) => {
  if (projection === 'all') process.stdout.write(`progress ${position}\n`);
});
await projector.start();
await projector.waitForPosition(Number(head), { timeoutMs: 120_000 });
await projector.stop();
process.stdout.write(`status ${JSON.stringify(source.status())}\n`);
await source.close();
await readStore.close();
await nats.close();
process.stdout.write('done\n');
