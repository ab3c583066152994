// `npm run bench:http [-- --quick] [-- --duration 10]`: the Shop over a real socket under autocannon (32 connections,
// loopback): CreateOrder spread over many products and customers, then GetOrderStatus. One JSON line per workload, then a table.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import type { Principal } from 'chronicle-es';
import { createShop } from '../examples/shop/app.js';
import { seedShop } from '../examples/shop/seed.js';

const quick = process.argv.includes('--quick');
const durationArg = process.argv.indexOf('--duration');
const duration = durationArg === -1 ? (quick ? 4 : 10) : Number(process.argv[durationArg + 1]);
const CONNECTIONS = 32;
const PRODUCTS = 1000;
const CUSTOMERS = 2000;
const ADMIN_KEY = 'bench-admin-key-0123456789';
const admin: Principal = { id: 'bench', roles: ['admin'] };
const profile = process.argv.includes('--cpu-prof');
// `--writes-only` stops after CreateOrder, e.g. to profile the write path alone.
const writesOnly = process.argv.includes('--writes-only');

type Row = { name: string; requestsPerSec: number; p50Ms: number; p99Ms: number; errors: number; non2xx: number; target: string };
const rows: Row[] = [];

async function seed(dataDir: string): Promise<void> {
  const shop = await createShop({ dataDir, role: 'write' });
  await seedShop(shop.commandBus);
  const send = (name: string, payload: unknown) => shop.commandBus.dispatch(name, payload, { principal: admin });
  const inParallel = async (count: number, each: (i: number) => Promise<unknown>) => {
    let next = 0;
    await Promise.all(
      Array.from({ length: 64 }, async () => {
        for (let i = next++; i < count; i = next++) await each(i);
      }),
    );
  };
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
  await shop.close();
}

async function freePort(): Promise<number> {
  const probe = createNetServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

async function startServer(dataDir: string): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [
      '--conditions=chronicle-source',
      '--import',
      'tsx',
      ...(profile ? ['--cpu-prof', `--cpu-prof-dir=${process.env.CPU_PROF_DIR ?? process.cwd()}`] : []),
      'examples/shop/main.ts',
    ],
    {
      // Per-dispatch info logs would measure pino, not the Shop; warnings and errors still print.
      env: {
        ...process.env,
        PORT: String(port),
        DATA_DIR: dataDir,
        SHOP_API_KEYS: `${ADMIN_KEY}:admin`,
        LOG_LEVEL: 'warn',
        NODE_ENV: 'production',
      },
      stdio: ['ignore', 'inherit', 'inherit'],
    },
  );
  const url = `http://127.0.0.1:${port}`;
  for (const started = Date.now(); ; ) {
    if (child.exitCode !== null) throw new Error(`shop exited with ${child.exitCode}`);
    const health = await fetch(`${url}/health`).then(
      (r) => r.status,
      () => 0,
    );
    if (health === 200) return { url, child };
    if (Date.now() - started > 30_000) throw new Error('shop did not become healthy in 30 s');
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function run(
  name: string,
  target: string,
  options: { url: string; seconds: number; method: 'GET' | 'POST'; setupRequest: autocannon.Request['setupRequest'] },
  record = true,
) {
  const result = await autocannon({
    url: options.url,
    connections: CONNECTIONS,
    duration: options.seconds,
    requests: [
      {
        method: options.method,
        headers: { 'content-type': 'application/json', 'x-api-key': ADMIN_KEY },
        setupRequest: options.setupRequest,
      },
    ],
  });
  if (!record) return result;
  const row: Row = {
    name,
    requestsPerSec: Math.round(result.requests.average),
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    errors: result.errors,
    non2xx: result.non2xx,
    target,
  };
  rows.push(row);
  process.stdout.write(
    `${JSON.stringify({ ...row, connections: CONNECTIONS, seconds: options.seconds, total: result.requests.total })}\n`,
  );
  return result;
}

class Done extends Error {}

const dataDir = mkdtempSync(join(tmpdir(), 'shop-bench-'));
let server: { url: string; child: ChildProcess } | undefined;
try {
  await seed(dataDir);
  server = await startServer(dataDir);
  const { url } = server;

  const counters = new Map<string, number>();
  const createOrder =
    (prefix: string): autocannon.Request['setupRequest'] =>
    (request) => {
      const n = counters.get(prefix) ?? 0;
      counters.set(prefix, n + 1);
      const lines = 1 + (n % 3);
      const first = Math.floor(Math.random() * PRODUCTS);
      return {
        ...request,
        path: '/commands/CreateOrder',
        body: JSON.stringify({
          orderId: `${prefix}-${n}`,
          customerId: `bench-c-${Math.floor(Math.random() * CUSTOMERS)}`,
          // Distinct products per order, scattered so concurrent orders rarely meet on one product stream.
          lines: Array.from({ length: lines }, (_, k) => ({ productId: `bench-p-${(first + k * 337) % PRODUCTS}`, quantity: 1 })),
        }),
      };
    };

  await run('warm-up', '', { url, seconds: quick ? 1 : 2, method: 'POST', setupRequest: createOrder('warm') }, false);
  await run('CreateOrder', '≥ 4,000/s, zero errors', {
    url,
    seconds: duration,
    method: 'POST',
    setupRequest: createOrder('order'),
  });
  if (writesOnly) throw new Done();
  // Requests still in flight when autocannon stopped may not have landed: read only well below the last id.
  const readable = Math.max(1, (counters.get('order') ?? 0) - 4 * CONNECTIONS);

  // One more write lands after every order; once the orders projection has passed it, all of them are readable.
  const marker = await fetch(`${url}/commands/RestockProduct`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': ADMIN_KEY },
    body: JSON.stringify({ productId: 'bench-p-0', quantity: 1 }),
  });
  const { position } = (await marker.json()) as { position: number };
  const caughtUp = await fetch(`${url}/queries/GetOrderStatus?orderId=order-0&minPosition=${position}`, {
    headers: { 'x-api-key': ADMIN_KEY, 'chronicle-wait-ms': '60000' },
  });
  if (caughtUp.status !== 200) throw new Error(`read side did not catch up: ${caughtUp.status}`);

  const readOrder: autocannon.Request['setupRequest'] = (request) => ({
    ...request,
    path: `/queries/GetOrderStatus?orderId=order-${Math.floor(Math.random() * readable)}`,
  });
  await run('warm-up', '', { url, seconds: 1, method: 'GET', setupRequest: readOrder }, false);
  await run('GetOrderStatus', '≥ 10,000/s, p99 < 25 ms, zero errors', {
    url,
    seconds: duration,
    method: 'GET',
    setupRequest: readOrder,
  });

  console.log(
    `(${PRODUCTS} products, ${CUSTOMERS} customers seeded; ${CONNECTIONS} connections; server and load generator share this machine)`,
  );
} catch (err) {
  if (!(err instanceof Done)) throw err;
} finally {
  console.table(rows);
  if (server) {
    const exited = new Promise((resolve) => server!.child.once('exit', resolve));
    server.child.kill('SIGTERM');
    await exited;
  }
  rmSync(dataDir, { recursive: true, force: true });
}
