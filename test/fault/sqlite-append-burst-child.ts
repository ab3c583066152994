// Child process of sqlite-append-sigkill.int.test.ts: keeps 64 appends in flight until killed, printing each ack.
import { createSqliteEventStore } from 'chronicle-es/sqlite';

const path = process.argv[2];
if (!path) throw new Error('usage: sqlite-append-burst-child.ts <database file>');
const store = createSqliteEventStore({ path });
let next = 0;

async function worker(): Promise<never> {
  for (;;) {
    const n = next++;
    const count = n % 5 === 0 ? 3 : 1;
    const key = n % 3 === 0 ? `burst-key-${n}` : undefined;
    const events = Array.from({ length: count }, (_, i) => ({ type: 'Burst', data: { n, i } }));
    const r = await store.append(`burst-${n % 37}`, events, { idempotencyKey: key });
    // A pipe write is synchronous on Linux, so an ack the parent reads was printed after the append was durable.
    process.stdout.write(`ack ${r.streamId} ${r.version} ${r.position} ${count} ${key ?? '-'}\n`);
  }
}

for (let i = 0; i < 64; i++) {
  worker().catch((err) => {
    process.stderr.write(`append failed: ${err?.stack ?? err}\n`);
    process.exit(1);
  });
}
