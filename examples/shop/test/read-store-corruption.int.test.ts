// The real `npm start` process over a damaged read.db: no query answers 500. While the read side is rebuilt from the
// event log, queries and /health/ready answer 503; then every query answers 200 with the data from before the damage.
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { createSqliteEventStore } from 'chronicle-es/sqlite';
import { afterAll, describe, expect, it } from 'vitest';
import { corruptPages } from '../../../test/support/corrupt-file.js';
import { startShopProcess } from './shop-process.js';

const ADMIN = 'corrupt-admin-key-0123456789';
const dataDir = mkdtempSync(join(tmpdir(), 'shop-corrupt-'));
const readDb = join(dataDir, 'read.db');
const children: ChildProcess[] = [];
// Enough history that rebuilding it takes a while (seconds), so the 503s are seen, not raced past.
const RESTOCKS = 50_000;

afterAll(() => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
});

type Server = { url: string; child: ChildProcess; logs: string[]; stop(): Promise<number | null> };

async function startServer(): Promise<Server> {
  const { child, url, logs } = await startShopProcess({ dataDir, adminKey: ADMIN });
  children.push(child);
  return {
    url,
    child,
    logs,
    async stop() {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
      return child.exitCode;
    },
  };
}

type Answer = { status: number; type: string | null; body: any };
async function call(url: string, path: string, init?: RequestInit): Promise<Answer> {
  const res = await fetch(url + path, { ...init, headers: { 'x-api-key': ADMIN, ...init?.headers } });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {}
  return { status: res.status, type: res.headers.get('content-type'), body };
}
const post = async (url: string, name: string, body: unknown) => {
  const res = await call(url, `/commands/${name}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (res.status !== 200) throw new Error(`${name} → ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.position as number;
};

// One of each query, each reading its own projection.
const QUERIES = [
  '/queries/GetCustomerById?customerId=c-1',
  '/queries/ListAllProducts?limit=50',
  '/queries/GetInventory?productId=p-stocked',
  '/queries/GetOrderStatus?orderId=o-3',
  '/queries/ListOrdersByCustomer?customerId=c-2',
  '/queries/GetSalesSummary',
];

const answers = (url: string, options: { minPosition?: number } = {}) =>
  Promise.all(
    QUERIES.map((q) =>
      call(url, options.minPosition ? `${q}${q.includes('?') ? '&' : '?'}minPosition=${options.minPosition}` : q, {
        headers: { 'chronicle-wait-ms': '10000' },
      }),
    ),
  );

/**
 * Polls every query and /health/ready until each query answers what `expected` holds. Fails on any answer but 200 or a 503
 * problem saying the read store is being rebuilt, and on a query going back to 503 once it answered 200.
 */
async function pollUntilRebuilt(url: string, expected: unknown[]) {
  const seen = {
    query503: 0,
    health503: 0,
    first: undefined as number | undefined,
    firstHealth: undefined as number | undefined,
  };
  const served = new Set<number>();
  const deadline = Date.now() + 60_000;
  for (;;) {
    const [health, ...results] = await Promise.all([call(url, '/health/ready'), ...QUERIES.map((q) => call(url, q))]);
    seen.firstHealth ??= health.status;
    seen.first ??= results[0].status;
    expect([200, 503], JSON.stringify(health.body)).toContain(health.status);
    if (health.status === 503) seen.health503++;
    results.forEach((r, i) => {
      expect([200, 503], `${QUERIES[i]}: ${r.status} ${JSON.stringify(r.body)}`).toContain(r.status);
      if (r.status === 503) {
        seen.query503++;
        expect(r.type).toContain('application/problem+json');
        expect(r.body.code).toBe('READ_STORE_CORRUPT');
        expect(served.has(i), `${QUERIES[i]} answered 200, then 503`).toBe(false);
      } else served.add(i);
    });
    const done = results.every((r, i) => r.status === 200 && JSON.stringify(r.body) === JSON.stringify(expected[i]));
    if (done && health.status === 200) return seen;
    if (Date.now() > deadline) throw new Error(`not rebuilt in 60 s: ${JSON.stringify(results.map((r) => r.status))}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const asideFiles = () => readdirSync(dataDir).filter((f) => /^read\.db\.corrupt-[\dTZ-]+$/.test(f));

describe('a damaged read store under the real server', () => {
  let server: Server;
  let expected: Answer['body'][];
  let head = 0;

  it('is set aside at start and rebuilt from the event log: 503 meanwhile (never 500), then the same answers as before', async () => {
    server = await startServer();
    for (let i = 1; i <= 5; i++)
      await post(server.url, 'RegisterCustomer', { customerId: `c-${i}`, name: `C ${i}`, email: `c${i}@example.com` });
    for (let i = 1; i <= 8; i++) {
      await post(server.url, 'CreateProduct', {
        productId: `p-${i}`,
        sku: `P-${i}`,
        name: `Product ${i}`,
        priceCents: 100 * i,
        currency: 'EUR',
      });
      await post(server.url, 'RestockProduct', { productId: `p-${i}`, quantity: 50 });
    }
    await post(server.url, 'CreateProduct', {
      productId: 'p-stocked',
      sku: 'P-STOCKED',
      name: 'Stocked',
      priceCents: 5,
      currency: 'EUR',
    });
    for (let i = 1; i <= 12; i++) {
      const orderId = `o-${i}`;
      await post(server.url, 'CreateOrder', {
        orderId,
        customerId: `c-${1 + (i % 5)}`,
        lines: [{ productId: `p-${1 + (i % 8)}`, quantity: 1 + (i % 3) }],
      });
      if (i % 2 === 0) await post(server.url, 'PayOrder', { orderId });
      if (i % 4 === 0) await post(server.url, 'ShipOrder', { orderId });
    }
    expect(await server.stop()).toBe(0);

    // A long history for one product, as RestockProduct writes it, so rebuilding takes seconds.
    const events = createSqliteEventStore({ path: join(dataDir, 'events.db') });
    for (let i = 0; i < RESTOCKS; i += 5000) {
      await events.append(
        'product-p-stocked',
        Array.from({ length: 5000 }, () => ({ type: 'ProductRestocked', data: { productId: 'p-stocked', quantity: 1 } })),
      );
    }
    head = await events.headPosition();
    await events.close();

    server = await startServer();
    expected = (await answers(server.url, { minPosition: head })).map((a) => {
      expect(a.status, JSON.stringify(a.body)).toBe(200);
      return a.body;
    });
    expect(expected[2]).toMatchObject({ productId: 'p-stocked', onHand: RESTOCKS });
    expect(await server.stop()).toBe(0);

    expect(corruptPages(readDb)).toBeGreaterThan(4);
    server = await startServer();
    const seen = await pollUntilRebuilt(server.url, expected);
    // Rebuilding 50k events outlasts the start: the first answers are the rebuild's 503s.
    expect(seen.firstHealth).toBe(503);
    expect(seen.first).toBe(503);
    expect(seen.query503).toBeGreaterThan(0);
    expect(asideFiles()).toHaveLength(1);
    expect(server.logs.join('\n')).toContain('read store damaged');
    // The event log is what it was: the next write comes right after it.
    expect(
      await post(server.url, 'RegisterCustomer', { customerId: 'c-after', name: 'After', email: 'after@example.com' }),
    ).toBeGreaterThan(head);
  }, 120_000);

  it('is noticed while running once the server reads the damaged pages, and rebuilt the same way', async () => {
    expect(server?.child.exitCode).toBeNull();
    const position = await post(server.url, 'RestockProduct', { productId: 'p-1', quantity: 1 });
    const now = await answers(server.url, { minPosition: position });
    expect(now.map((a) => a.status)).toEqual(QUERIES.map(() => 200));
    expected = now.map((a) => a.body);

    // SQLite keeps the pages it has read in memory and trusts them while no other connection writes the file, so damage
    // under a running server is seen only once it reads those pages again. Here another connection writes (as another
    // process on the file would), which makes the server drop its cache: all pages are first checkpointed into the
    // file, then every page after the first is damaged, then one header value is written through the WAL.
    const other = new Database(readDb);
    other.pragma('wal_checkpoint(TRUNCATE)');
    corruptPages(readDb, { from: 0, to: 1 });
    other.pragma('user_version = 7');
    other.close();

    const seen = await pollUntilRebuilt(server.url, expected);
    expect(seen.first).toBe(503);
    expect(asideFiles()).toHaveLength(2);
    expect(await server.stop()).toBe(0);
  }, 120_000);
});
