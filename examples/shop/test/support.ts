// Starts a real Shop on a real socket (port 0, fresh temp data dir) and gives tests a small fetch client.
import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve as serveNode } from '@hono/node-server';
import type { Authenticator } from 'chronicle-es/http';
import type { FastifyInstance } from 'fastify';
import { createShop, type PostgresLocation, type ShopOf, type ShopOptions } from '../app.js';
import { createShopAuth } from '../auth.js';
import { createShopFetchHandler } from '../fetch-server.js';
import { createShopServer } from '../server.js';

export const KEYS = {
  admin: 'test-admin-key-0123456789',
  clerk: 'test-clerk-key-0123456789',
  reader: 'test-reader-key-0123456789',
  ada: 'test-customer-ada-0123456789',
  bob: 'test-customer-bob-0123456789',
} as const;
export const JWT_SECRET = 'test-jwt-secret-that-is-at-least-32-bytes-long';

export type Response<T = any> = { status: number; body: T; headers: Headers };

export type TestShop = {
  url: string;
  shop: ShopOf<'all'>;
  dataDir: string;
  /** POST /commands/{name} as `key` (a KEYS value, or undefined for anonymous). */
  command(name: string, body: unknown, options?: { key?: string; headers?: Record<string, string> }): Promise<Response>;
  /** GET /queries/{name}?params as `key`. */
  query(
    name: string,
    params?: Record<string, string | number | boolean>,
    options?: { key?: string; headers?: Record<string, string> },
  ): Promise<Response>;
  /** Any request, raw. */
  request(path: string, init?: RequestInit): Promise<Response>;
  /**
   * Sends the commands as one burst the server cannot serialize: each on its own connection, all but the last byte
   * of each body sent first; only once the server has parsed every request's head do the last bytes go out, in one
   * synchronous loop, so the server reads all the bodies in the same turn of its event loop and every command loads
   * its streams before any of them commits.
   */
  burst(commands: ReadonlyArray<{ name: string; body: unknown; key?: string }>): Promise<Response[]>;
  eventCount(): Promise<number>;
  /**
   * Waits until the workflows are done reacting to what was written: every projection (the process managers and the
   * scheduler included) has passed the head, and the head did not move meanwhile. Resolves with that head. A test that
   * checks "nothing was written" settles first, or a process's late command would be counted against it.
   */
  settle(timeoutMs?: number): Promise<number>;
  close(): Promise<void>;
};

/** What a test may set on the Shop it starts: its workflows' clock and timeout, and how often the scheduler looks. */
export type TestShopOptions = Pick<ShopOptions, 'clock' | 'paymentTimeoutMs' | 'lowStockThreshold' | 'scheduler'>;

/**
 * The Shop on SQLite under a fresh data directory; with `SHOP_TEST_STORES=postgres` in the environment, on PostgreSQL
 * instead (both stores in one fresh schema of the test server), so any suite here can be run against it. With
 * `SHOP_TEST_HTTP=fetch`, its API is served by chronicle-es/fetch on Hono's Node server instead of the Fastify plugin.
 */
export async function startShop(options: TestShopOptions = {}): Promise<TestShop> {
  const dataDir = mkdtempSync(join(tmpdir(), 'shop-test-'));
  const postgres = process.env.SHOP_TEST_STORES === 'postgres' ? await postgresStores() : undefined;
  const shop = await createShop({
    dataDir,
    pollIntervalMs: 20,
    eventStore: postgres?.location,
    readStore: postgres?.location,
    scheduler: { pollIntervalMs: 20 },
    ...options,
  });
  const { authenticate } = createShopAuth(
    {
      NODE_ENV: 'test',
      SHOP_API_KEYS: [
        `${KEYS.admin}:admin`,
        `${KEYS.clerk}:clerk`,
        `${KEYS.reader}:reader`,
        `${KEYS.ada}:customer:ada`,
        `${KEYS.bob}:customer:bob`,
      ].join(','),
      SHOP_JWT_SECRET: JWT_SECRET,
    },
    { dataDir },
  );
  const server =
    process.env.SHOP_TEST_HTTP === 'fetch' ? await listenFetch(shop, authenticate) : await listenFastify(shop, authenticate);
  const url = `http://127.0.0.1:${(server.node.address() as AddressInfo).port}`;

  const request = async (path: string, init?: RequestInit): Promise<Response> => {
    const res = await fetch(url + path, init);
    const text = await res.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {}
    return { status: res.status, body, headers: res.headers };
  };
  const auth = (key: string | undefined): Record<string, string> => (key ? { 'x-api-key': key } : {});

  const burst: TestShop['burst'] = async (commands) => {
    const paths = new Set(commands.map((c) => `/commands/${c.name}`));
    let headsSeen = 0;
    let allHeadsSeen!: () => void;
    const heads = new Promise<void>((resolve) => {
      allHeadsSeen = resolve;
    });
    // 'request' fires once a request's head is parsed, before its body is read.
    const onRequest = (req: IncomingMessage) => {
      if (paths.has(req.url ?? '') && ++headsSeen === commands.length) allHeadsSeen();
    };
    server.node.on('request', onRequest);
    try {
      const sent = commands.map(({ name, body, key = KEYS.admin }) => {
        const payload = Buffer.from(JSON.stringify(body));
        const req = httpRequest(`${url}/commands/${name}`, {
          method: 'POST',
          agent: false,
          headers: { 'content-type': 'application/json', 'content-length': payload.length, ...auth(key) },
        });
        const response = new Promise<Response>((resolve, reject) => {
          req.on('error', reject);
          req.on('response', (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (chunk: Buffer) => chunks.push(chunk));
            res.on('error', reject);
            res.on('end', () => {
              const text = Buffer.concat(chunks).toString('utf8');
              const headers = new Headers();
              for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') headers.set(k, v);
              resolve({ status: res.statusCode ?? 0, body: JSON.parse(text), headers });
            });
          });
        });
        req.write(payload.subarray(0, -1));
        return { req, last: payload.subarray(-1), response };
      });
      // A request that fails before its head is parsed would otherwise leave the barrier closed for good.
      await Promise.race([heads, Promise.all(sent.map((s) => s.response))]);
      for (const { req, last } of sent) req.end(last);
      return await Promise.all(sent.map((s) => s.response));
    } finally {
      server.node.off('request', onRequest);
    }
  };

  return {
    url,
    shop,
    dataDir,
    request,
    burst,
    command: (name, body, options = {}) =>
      request(`/commands/${name}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...auth('key' in options ? options.key : KEYS.admin), ...options.headers },
        body: JSON.stringify(body),
      }),
    query: (name, params = {}, options = {}) => {
      const qs = new URLSearchParams(Object.entries(params).map(([k, v]): [string, string] => [k, String(v)])).toString();
      return request(`/queries/${name}${qs ? `?${qs}` : ''}`, {
        headers: { ...auth('key' in options ? options.key : KEYS.admin), ...options.headers },
      });
    },
    eventCount: () => shop.eventStore.headPosition(),
    settle: (timeoutMs) => settle(shop, timeoutMs),
    async close() {
      await server.close();
      await shop.close();
      rmSync(dataDir, { recursive: true, force: true });
      await postgres?.drop();
    },
  };
}

type Listening = { node: Server; close(): Promise<void> };

async function listenFastify(shop: ShopOf<'all'>, authenticate: Authenticator): Promise<Listening> {
  const server: FastifyInstance = await createShopServer(shop, { authenticate, logger: false });
  await server.listen({ port: 0, host: '127.0.0.1' });
  return { node: server.server, close: () => server.close() };
}

// The fetch handler as a Hono user serves one: @hono/node-server on port 0.
async function listenFetch(shop: ShopOf<'all'>, authenticate: Authenticator): Promise<Listening> {
  const handler = await createShopFetchHandler(shop, { authenticate });
  const node = await new Promise<Server>((resolve) => {
    const server = serveNode({ fetch: handler, port: 0, hostname: '127.0.0.1' }, () => resolve(server as Server));
  });
  return {
    node,
    close: () =>
      new Promise<void>((resolve, reject) => {
        handler.close();
        node.close((err) => (err ? reject(err) : resolve()));
        node.closeAllConnections();
      }),
  };
}

/** See TestShop.settle; for any Shop with a projector over its event store. */
export async function settle(shop: Pick<ShopOf<'all'>, 'eventStore' | 'projector'>, timeoutMs = 10_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const head = await shop.eventStore.headPosition();
    await shop.projector.waitForPosition(head, { timeoutMs: Math.max(1, deadline - Date.now()) });
    if ((await shop.eventStore.headPosition()) === head) return head;
  }
}

// Imported only when asked for: the support module checks the server is up as it loads.
async function postgresStores(): Promise<{ location: PostgresLocation; drop(): Promise<void> }> {
  const { freshSchema } = await import('../../../test/support/postgres.js');
  const schema = freshSchema('shop_test');
  return { location: { connectionString: schema.connectionString, schema: schema.schema }, drop: () => schema.drop() };
}

/** Creates products, customers and stock for a test, returning the last position written. */
export async function given(
  shop: TestShop,
  setup: {
    products?: Array<{ productId: string; priceCents?: number; stock?: number; currency?: string; name?: string }>;
    customers?: string[];
  },
): Promise<number> {
  let position = 0;
  const ok = async (name: string, body: unknown) => {
    const res = await shop.command(name, body);
    if (res.status !== 200) throw new Error(`${name} ${JSON.stringify(body)} → ${res.status} ${JSON.stringify(res.body)}`);
    position = res.body.position;
  };
  for (const id of setup.customers ?? []) {
    await ok('RegisterCustomer', { customerId: id, name: `Customer ${id}`, email: `${id}@example.com` });
  }
  for (const p of setup.products ?? []) {
    await ok('CreateProduct', {
      productId: p.productId,
      sku: p.productId.toUpperCase(),
      name: p.name ?? `Product ${p.productId}`,
      priceCents: p.priceCents ?? 1000,
      currency: p.currency ?? 'EUR',
    });
    if (p.stock) await ok('RestockProduct', { productId: p.productId, quantity: p.stock });
  }
  return position;
}

/**
 * Reads a server-sent-event body into `text` until `reached(text)` holds, and returns the text. A body that ends first
 * fails, rather than leaving the caller looping on an ended stream.
 */
export async function readFeedUntil(
  body: ReadableStreamDefaultReader<Uint8Array>,
  reached: (text: string) => boolean,
  text = '',
): Promise<string> {
  const decoder = new TextDecoder();
  while (!reached(text)) {
    const { value, done } = await body.read();
    if (done) throw new Error(`the event stream ended first; it had sent: ${text}`);
    text += decoder.decode(value, { stream: true });
  }
  return text;
}

/** Whether an event-stream text has a `projection` frame of `name` at or past `position`. */
export const feedReached = (text: string, name: string, position: number): boolean =>
  [...text.matchAll(/data: \{"projection":"([^"]+)","position":(\d+)\}/g)].some((m) => m[1] === name && Number(m[2]) >= position);
