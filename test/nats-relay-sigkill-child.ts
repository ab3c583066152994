// Child process of nats-relay-sigkill.int.test.ts: relays a SQLite event store file into a JetStream stream, its
// checkpoint in a SQLite read store file, printing `progress <position> <published> <state>` every 20 ms until killed.

import { connect } from '@nats-io/transport-node';
import { storeCheckpoint } from 'chronicle-es';
import { createJetStreamRelay } from 'chronicle-es/nats';
import { createSqliteEventStore, createSqliteReadStore } from 'chronicle-es/sqlite';

const [eventsPath, checkpointPath, natsUrl, stream, subjectPrefix] = process.argv.slice(2);

const nats = await connect({ servers: natsUrl, reconnect: true, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
const eventStore = createSqliteEventStore({ path: eventsPath });
const readStore = createSqliteReadStore({ path: checkpointPath });
const relay = createJetStreamRelay({
  eventStore,
  nats,
  stream,
  subjectPrefix,
  checkpoint: storeCheckpoint({ store: readStore, name: 'relay' }),
  // Small batches and window, and a short poll: a kill lands mid-batch, between publishes and their acks.
  batchSize: 100,
  maxInFlight: 16,
  pollIntervalMs: 10,
});
await relay.start();
process.stdout.write('started\n');
setInterval(async () => {
  const s = await relay.status();
  process.stdout.write(`progress ${s.position} ${s.published} ${s.state}\n`);
}, 20);
