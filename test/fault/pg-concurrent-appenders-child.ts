// Child process of pg-concurrent-appenders.int.test.ts: runs appenders against one store for a while, printing every
// acknowledged write as `ack <streamId> <version> <count>`, then `done`.
import { runAppenders } from './pg-appenders.js';

const [connectionString, schema, writers, durationMs] = process.argv.slice(2);
if (!durationMs) throw new Error('usage: pg-concurrent-appenders-child.ts <url> <schema> <writers> <ms>');
const { createPostgresEventStore } = await import('chronicle-es/postgres');
const store = createPostgresEventStore({ connectionString, schema, poolSize: 3 });
try {
  await runAppenders(store, `child${process.pid}`, Number(writers), Number(durationMs), (streamId, version, count) => {
    process.stdout.write(`ack ${streamId} ${version} ${count}\n`);
  });
  process.stdout.write('done\n');
} finally {
  await store.close();
}
