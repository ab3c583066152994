// Running it: the write/project/read split over one data directory, and development's demo keys.
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, describe, expect, it } from 'vitest';
import { createShop, type Shop, type ShopRole } from '../app.js';
import { createShopAuth } from '../auth.js';
import { createShopServer } from '../server.js';
import { startShopProcess } from './shop-process.js';
import { feedReached, readFeedUntil } from './support.js';

const dataDir = mkdtempSync(join(tmpdir(), 'shop-topology-'));
const opened: Array<{ server: FastifyInstance; shop: Shop }> = [];
const processes: ChildProcess[] = [];
afterAll(async () => {
  for (const child of processes) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const { server, shop } of opened) {
    await server.close();
    await shop.close();
  }
  rmSync(dataDir, { recursive: true, force: true });
});

const ADMIN = 'topology-admin-key-000';

async function serve(role: ShopRole) {
  const shop = await createShop({ dataDir, role, pollIntervalMs: 20 });
  const { authenticate } = createShopAuth({ SHOP_API_KEYS: `${ADMIN}:admin` }, { dataDir });
  const server = await createShopServer(shop, { authenticate, serve: role, logger: false });
  await server.listen({ port: 0, host: '127.0.0.1' });
  opened.push({ server, shop });
  const url = `http://127.0.0.1:${(server.server.address() as { port: number }).port}`;
  const headers = { 'x-api-key': ADMIN, 'content-type': 'application/json' };
  return {
    shop,
    command: (name: string, body: unknown) =>
      fetch(`${url}/commands/${name}`, { method: 'POST', headers, body: JSON.stringify(body) }),
    query: (name: string, qs: string) => fetch(`${url}/queries/${name}?${qs}`, { headers }),
    get: (path: string, signal?: AbortSignal) => fetch(url + path, { headers, signal }),
  };
}

/**
 * A projector worker as its own process (`npm start` with SHOP_ROLE=project), as they are deployed: its workflows hold
 * the SQLite read store's write lock while they send, and a second worker in the same process would wait for that
 * lock on the very event loop the sends need.
 */
async function project() {
  const proc = await startShopProcess({ dataDir, adminKey: ADMIN, env: { SHOP_ROLE: 'project' } });
  processes.push(proc.child);
  const headers = { 'x-api-key': ADMIN, 'content-type': 'application/json' };
  return {
    command: (name: string, body: unknown) =>
      fetch(`${proc.url}/commands/${name}`, { method: 'POST', headers, body: JSON.stringify(body) }),
    query: (name: string, qs: string) => fetch(`${proc.url}/queries/${name}?${qs}`, { headers }),
    get: (path: string) => fetch(proc.url + path, { headers }),
    /** Each projection's position, as its readiness report gives them. */
    async positions(): Promise<number[]> {
      const body = (await (await this.get('/health/ready')).json()) as { projections?: Array<{ position: number }> };
      return (body.projections ?? []).map((p) => p.position);
    },
  };
}

describe('SHOP_ROLE', () => {
  it('write takes commands, project fills the read store, read answers queries (minPosition from its checkpoints)', async () => {
    const writer = await serve('write');
    // Started before any projector ran: no read model exists yet, so not ready.
    const readers = [await serve('read'), await serve('read')];
    expect((await readers[0].get('/health/ready')).status).toBe(503);
    const projectors = [await project(), await project()];

    const res = await writer.command('CreateProduct', {
      productId: 'split',
      sku: 'SPLIT',
      name: 'Split',
      priceCents: 1,
      currency: 'EUR',
    });
    expect(res.status).toBe(200);
    const { position } = (await res.json()) as { position: number };
    expect((await writer.query('GetInventory', 'productId=split')).status).toBe(404);
    for (const reader of readers) {
      const read = await reader.query('GetInventory', `productId=split&minPosition=${position}`);
      expect(read.status).toBe(200);
      expect(await read.json()).toEqual({ productId: 'split', onHand: 0, reserved: 0, available: 0, lowStock: null });
      expect((await reader.command('RestockProduct', { productId: 'split', quantity: 1 })).status).toBe(404);
      expect((await reader.get('/health/ready')).status).toBe(200);
      expect(reader.shop.eventStore).toBeUndefined();
    }
    // A read node's change feed follows the checkpoints the projectors commit. Two projectors on one SQLite read store
    // share it through compare-and-set checkpoints: each event applied once.
    const controller = new AbortController();
    const stream = await readers[0].get('/events/stream', controller.signal);
    expect(stream.headers.get('content-type')).toContain('text/event-stream');
    const frames = stream.body!.getReader();
    const restocked = await writer.command('RestockProduct', { productId: 'split', quantity: 3 });
    const after = ((await restocked.json()) as { position: number }).position;
    // At or past the restock: a read node polling the shared checkpoints may see inventory move past it in one step
    // (the workflows write right after it).
    await readFeedUntil(frames, (text) => feedReached(text, 'inventory', after));
    controller.abort();
    const read = await readers[1].query('GetInventory', `productId=split&minPosition=${after}`);
    // (3 is below the low-stock threshold: the workflows raise an alert in their own time, so it is not asserted here.)
    expect(await read.json()).toMatchObject({ productId: 'split', onHand: 3, reserved: 0, available: 3 });

    // The workflows answer the restock (3 is below the low-stock threshold: an alert): the head is where they stop,
    // once every projection of both workers has reached it and nothing more is written.
    let settled = 0;
    for (let tries = 0; ; tries++) {
      const head = await writer.shop.eventStore!.headPosition();
      const positions = (await Promise.all(projectors.map((p) => p.positions()))).flat();
      if (head > after && positions.length > 0 && positions.every((p) => p >= head)) {
        if ((await writer.shop.eventStore!.headPosition()) === head) {
          settled = head;
          break;
        }
      }
      if (tries > 500) throw new Error(`the workers did not settle: head ${head}, positions ${positions}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    const alert = await readers[1].query('GetInventory', `productId=split&minPosition=${settled}`);
    expect(await alert.json()).toMatchObject({ available: 3, lowStock: { threshold: 5 } });
    for (const projector of projectors) {
      expect((await projector.command('RestockProduct', { productId: 'split', quantity: 1 })).status).toBe(404);
      expect((await projector.query('GetInventory', 'productId=split')).status).toBe(404);
      expect((await projector.get('/openapi.json')).status).toBe(404);
      expect((await projector.get('/events/stream')).status).toBe(404);
      expect((await projector.get('/health')).status).toBe(200);
      expect((await projector.get('/health/ready')).status).toBe(200);
      const metrics = await projector.get('/metrics');
      expect(metrics.status).toBe(200);
      expect(await metrics.text()).toContain(`chronicle_projection_position{projection="inventory"} ${settled}`);
    }
  });
});

describe('startup', () => {
  it('stops with the variable named when a value is bad, before opening any store, and when a store does not answer', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'shop-badenv-'));
    try {
      const start = startShopProcess({ dataDir: dir, adminKey: ADMIN, env: { CHRONICLE_EVENT_STORE: 'mysql://db/events' } });
      await expect(start).rejects.toThrow(/exited with 1[\s\S]*CHRONICLE_EVENT_STORE must be a postgres:/);
      expect(existsSync(join(dir, 'events.db'))).toBe(false);
      // A server that does not answer stops it too, at once rather than at the first request.
      const unreachable = startShopProcess({
        dataDir: dir,
        adminKey: ADMIN,
        env: { CHRONICLE_EVENT_STORE: 'postgres://shop@127.0.0.1:1/shop' },
      });
      await expect(unreachable).rejects.toThrow(/exited with 1[\s\S]*ECONNREFUSED 127\.0\.0\.1:1[\s\S]*"failed to start"/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('development mode', () => {
  it('creates one demo key per role, keeps them across restarts, and they work', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'shop-demo-'));
    try {
      const first = createShopAuth({ NODE_ENV: 'development' }, { dataDir: dir });
      expect(Object.keys(first.demoKeys!).sort()).toEqual(['admin', 'clerk', 'customer', 'reader']);
      expect(createShopAuth({}, { dataDir: dir }).demoKeys).toEqual(first.demoKeys);
      expect(JSON.parse(readFileSync(join(dir, 'demo-keys.json'), 'utf8'))).toEqual(first.demoKeys);
      const principal = await first.authenticate({ headers: { 'x-api-key': first.demoKeys!.customer } });
      expect(principal).toEqual({ id: 'ada', roles: ['customer'] });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
