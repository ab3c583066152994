// A child of sqlite-lifecycle.int.test.ts on the shared file. `append <stream>`: appends one event at a time until
// refused, printing `ack <version>` after each and `refused <tombstoned>` at the end. `archive <stream> <events>`:
// writes a closed stream of that many events, prints `ready`, archives it and prints `archived <moved>`.
import { isChronicleError } from 'chronicle-es';
import { createSqliteEventStore } from 'chronicle-es/sqlite';

const [path, mode, streamId, count] = process.argv.slice(2);
const store = createSqliteEventStore({ path });

if (mode === 'append') {
  for (let n = 1; ; n++) {
    try {
      const result = await store.append(streamId, [{ type: 'Lived', data: { n, pid: process.pid } }]);
      process.stdout.write(`ack ${result.version}\n`);
    } catch (error) {
      if (!isChronicleError(error, 'STREAM_DELETED')) throw error;
      process.stdout.write(`refused ${(error.details as { tombstoned?: boolean }).tombstoned === true}\n`);
      break;
    }
  }
} else if (mode === 'archive') {
  const events = Array.from({ length: Number(count) }, (_, n) => ({ type: 'Lived', data: { n } }));
  for (let i = 0; i < events.length; i += 500) await store.append(streamId, events.slice(i, i + 500));
  await store.deleteStream(streamId);
  process.stdout.write('ready\n');
  const { archived } = await store.lifecycle.archive(streamId);
  process.stdout.write(`archived ${archived}\n`);
}
await store.close();
