// The Nest slice of the Shop over a real socket (@nestjs/testing, express platform): the module's routes, an app's own
// controller, auth, read-your-writes, and a shutdown in the middle of commands and projecting that loses nothing.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import type { CommandBus, Projector } from 'chronicle-es';
import { createApiKeyAuthenticator } from 'chronicle-es/fetch';
import { ChronicleExceptionFilter, COMMAND_BUS, PROJECTOR } from 'chronicle-es/nest';
import { createSqliteEventStore } from 'chronicle-es/sqlite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ShopNestModule } from './app-module.js';

const ADMIN = 'nest-admin-key-0123456789';
const ADA = 'nest-ada-key-0123456789';
const BOB = 'nest-bob-key-0123456789';
const authenticate = createApiKeyAuthenticator({
  [ADMIN]: { id: 'admin-1', roles: ['admin'] },
  [ADA]: { id: 'ada', roles: ['customer'] },
  [BOB]: { id: 'bob', roles: ['customer'] },
});

async function start(dataDir: string): Promise<{ app: INestApplication; url: string }> {
  const moduleRef = await Test.createTestingModule({
    imports: [ShopNestModule.register({ dataDir, authenticate, pollIntervalMs: 10 })],
  }).compile();
  const app = moduleRef.createNestApplication({ bodyParser: false, logger: false });
  app.useGlobalFilters(new ChronicleExceptionFilter());
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as { port: number };
  return { app, url: `http://127.0.0.1:${port}` };
}

describe('the Shop slice on Nest', () => {
  let dataDir: string;
  let app: INestApplication;
  let url: string;
  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'shop-nest-'));
    ({ app, url } = await start(dataDir));
  });
  afterAll(async () => {
    await app?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const post = async (name: string, body: unknown, key = ADMIN): Promise<{ status: number; body: any }> => {
    const res = await fetch(`${url}/commands/${name}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': key },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: await res.json() };
  };
  const get = async (path: string, key = ADMIN): Promise<{ status: number; headers: Headers; body: any }> => {
    const res = await fetch(url + path, { headers: { 'x-api-key': key } });
    return { status: res.status, headers: res.headers, body: await res.json() };
  };

  it('creates a product, registers a customer, places an order and reads its status at the returned position', async () => {
    const product = await post('CreateProduct', {
      productId: 'mug',
      sku: 'MUG-1',
      name: 'Mug',
      priceCents: 1200,
      currency: 'EUR',
    });
    expect(product).toMatchObject({ status: 200, body: { ok: true, streamId: 'product-mug' } });
    const customer = await post('RegisterCustomer', { customerId: 'ada', name: 'Ada', email: 'ada@example.com' }, ADA);
    expect(customer.status).toBe(200);
    const order = await post(
      'CreateOrder',
      { orderId: 'o-1', customerId: 'ada', lines: [{ productId: 'mug', quantity: 1 }] },
      ADA,
    );
    // No stock yet: the Shop's own rule, answered 422 as chronicle-es/http answers it.
    expect(order).toMatchObject({ status: 422, body: { code: 'DOMAIN_RULE', type: 'urn:chronicle:problem:domain-rule' } });
  });

  it("serves GetOrderStatus through the module's route and through the app's own controller, with the principal", async () => {
    // In-process callers use the injected bus, checked by the same policies.
    const bus = app.get<CommandBus>(COMMAND_BUS);
    const admin = { id: 'admin-1', roles: ['admin'] };
    await bus.dispatch(
      'CreateProduct',
      { productId: 'pen', sku: 'PEN-1', name: 'Pen', priceCents: 300, currency: 'EUR' },
      { principal: admin },
    );
    await expect(bus.dispatch('RestockProduct', { productId: 'pen', quantity: 10 })).rejects.toMatchObject({
      code: 'UNAUTHENTICATED',
    });
    expect((await post('RestockProduct', { productId: 'pen', quantity: 10 })).status).toBe(200);
    await post('RegisterCustomer', { customerId: 'ada', name: 'Ada', email: 'ada@example.com' }, ADA);
    const placed = await post(
      'CreateOrder',
      { orderId: 'o-2', customerId: 'ada', lines: [{ productId: 'pen', quantity: 2 }] },
      ADA,
    );
    expect(placed).toMatchObject({ status: 200, body: { ok: true, streamId: 'order-o-2' } });
    const position = placed.body.position as number;

    const viaRoute = await get(`/queries/GetOrderStatus?orderId=o-2&minPosition=${position}`, ADA);
    expect(viaRoute).toMatchObject({
      status: 200,
      body: { orderId: 'o-2', customerId: 'ada', status: 'created', totalCents: 600 },
    });
    const viaController = await get(`/orders/o-2?after=${position}`, ADA);
    expect(viaController).toMatchObject({ status: 200, body: viaRoute.body });
    // The controller's call carried the request's principal: another customer is told the order does not exist.
    expect(await get(`/orders/o-2?after=${position}`, BOB)).toMatchObject({ status: 404, body: { code: 'NOT_FOUND' } });
    const unknown = await get('/orders/o-404', ADA);
    expect(unknown).toMatchObject({ status: 404, body: { code: 'NOT_FOUND', status: 404 } });
    expect(unknown.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    const anonymous = await fetch(`${url}/orders/o-2`);
    expect(anonymous.status).toBe(401);
    expect(await anonymous.json()).toMatchObject({ code: 'UNAUTHENTICATED' });
  });

  it('documents the slice in /openapi.json', async () => {
    const doc = await get('/openapi.json');
    expect(Object.keys(doc.body.paths)).toEqual(
      expect.arrayContaining(['/commands/CreateProduct', '/commands/CreateOrder', '/queries/GetOrderStatus']),
    );
  });
});

describe('shutdown while commands and the projector are running', () => {
  it('finishes every dispatch in flight, then stops the projector, then closes the stores: nothing fails as closed', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'shop-nest-close-'));
    try {
      const { app } = await start(dataDir);
      const bus = app.get<CommandBus>(COMMAND_BUS);
      const projector = app.get<Projector>(PROJECTOR);
      const admin = { id: 'admin-1', roles: ['admin'] };
      const sent = Array.from({ length: 60 }, (_, i) =>
        bus
          .dispatch(
            'CreateProduct',
            { productId: `p${i}`, sku: `SKU-${i}`, name: `P${i}`, priceCents: 100, currency: 'EUR' },
            { principal: admin },
          )
          .then(
            () => 'ok',
            (err: { code?: string }) => err.code ?? String(err),
          ),
      );
      // Some dispatches have committed (the projector has work), others are still queued, when the app closes.
      await sent[10];
      const statusBefore = await projector.status();
      expect(statusBefore.find((s) => s.name === 'orders')?.state).not.toBe('failed');
      await app.close();
      expect(await Promise.all(sent)).toEqual(sent.map(() => 'ok'));
      // Closed after the drain: every acknowledged product is in the log.
      const events = createSqliteEventStore({ path: join(dataDir, 'events.db') });
      const all = await events.readAll({ from: 0, limit: 1000 });
      await events.close();
      expect(all.filter((e) => e.type === 'ProductCreated').length).toBe(60);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
