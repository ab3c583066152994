// Child process of pg-dcb-processes.int.test.ts: buyers on one store, each reading a product's reservations and
// reserving one unit under the condition that nothing was reserved for it since the read, until the stock is gone.
// Prints `ready` once the store answers, waits for `go` on stdin, then prints `bought <product> <buyer>` per unit
// and `done <conflicts>`.
import { createInterface } from 'node:readline';
import { isChronicleError, Query } from 'chronicle-es';

const [connectionString, schema, label, buyersArg, productsArg, stockArg] = process.argv.slice(2);
if (!stockArg) throw new Error('usage: pg-dcb-buyer-child.ts <url> <schema> <label> <buyers> <products> <stock>');
const { createPostgresEventStore } = await import('chronicle-es/postgres');
const store = createPostgresEventStore({ connectionString, schema, poolSize: 2 });
const products = productsArg.split(',');
const stock = Number(stockArg);
let conflicts = 0;

async function buyer(b: number): Promise<void> {
  // Each buyer goes round the products, so every product sees buyers of every process.
  for (let k = 0; k < products.length; k++) {
    const product = products[(b + k) % products.length];
    for (;;) {
      const { events, head } = await store.read(Query.tags(product));
      if (events.length >= stock) break;
      try {
        await store.append(
          [{ streamId: `order-${label}-${b}-${product}`, type: 'UnitReserved', data: { label, b }, tags: [product] }],
          {
            condition: { failIfEventsMatch: Query.tags(product), after: head },
          },
        );
        process.stdout.write(`bought ${product} ${label}-${b}\n`);
        break;
      } catch (err) {
        if (!isChronicleError(err, 'CONCURRENCY_CONFLICT')) throw err;
        conflicts++;
      }
    }
  }
}

try {
  await store.headPosition();
  process.stdout.write('ready\n');
  const lines = createInterface({ input: process.stdin });
  for await (const line of lines) if (line === 'go') break;
  process.stdin.destroy();
  await Promise.all(Array.from({ length: Number(buyersArg) }, (_, b) => buyer(b)));
  process.stdout.write(`done ${conflicts}\n`);
} finally {
  await store.close();
}
