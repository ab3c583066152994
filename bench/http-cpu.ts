// `node --conditions=chronicle-source --import tsx bench/http-cpu.ts [--rounds 9] [--requests 20000]`: CPU time per
// GetOrderStatus request of the Shop's HTTP stack against the bare-Fastify baseline, both in this process through
// `app.inject()` (no sockets, no load generator), alternating rounds; prints one JSON line with each side's median
// and minimum µs per request. For A/B-testing a change on a shared machine, where other work moves requests/s a lot
// and CPU per request much less; `npm run bench:http` stays the end-to-end figure.
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { loggingMiddleware, type Principal } from 'chronicle-es';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { createShop } from '../examples/shop/app.js';
import { createShopAuth } from '../examples/shop/auth.js';
import { createShopServer } from '../examples/shop/server.js';
import { createBareApp } from './bare-server.js';

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(name);
  return i === -1 ? fallback : Number(process.argv[i + 1]);
};
const ROUNDS = arg('--rounds', 9);
const REQUESTS = arg('--requests', 20_000);
const IN_FLIGHT = 32;
const ORDERS = 2000;
const ADMIN_KEY = 'bench-admin-key-0123456789';
const admin: Principal = { id: 'bench', roles: ['admin'] };

const dataDir = mkdtempSync(join(tmpdir(), 'shop-cpu-'));
// As main.ts runs it for bench:http: pino at warn, the logging middleware, API keys, production mode.
const log = pino({ level: 'warn' });
const shop = await createShop({ dataDir, middleware: [loggingMiddleware(log.child({ component: 'bus' }))] });
let bare: FastifyInstance | undefined;
let server: FastifyInstance | undefined;
try {
  const send = (name: string, payload: unknown) => shop.commandBus.dispatch(name, payload, { principal: admin });
  for (let i = 0; i < 100; i++) {
    await send('CreateProduct', {
      productId: `p-${i}`,
      sku: `SKU-${i}`,
      name: `Item ${i}`,
      priceCents: 100 + i,
      currency: 'EUR',
    });
    await send('RestockProduct', { productId: `p-${i}`, quantity: 1_000_000 });
    await send('RegisterCustomer', { customerId: `c-${i}`, name: `Customer ${i}`, email: `c-${i}@example.com` });
  }
  let position = 0;
  for (let n = 0; n < ORDERS; n++) {
    const lines = Array.from({ length: 1 + (n % 3) }, (_, k) => ({ productId: `p-${(n + k * 37) % 100}`, quantity: 1 }));
    ({ position } = await send('CreateOrder', { orderId: `o-${n}`, customerId: `c-${n % 100}`, lines }));
  }
  await shop.projector!.waitForPosition(position, { timeoutMs: 60_000 });

  const { authenticate } = createShopAuth({ NODE_ENV: 'production', SHOP_API_KEYS: `${ADMIN_KEY}:admin` }, { dataDir });
  server = await createShopServer(shop, { authenticate, logger: log });
  bare = createBareApp('read', join(dataDir, 'read.db'));
  await bare.ready();

  const round = async (app: FastifyInstance): Promise<number> => {
    let next = 0;
    const cpu = process.cpuUsage();
    await Promise.all(
      Array.from({ length: IN_FLIGHT }, async () => {
        while (next < REQUESTS) {
          const url = `/queries/GetOrderStatus?orderId=o-${next++ % ORDERS}`;
          const reply = await app.inject({ method: 'GET', url, headers: { 'x-api-key': ADMIN_KEY } });
          if (reply.statusCode !== 200) throw new Error(`${url}: ${reply.statusCode} ${reply.body}`);
        }
      }),
    );
    const { user, system } = process.cpuUsage(cpu);
    return (user + system) / REQUESTS;
  };
  const sides = { framework: server, baseline: bare };
  const results = { framework: [] as number[], baseline: [] as number[] };
  await round(bare);
  await round(server);
  for (let r = 0; r < ROUNDS; r++) {
    for (const which of r % 2 === 0 ? (['baseline', 'framework'] as const) : (['framework', 'baseline'] as const)) {
      results[which].push(await round(sides[which]));
    }
  }
  const median = (list: number[]) => [...list].sort((a, b) => a - b)[(list.length - 1) >> 1];
  const summary = (list: number[]) => ({ medianUs: +median(list).toFixed(1), minUs: +Math.min(...list).toFixed(1) });
  const framework = summary(results.framework);
  const baseline = summary(results.baseline);
  process.stdout.write(
    `${JSON.stringify({
      name: 'GetOrderStatus (inject, CPU per request)',
      framework,
      baseline,
      // Baseline CPU over the framework's: the share of the baseline's rate the framework would reach if CPU-bound.
      ratio: +(baseline.medianUs / framework.medianUs).toFixed(3),
      extraUsPerRequest: +(framework.medianUs - baseline.medianUs).toFixed(1),
      rounds: ROUNDS,
      requestsPerRound: REQUESTS,
      loadAverage: +loadavg()[0].toFixed(2),
    })}\n`,
  );
} finally {
  await server?.close();
  await bare?.close();
  await shop.close();
  rmSync(dataDir, { recursive: true, force: true });
}
