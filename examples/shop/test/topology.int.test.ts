// Running it: the write/read split over one data directory, and development's demo keys.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, describe, expect, it } from 'vitest';
import { createShop, type Shop } from '../app.js';
import { createShopAuth } from '../auth.js';
import { createShopServer } from '../server.js';

const dataDir = mkdtempSync(join(tmpdir(), 'shop-topology-'));
const opened: Array<{ server: FastifyInstance; shop: Shop }> = [];
afterAll(async () => {
  for (const { server, shop } of opened) {
    await server.close();
    await shop.close();
  }
  rmSync(dataDir, { recursive: true, force: true });
});

async function serve(role: 'write' | 'read', readStorePath?: string) {
  const shop = await createShop({ dataDir, role, readStorePath, pollIntervalMs: 20 });
  const { authenticate } = createShopAuth({ SHOP_API_KEYS: 'topology-admin-key-000:admin' }, { dataDir });
  const server = await createShopServer(shop, { authenticate, serve: role, logger: false });
  await server.listen({ port: 0, host: '127.0.0.1' });
  opened.push({ server, shop });
  const url = `http://127.0.0.1:${(server.server.address() as { port: number }).port}`;
  const headers = { 'x-api-key': 'topology-admin-key-000', 'content-type': 'application/json' };
  return {
    command: (name: string, body: unknown) =>
      fetch(`${url}/commands/${name}`, { method: 'POST', headers, body: JSON.stringify(body) }),
    query: (name: string, qs: string) => fetch(`${url}/queries/${name}?${qs}`, { headers }),
  };
}

describe('SHOP_ROLE', () => {
  it('a write process takes commands, a read process (own read store) answers queries from the same events', async () => {
    const writer = await serve('write');
    const readers = [await serve('read', join(dataDir, 'read-1.db')), await serve('read', join(dataDir, 'read-2.db'))];
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
      expect(await read.json()).toEqual({ productId: 'split', onHand: 0, reserved: 0, available: 0 });
      expect((await reader.command('RestockProduct', { productId: 'split', quantity: 1 })).status).toBe(404);
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
