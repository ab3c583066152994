// `npm run bench:http [-- --quick] [-- --duration 10] [-- --reads-only|--writes-only] [-- --cpu-prof]`: the Shop over a
// real socket under autocannon (32 connections, loopback): CreateOrder spread over many products and customers, then
// GetOrderStatus, through the Fastify plugin, then through chronicle-es/fetch on @hono/node-server and through the Nest
// module; each beside a bare-Fastify server doing the same SQL without Chronicle (bench/bare-server.ts), measured in the
// same run. One JSON line per workload (framework, baseline, ratio, targets), then a table.
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import type autocannon from 'autocannon';
import type { Principal } from 'chronicle-es';
import { createShop } from '../examples/shop/app.js';
import { seedShop } from '../examples/shop/seed.js';
import { ADMIN_KEY, CONNECTIONS, compare, inParallel, load, type Server, startServer, stop } from './http-servers.js';

const quick = process.argv.includes('--quick');
const durationArg = process.argv.indexOf('--duration');
const duration = durationArg === -1 ? (quick ? 4 : 10) : Number(process.argv[durationArg + 1]);
const PRODUCTS = 1000;
const CUSTOMERS = 2000;
const admin: Principal = { id: 'bench', roles: ['admin'] };
const profile = process.argv.includes('--cpu-prof');
// `--writes-only` stops after CreateOrder, e.g. to profile the write path alone.
const writesOnly = process.argv.includes('--writes-only');
// `--reads-only` skips CreateOrder: a quicker loop for the read path.
const readsOnly = process.argv.includes('--reads-only');
// GetOrderStatus reads these, placed through the command bus while seeding: every one exists, whatever CreateOrder did.
const SEEDED_ORDERS = 20_000;
const READ_PRODUCTS = 500;
// `--rounds N` (default 3, 1 with --quick): framework and baseline measured alternately N times; the line reports the
// median round of each (by requests/s), so drift in the machine's load touches both sides alike.
const roundsArg = process.argv.indexOf('--rounds');
const ROUNDS = roundsArg === -1 ? (quick ? 1 : 3) : Number(process.argv[roundsArg + 1]);

type Row = { name: string; requestsPerSec: number; baseline: number; ratio: number; p99Ms: number; errors: number; met: boolean };
const rows: Row[] = [];

async function seed(dataDir: string): Promise<void> {
  const shop = await createShop({ dataDir, role: 'write' });
  await seedShop(shop.commandBus);
  const send = (name: string, payload: unknown) => shop.commandBus.dispatch(name, payload, { principal: admin });
  await inParallel(PRODUCTS, async (i) => {
    const productId = `bench-p-${i}`;
    await send('CreateProduct', {
      productId,
      sku: `BENCH-${i}`,
      name: `Bench item ${i}`,
      priceCents: 100 + (i % 5000),
      currency: 'EUR',
    });
    await send('RestockProduct', { productId, quantity: 1_000_000 });
  });
  await inParallel(CUSTOMERS, (i) =>
    send('RegisterCustomer', { customerId: `bench-c-${i}`, name: `Bench customer ${i}`, email: `bench-${i}@example.com` }),
  );
  // On products and customers of their own, so CreateOrder still meets streams as short as a fresh Shop's.
  await inParallel(READ_PRODUCTS, async (i) => {
    const productId = `read-p-${i}`;
    await send('CreateProduct', { productId, sku: `READ-${i}`, name: `Read item ${i}`, priceCents: 100 + i, currency: 'EUR' });
    await send('RestockProduct', { productId, quantity: 1_000_000 });
    await send('RegisterCustomer', { customerId: `read-c-${i}`, name: `Read customer ${i}`, email: `read-${i}@example.com` });
  });
  await inParallel(SEEDED_ORDERS, (n) =>
    send('CreateOrder', {
      orderId: `seeded-${n}`,
      customerId: `read-c-${n % READ_PRODUCTS}`,
      lines: Array.from({ length: 1 + (n % 3) }, (_, k) => ({
        productId: `read-p-${(n + k * 37) % READ_PRODUCTS}`,
        quantity: 1,
      })),
    }),
  );
  await shop.close();
}

function orderBody(prefix: string, n: number) {
  const lines = 1 + (n % 3);
  const first = Math.floor(Math.random() * PRODUCTS);
  return {
    orderId: `${prefix}-${n}`,
    customerId: `bench-c-${Math.floor(Math.random() * CUSTOMERS)}`,
    // Distinct products per order, scattered so concurrent orders rarely meet on one product stream.
    lines: Array.from({ length: lines }, (_, k) => ({ productId: `bench-p-${(first + k * 337) % PRODUCTS}`, quantity: 1 })),
  };
}

const startShop = (dataDir: string) =>
  startServer(
    'examples/shop/main.ts',
    {
      DATA_DIR: dataDir,
      SHOP_API_KEYS: `${ADMIN_KEY}:admin`,
      // Per-dispatch info logs would measure pino, not the Shop; warnings and errors still print.
      LOG_LEVEL: 'warn',
      NODE_ENV: 'production',
    },
    { cpuProf: profile },
  );

const startBare = (mode: 'read' | 'write', db: string) =>
  startServer('bench/bare-server.ts', { BARE_MODE: mode, BARE_DB: db }, { cpuProf: profile });

type Side = { server: Server; setupRequest: autocannon.Request['setupRequest'] };

/** Each side's median of ROUNDS alternating rounds (after a warm-up), `framework` being the subject. */
function compareSides(method: 'GET' | 'POST', framework: Side, baseline: Side) {
  const round = (side: Side) => (seconds: number) =>
    load(side.server, seconds, {
      method,
      headers: { 'content-type': 'application/json', 'x-api-key': ADMIN_KEY },
      setupRequest: side.setupRequest,
    });
  return compare({ subject: round(framework), baseline: round(baseline) }, ROUNDS, duration, quick ? 1 : 2);
}

/**
 * Prints one workload's line: the framework's figures, the bare baseline's, their ratio and whether the targets hold
 * (`minRatio` of the baseline, p99 under `maxP99Ms`, no errors and no non-2xx answers).
 */
function report(
  name: string,
  { subject: framework, baseline, rounds }: Awaited<ReturnType<typeof compare>>,
  minRatio: number,
  maxP99Ms: number,
): void {
  const ratio = +(framework.requestsPerSec / baseline.requestsPerSec).toFixed(3);
  const met = ratio >= minRatio && framework.p99Ms < maxP99Ms && framework.errors === 0 && framework.non2xx === 0;
  const line = {
    name,
    requestsPerSec: framework.requestsPerSec,
    baselineRequestsPerSec: baseline.requestsPerSec,
    ratio,
    p50Ms: framework.p50Ms,
    p99Ms: framework.p99Ms,
    errors: framework.errors,
    non2xx: framework.non2xx,
    target: `≥ ${minRatio}× baseline, p99 < ${maxP99Ms} ms, zero errors`,
    met,
    cpuUsPerRequest: framework.cpuUsPerRequest,
    // Baseline CPU per request over the framework's: the throughput ratio the framework would reach if CPU-bound alone.
    cpuRatio:
      framework.cpuUsPerRequest && baseline.cpuUsPerRequest
        ? +(baseline.cpuUsPerRequest / framework.cpuUsPerRequest).toFixed(3)
        : undefined,
    baseline: {
      p50Ms: baseline.p50Ms,
      p99Ms: baseline.p99Ms,
      errors: baseline.errors,
      non2xx: baseline.non2xx,
      cpuUsPerRequest: baseline.cpuUsPerRequest,
    },
    // [framework, baseline] requests/s of every round; the figures above are each side's median round.
    rounds,
    connections: CONNECTIONS,
    seconds: duration,
    total: framework.total,
    loadAverage: +loadavg()[0].toFixed(2),
  };
  rows.push({
    name,
    requestsPerSec: line.requestsPerSec,
    baseline: baseline.requestsPerSec,
    ratio,
    p99Ms: line.p99Ms,
    errors: line.errors,
    met,
  });
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

/** Resolves once the read side has passed one more write, landed after everything written so far. */
async function caughtUp(shop: Server): Promise<void> {
  const marker = await fetch(`${shop.url}/commands/RestockProduct`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': ADMIN_KEY },
    body: JSON.stringify({ productId: 'bench-p-0', quantity: 1 }),
  });
  const { position } = (await marker.json()) as { position: number };
  const read = await fetch(`${shop.url}/queries/GetOrderStatus?orderId=seeded-0&minPosition=${position}`, {
    headers: { 'x-api-key': ADMIN_KEY, 'chronicle-wait-ms': '60000' },
  });
  if (read.status !== 200) throw new Error(`read side did not catch up: ${read.status}`);
}

class Done extends Error {}

const dataDir = mkdtempSync(join(tmpdir(), 'shop-bench-'));
const servers: Server[] = [];
const started = async (server: Promise<Server>) => {
  const s = await server;
  servers.push(s);
  return s;
};
try {
  await seed(dataDir);
  const counters = new Map<string, number>();
  const createOrder =
    (prefix: string): autocannon.Request['setupRequest'] =>
    (request) => {
      const n = counters.get(prefix) ?? 0;
      counters.set(prefix, n + 1);
      return { ...request, path: '/commands/CreateOrder', body: JSON.stringify(orderBody(prefix, n)) };
    };

  const shop = await started(startShop(dataDir));
  // The projector first catches up with the seeded orders; measuring meanwhile would charge that work to CreateOrder.
  await caughtUp(shop);
  if (!readsOnly) {
    // The bare write baseline commits to a file of its own; whichever server is not measured idles meanwhile
    // (the Shop's projector polls every 200 ms).
    const bare = await started(startBare('write', join(dataDir, 'bare-orders.db')));
    const compared = await compareSides(
      'POST',
      { server: shop, setupRequest: createOrder('order') },
      { server: bare, setupRequest: createOrder('bare') },
    );
    await stop(bare);
    report('CreateOrder', compared, 1.3, 25);
    if (writesOnly) throw new Done();
  }

  await caughtUp(shop);

  const readOrder: autocannon.Request['setupRequest'] = (request) => ({
    ...request,
    path: `/queries/GetOrderStatus?orderId=seeded-${Math.floor(Math.random() * SEEDED_ORDERS)}`,
  });
  // The baseline reads the Shop's own read-store file (WAL: a second reader process is fine) with the same order ids.
  const bare = await started(startBare('read', join(dataDir, 'read.db')));
  report(
    'GetOrderStatus',
    await compareSides('GET', { server: shop, setupRequest: readOrder }, { server: bare, setupRequest: readOrder }),
    0.8,
    25,
  );
  // The same reads through the other adapters (issue 14), each beside the same bare baseline, measured again in its
  // turn: a read-role Shop on chronicle-es/fetch under @hono/node-server, then examples/nest's module on express.
  for (const [name, script] of [
    ['GetOrderStatus (fetch, @hono/node-server)', 'bench/shop-fetch-server.ts'],
    ['GetOrderStatus (Nest, express)', 'bench/shop-nest-server.ts'],
  ] as const) {
    const adapter = await started(startServer(script, { DATA_DIR: dataDir }, { cpuProf: profile }));
    report(
      name,
      await compareSides('GET', { server: adapter, setupRequest: readOrder }, { server: bare, setupRequest: readOrder }),
      0.8,
      25,
    );
    await stop(adapter);
  }

  console.log(
    `(${PRODUCTS} products, ${CUSTOMERS} customers seeded; ${CONNECTIONS} connections; servers and load generator share this machine)`,
  );
} catch (err) {
  if (!(err instanceof Done)) throw err;
} finally {
  console.table(rows);
  for (const server of servers) await stop(server);
  rmSync(dataDir, { recursive: true, force: true });
}
