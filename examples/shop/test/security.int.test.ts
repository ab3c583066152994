// Who may do what, over a real socket: the role matrix, customer isolation, JWTs, and that a refusal writes nothing.
import { signJwt } from 'chronicle-es/http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { given, JWT_SECRET, KEYS, startShop, type TestShop } from './support.js';

let shop: TestShop;
beforeAll(async () => {
  shop = await startShop();
  await given(shop, { customers: ['ada', 'bob'], products: [{ productId: 'sec-mug', stock: 100 }] });
  await shop.command('CreateOrder', { orderId: 'ada-1', customerId: 'ada', lines: [{ productId: 'sec-mug', quantity: 1 }] });
  await shop.command('CreateOrder', { orderId: 'bob-1', customerId: 'bob', lines: [{ productId: 'sec-mug', quantity: 1 }] });
});
afterAll(() => shop.close());

/** Sends a command and asserts its status; a refused command must leave the event count unchanged. */
async function expectCommand(key: string | undefined, name: string, body: unknown, status: number) {
  // What the workflows do after earlier commands (an allocation after a payment) must not count against this one.
  const before = await shop.settle();
  const res = await shop.command(name, body, { key });
  expect(res.status, `${name} → ${JSON.stringify(res.body)}`).toBe(status);
  if (status !== 200) {
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    expect(await shop.eventCount()).toBe(before);
  }
  return res;
}

let seq = 0;
const newProduct = () => ({
  productId: `rm-${++seq}`,
  sku: `RM-${seq}`,
  name: 'Role matrix item',
  priceCents: 100,
  currency: 'EUR',
});

describe('role matrix: each role × a command it may send and one it may not', () => {
  it('admin may send anything', async () => {
    await expectCommand(KEYS.admin, 'CreateProduct', newProduct(), 200);
    await expectCommand(
      KEYS.admin,
      'RegisterCustomer',
      { customerId: 'by-admin', name: 'X', email: 'by-admin@example.com' },
      200,
    );
  });

  it('clerk runs the catalog, inventory and shipping, not customers or payments', async () => {
    await expectCommand(KEYS.clerk, 'CreateProduct', newProduct(), 200);
    await expectCommand(KEYS.clerk, 'RestockProduct', { productId: 'sec-mug', quantity: 1 }, 200);
    await expectCommand(
      KEYS.clerk,
      'RegisterCustomer',
      { customerId: 'by-clerk', name: 'X', email: 'by-clerk@example.com' },
      403,
    );
    await expectCommand(KEYS.clerk, 'PayOrder', { orderId: 'ada-1' }, 403);
    await expectCommand(
      KEYS.clerk,
      'CreateOrder',
      { orderId: 'clerk-1', customerId: 'ada', lines: [{ productId: 'sec-mug', quantity: 1 }] },
      403,
    );
  });

  it('customer orders for itself, never the catalog', async () => {
    await expectCommand(
      KEYS.ada,
      'CreateOrder',
      { orderId: 'ada-2', customerId: 'ada', lines: [{ productId: 'sec-mug', quantity: 1 }] },
      200,
    );
    await expectCommand(KEYS.ada, 'UpdateCustomerDetails', { customerId: 'ada', name: 'Ada King' }, 200);
    await expectCommand(KEYS.ada, 'CreateProduct', newProduct(), 403);
    await expectCommand(KEYS.ada, 'ShipOrder', { orderId: 'ada-1' }, 403);
  });

  it('reader sends no command at all', async () => {
    expect((await shop.query('GetSalesSummary', {}, { key: KEYS.reader })).status).toBe(200);
    await expectCommand(KEYS.reader, 'RestockProduct', { productId: 'sec-mug', quantity: 1 }, 403);
    await expectCommand(
      KEYS.reader,
      'RegisterCustomer',
      { customerId: 'by-reader', name: 'X', email: 'by-reader@example.com' },
      403,
    );
  });

  it('the commands the Shop sends itself (expiry, fulfilment, stock alerts): admin only, 403 for every client role', async () => {
    const line = { productId: 'sec-mug', quantity: 1 };
    await expectCommand(KEYS.ada, 'CreateOrder', { orderId: 'ada-own', customerId: 'ada', lines: [line] }, 200);
    const own: Array<[string, unknown]> = [
      ['ExpireOrder', { orderId: 'ada-own' }],
      ['AllocateShipment', { orderId: 'ada-own' }],
      ['ReleaseShipment', { orderId: 'ada-own' }],
      ['NotifyCustomer', { orderId: 'ada-own', topic: 'order-shipped' }],
      ['RaiseLowStockAlert', { productId: 'sec-mug', available: 0, threshold: 5 }],
      ['ClearLowStockAlert', { productId: 'sec-mug', available: 50 }],
    ];
    for (const [name, body] of own) {
      for (const key of [KEYS.ada, KEYS.bob, KEYS.clerk, KEYS.reader]) await expectCommand(key, name, body, 403);
      await expectCommand(undefined, name, body, 401);
    }
    // Admin may step in: the order is unpaid, so expiring it by hand is what the timer would have done.
    await expectCommand(KEYS.admin, 'ExpireOrder', { orderId: 'ada-own' }, 200);
    const status = await shop.query('GetOrderStatus', { orderId: 'ada-own', minPosition: await shop.eventCount() });
    expect(status.body).toMatchObject({ status: 'expired', paymentDueAt: null });
    // …and, the order being closed, paying it is refused.
    await expectCommand(KEYS.ada, 'PayOrder', { orderId: 'ada-own' }, 422);
  });

  it('no credentials: 401 with WWW-Authenticate; bad credentials: 401', async () => {
    const res = await expectCommand(undefined, 'RestockProduct', { productId: 'sec-mug', quantity: 1 }, 401);
    expect(res.headers.get('www-authenticate')).toContain('Bearer');
    expect((await shop.query('GetInventory', { productId: 'sec-mug' }, { key: undefined })).status).toBe(401);
    expect((await shop.query('GetInventory', { productId: 'sec-mug' }, { key: 'not-a-real-key-000000' })).status).toBe(401);
  });

  it('staff may run every query', async () => {
    for (const key of [KEYS.clerk, KEYS.reader]) {
      expect((await shop.query('GetCustomerById', { customerId: 'ada' }, { key })).status).toBe(200);
      expect((await shop.query('ListOrdersByCustomer', { customerId: 'ada' }, { key })).status).toBe(200);
      expect((await shop.query('GetOrderStatus', { orderId: 'bob-1' }, { key })).status).toBe(200);
      expect((await shop.query('GetInventory', { productId: 'sec-mug' }, { key })).status).toBe(200);
      expect((await shop.query('ListAllProducts', { includeDeleted: true }, { key })).status).toBe(200);
      expect((await shop.query('GetSalesSummary', {}, { key })).status).toBe(200);
    }
  });
});

describe('customer isolation', () => {
  it('a customer acts only on its own account', async () => {
    await expectCommand(KEYS.ada, 'RegisterCustomer', { customerId: 'not-ada', name: 'X', email: 'not-ada@example.com' }, 403);
    await expectCommand(KEYS.ada, 'UpdateCustomerDetails', { customerId: 'bob', name: 'Hacked' }, 403);
    await expectCommand(
      KEYS.ada,
      'CreateOrder',
      { orderId: 'ada-for-bob', customerId: 'bob', lines: [{ productId: 'sec-mug', quantity: 1 }] },
      403,
    );
  });

  it('a customer pays and cancels only its own orders, and a refusal writes nothing', async () => {
    await expectCommand(KEYS.ada, 'PayOrder', { orderId: 'bob-1' }, 404);
    await expectCommand(KEYS.ada, 'CancelOrder', { orderId: 'bob-1' }, 404);
    await expectCommand(KEYS.bob, 'PayOrder', { orderId: 'bob-1' }, 200);
    await expectCommand(KEYS.bob, 'CancelOrder', { orderId: 'bob-1', reason: 'too slow' }, 200);
  });

  it('a customer reads only itself and its own orders', async () => {
    const head = await shop.eventCount();
    const asAda = (name: string, params: Record<string, string | number | boolean>) =>
      shop.query(name, { ...params, minPosition: head }, { key: KEYS.ada });
    expect((await asAda('GetCustomerById', { customerId: 'ada' })).status).toBe(200);
    expect((await asAda('GetCustomerById', { customerId: 'bob' })).status).toBe(403);
    expect((await asAda('GetOrderStatus', { orderId: 'ada-1' })).body).toMatchObject({ orderId: 'ada-1', customerId: 'ada' });
    const other = await asAda('GetOrderStatus', { orderId: 'bob-1' });
    expect(other.status).toBe(404);
    expect(JSON.stringify(other.body)).not.toContain('Customer bob');
    expect((await asAda('ListOrdersByCustomer', { customerId: 'ada' })).body.items.length).toBeGreaterThan(0);
    expect((await asAda('ListOrdersByCustomer', { customerId: 'bob' })).status).toBe(403);
    // The catalog is for everyone signed in; deleted products, stock levels and sales are staff business.
    expect((await asAda('ListAllProducts', {})).status).toBe(200);
    expect((await asAda('ListAllProducts', { includeDeleted: true })).status).toBe(403);
    expect((await asAda('GetInventory', { productId: 'sec-mug' })).status).toBe(403);
    expect((await asAda('GetSalesSummary', {})).status).toBe(403);
  });
});

describe("another customer's order looks exactly like one that does not exist", () => {
  // Otherwise order ids are an oracle: 403 would say "exists, not yours", 404 "no such order".
  const sameShape = (res: { status: number; body: unknown; headers: Headers }, orderId: string) => ({
    status: res.status,
    contentType: res.headers.get('content-type'),
    // Each response has its own correlation id; everything else must match.
    body: { ...JSON.parse(JSON.stringify(res.body).replaceAll(orderId, '<orderId>')), correlationId: '<id>' },
  });

  it('GetOrderStatus answers 404 with the same problem for bob-1 as for an id never used', async () => {
    const head = await shop.eventCount();
    const read = (orderId: string) => shop.query('GetOrderStatus', { orderId, minPosition: head }, { key: KEYS.ada });
    const foreign = sameShape(await read('bob-1'), 'bob-1');
    const unknown = sameShape(await read('never-placed-1'), 'never-placed-1');
    expect(foreign).toMatchObject({ status: 404, body: { code: 'NOT_FOUND' } });
    expect(foreign).toEqual(unknown);
    expect(JSON.stringify(foreign)).not.toMatch(/bob|another customer|forbidden/i);
  });

  it('PayOrder and CancelOrder answer 404 with the same problem for bob-1 as for an id never used, writing nothing', async () => {
    for (const name of ['PayOrder', 'CancelOrder']) {
      const foreign = sameShape(await expectCommand(KEYS.ada, name, { orderId: 'bob-1' }, 404), 'bob-1');
      const unknown = sameShape(await expectCommand(KEYS.ada, name, { orderId: 'never-placed-2' }, 404), 'never-placed-2');
      expect(foreign, name).toEqual(unknown);
      expect(JSON.stringify(foreign)).not.toMatch(/bob|another customer|forbidden/i);
    }
  });

  it("staff still read any customer's order", async () => {
    expect((await shop.query('GetOrderStatus', { orderId: 'bob-1' }, { key: KEYS.clerk })).body).toMatchObject({
      orderId: 'bob-1',
      customerId: 'bob',
    });
  });
});

describe('JWT', () => {
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
  const exp = () => Math.floor(Date.now() / 1000) + 60;

  it('accepts a signed token: sub is the customer, roles its roles', async () => {
    const token = signJwt({ sub: 'ada', roles: ['customer'], exp: exp() }, JWT_SECRET);
    const res = await shop.command(
      'CreateOrder',
      { orderId: 'jwt-1', customerId: 'ada', lines: [{ productId: 'sec-mug', quantity: 1 }] },
      { key: undefined, headers: bearer(token) },
    );
    expect(res.status).toBe(200);
    const other = await shop.command(
      'CreateOrder',
      { orderId: 'jwt-2', customerId: 'bob', lines: [{ productId: 'sec-mug', quantity: 1 }] },
      { key: undefined, headers: bearer(token) },
    );
    expect(other.status).toBe(403);
  });

  it('refuses expired, tampered and foreign-signed tokens with 401', async () => {
    const expired = signJwt({ sub: 'ada', roles: ['admin'], exp: Math.floor(Date.now() / 1000) - 3600 }, JWT_SECRET);
    const foreign = signJwt({ sub: 'ada', roles: ['admin'], exp: exp() }, 'another-secret-that-is-also-32-bytes-long!!');
    const genuine = signJwt({ sub: 'ada', roles: ['customer'], exp: exp() }, JWT_SECRET);
    const [header, , signature] = genuine.split('.');
    const escalated = Buffer.from(JSON.stringify({ sub: 'ada', roles: ['admin'], exp: exp() })).toString('base64url');
    const tampered = `${header}.${escalated}.${signature}`;
    for (const token of [expired, foreign, tampered, 'not.a.jwt']) {
      const res = await shop.query('GetSalesSummary', {}, { key: undefined, headers: bearer(token) });
      expect(res.status, token).toBe(401);
    }
  });
});

describe('authentication and roles before validation', () => {
  const invalidBodies = [{}, { productId: 7 }, [], { productId: 'x', extra: { deep: true } }];

  it('no credentials → 401 and a role that may never send it → 403, whatever the body', async () => {
    for (const body of invalidBodies) {
      const anonymous = await expectCommand(undefined, 'RestockProduct', body, 401);
      expect(anonymous.body.code).toBe('UNAUTHENTICATED');
      const customer = await expectCommand(KEYS.ada, 'RestockProduct', body, 403);
      expect(customer.body.code).toBe('FORBIDDEN');
      const query = await shop.query('GetInventory', { productId: '' }, { key: KEYS.ada });
      expect(query.status).toBe(403);
    }
    // A role that may send it is told about the body.
    await expectCommand(KEYS.clerk, 'RestockProduct', { productId: 7 }, 400);
  });

  it('refuses before reading the body: malformed, oversized or non-JSON bodies get 401/403, not 400/413/415', async () => {
    const raw = (key: string | undefined, body: string, type = 'application/json') =>
      shop.request('/commands/RestockProduct', {
        method: 'POST',
        headers: { 'content-type': type, ...(key ? { 'x-api-key': key } : {}) },
        body,
      });
    const huge = JSON.stringify({ productId: 'x'.repeat(2 * 1024 * 1024) });
    for (const [body, type] of [
      ['{"a":', 'application/json'],
      [huge, 'application/json'],
      ['a=1', 'text/plain'],
    ]) {
      expect((await raw(undefined, body, type)).status, `anonymous ${type} ${body.slice(0, 10)}`).toBe(401);
      expect((await raw(KEYS.ada, body, type)).status, `customer ${type} ${body.slice(0, 10)}`).toBe(403);
    }
    expect((await raw(KEYS.clerk, '{"a":')).status).toBe(400);
    const query = await shop.request('/queries/GetInventory?productId=x&minPosition=abc', { headers: { 'x-api-key': KEYS.ada } });
    expect(query.status).toBe(403);
  });

  it('payload-dependent policies still run after validation (customerId == sub)', async () => {
    await expectCommand(KEYS.ada, 'CreateOrder', { orderId: 'x', customerId: 7 }, 400);
    const other = await expectCommand(
      KEYS.ada,
      'CreateOrder',
      { orderId: 'not-mine', customerId: 'bob', lines: [{ productId: 'sec-mug', quantity: 1 }] },
      403,
    );
    expect(other.body.code).toBe('FORBIDDEN');
  });
});

describe('Idempotency-Key', () => {
  it('the same key with a different body is 422 and applies nothing; the same body again is the first result', async () => {
    const headers = { 'idempotency-key': `restock-${Date.now()}` };
    const first = await shop.command('RestockProduct', { productId: 'sec-mug', quantity: 2 }, { key: KEYS.clerk, headers });
    expect(first.status).toBe(200);
    const before = await shop.eventCount();
    const other = await shop.command('RestockProduct', { productId: 'sec-mug', quantity: 5 }, { key: KEYS.clerk, headers });
    expect(other.status).toBe(422);
    expect(other.headers.get('content-type')).toContain('application/problem+json');
    expect(other.body.code).toBe('IDEMPOTENCY_MISMATCH');
    expect(await shop.eventCount()).toBe(before);
    const again = await shop.command('RestockProduct', { quantity: 2, productId: 'sec-mug' }, { key: KEYS.clerk, headers });
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);
    expect(await shop.eventCount()).toBe(before);
  });
});
