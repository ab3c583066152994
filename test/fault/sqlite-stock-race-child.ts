// Child process of sqlite-stock-race.int.test.ts: `workers` loops of read → decide → conditional append on one product's
// stock, until the stock is gone. Prints `ready`, waits for `go` on stdin, prints `ack <position>` per reservation and
// `done <reserved> <conflicts>` at the end.
import { isChronicleError, type Query } from 'chronicle-es';
import { createSqliteEventStore } from 'chronicle-es/sqlite';

const [path, product, capText, workersText] = process.argv.slice(2);
if (!path || !product || !capText || !workersText) {
  throw new Error('usage: sqlite-stock-race-child.ts <database file> <product> <cap> <workers>');
}
const cap = Number(capText);
const store = createSqliteEventStore({ path });
const stock: Query = [{ types: ['StockReserved'], tags: [`product:${product}`] }];
let reserved = 0;
let conflicts = 0;
let orders = 0;

async function worker(): Promise<void> {
  for (;;) {
    const { events, head } = await store.read(stock);
    if (events.length >= cap) return;
    const order = `order-${process.pid}-${++orders}`;
    try {
      const [r] = await store.append(
        [{ streamId: order, type: 'StockReserved', data: { product, order }, tags: [`product:${product}`, `order:${order}`] }],
        { condition: { failIfEventsMatch: stock, after: head } },
      );
      reserved++;
      // A pipe write is synchronous on Linux: an ack the parent reads was printed after the append was durable.
      process.stdout.write(`ack ${r.position}\n`);
    } catch (err) {
      if (!isChronicleError(err, 'CONCURRENCY_CONFLICT')) throw err;
      conflicts++;
    }
  }
}

process.stdin.once('data', async () => {
  try {
    await Promise.all(Array.from({ length: Number(workersText) }, worker));
    await store.close();
    process.stdout.write(`done ${reserved} ${conflicts}\n`);
    process.exit(0);
  } catch (err) {
    process.stderr.write(`race child failed: ${(err as Error)?.stack ?? err}\n`);
    process.exit(1);
  }
});
process.stdout.write('ready\n');
