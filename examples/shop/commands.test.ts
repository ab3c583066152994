import {
  type CommandBus,
  createCommandBus,
  createInMemoryEventStore,
  type EventStore,
  type Principal,
  type TaggedEvent,
} from 'chronicle-es';
import { decisionSpec } from 'chronicle-es/testing';
import { beforeEach, describe, expect, it } from 'vitest';
import { registerCommands } from './commands.js';
import { emailTag } from './domain/tags.js';

const admin: Principal = { id: 'root', roles: ['admin'] };
const clerk: Principal = { id: 'kim', roles: ['clerk'] };
const reader: Principal = { id: 'rita', roles: ['reader'] };
const customerAda: Principal = { id: 'ada', roles: ['customer'] };
const customerBob: Principal = { id: 'bob', roles: ['customer'] };

let store: EventStore;
let bus: CommandBus;
let send: (name: string, payload: unknown, principal?: Principal, idempotencyKey?: string) => Promise<unknown>;
const code = (promise: Promise<unknown>) =>
  promise.then(
    () => 'ok',
    (err) => err.code,
  );
const types = async (streamId: string) => (await store.readStream(streamId)).map((e) => e.type);

beforeEach(async () => {
  store = createInMemoryEventStore();
  bus = createCommandBus();
  registerCommands(bus, store);
  send = (name, payload, principal = admin, idempotencyKey) => bus.dispatch(name, payload, { principal, idempotencyKey });
  await send('RegisterCustomer', { customerId: 'ada', name: 'Ada Lovelace', email: 'ada@example.com' });
  await send('RegisterCustomer', { customerId: 'bob', name: 'Bob Babbage', email: 'bob@example.com' });
  await send('CreateProduct', { productId: 'mug', sku: 'MUG-350', name: 'Stoneware mug', priceCents: 1450, currency: 'EUR' });
  await send('RestockProduct', { productId: 'mug', quantity: 10 });
});

describe('command wiring', () => {
  it('keeps emails unique across customers and moves the address on change', async () => {
    expect(await code(send('RegisterCustomer', { customerId: 'eve', name: 'Eve', email: 'ADA@example.com' }))).toBe(
      'DOMAIN_RULE',
    );
    expect(await code(send('UpdateCustomerDetails', { customerId: 'bob', email: 'ada@example.com' }))).toBe('DOMAIN_RULE');
    await send('UpdateCustomerDetails', { customerId: 'ada', email: 'ada@lovelace.org' });
    const [updated] = (await store.readStream('customer-ada')).slice(-1);
    expect(updated.tags).toEqual([emailTag('ada@lovelace.org'), emailTag('ada@example.com')]);
    // The old address is free again.
    expect(await code(send('RegisterCustomer', { customerId: 'eve', name: 'Eve', email: 'ada@example.com' }))).toBe('ok');
    expect(await code(send('UpdateCustomerDetails', { customerId: 'nobody', name: 'X' }))).toBe('NOT_FOUND');
  });

  it('takes and moves the longest valid address (254 characters), whose tag is longer than its address', async () => {
    const long = `${'a'.repeat(64)}@${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(61)}`;
    expect(long).toHaveLength(254);
    expect(await code(send('RegisterCustomer', { customerId: 'long', name: 'Long', email: long }))).toBe('ok');
    expect(await code(send('RegisterCustomer', { customerId: 'long2', name: 'Long', email: long.toUpperCase() }))).toBe(
      'DOMAIN_RULE',
    );
    expect(await code(send('UpdateCustomerDetails', { customerId: 'long', email: 'long@example.com' }))).toBe('ok');
    expect(await code(send('RegisterCustomer', { customerId: 'long2', name: 'Long', email: long }))).toBe('ok');
  });

  it('keeps skus unique', async () => {
    expect(
      await code(
        send('CreateProduct', { productId: 'mug2', sku: 'MUG-350', name: 'Another mug', priceCents: 1, currency: 'EUR' }),
      ),
    ).toBe('DOMAIN_RULE');
    expect(await types('product-mug2')).toEqual([]);
  });

  it('writes no claim streams: the sku and the address are tags on the events that take them', async () => {
    const log = await store.readAll();
    expect(log.filter((e) => ['SkuClaimed', 'EmailClaimed', 'EmailReleased'].includes(e.type))).toEqual([]);
    expect(new Set(log.map((e) => e.streamId.split('-')[0]))).toEqual(new Set(['customer', 'product']));
    expect(log.find((e) => e.type === 'ProductCreated')?.tags).toEqual(['sku:MUG-350']);
    expect(log.filter((e) => e.type === 'CustomerRegistered').map((e) => e.tags)).toEqual([
      [emailTag('ada@example.com')],
      [emailTag('bob@example.com')],
    ]);
  });

  it('a no-op names the stream it concerns', async () => {
    await send('CreateOrder', { orderId: 'o1', customerId: 'ada', lines: [{ productId: 'mug', quantity: 1 }] });
    await send('PayOrder', { orderId: 'o1' });
    const head = await store.headPosition();
    expect(await send('PayOrder', { orderId: 'o1' })).toMatchObject({ streamId: 'order-o1', version: 2 });
    expect(await send('UpdateCustomerDetails', { customerId: 'ada', name: 'Ada Lovelace' })).toMatchObject({
      streamId: 'customer-ada',
      version: 1,
    });
    expect(await store.headPosition()).toBe(head);
  });

  it('places, pays, ships an order and moves the stock', async () => {
    const placed = (await send(
      'CreateOrder',
      { orderId: 'o1', customerId: 'ada', lines: [{ productId: 'mug', quantity: 3 }] },
      customerAda,
    )) as {
      position: number;
    };
    expect(placed).toMatchObject({ streamId: 'order-o1', version: 1 });
    expect(placed.position).toBe(await store.headPosition());
    await send('PayOrder', { orderId: 'o1' }, customerAda);
    await send('ShipOrder', { orderId: 'o1' }, clerk);
    expect(await types('product-mug')).toEqual(['ProductCreated', 'ProductRestocked', 'StockReserved', 'StockShipped']);
    expect(await code(send('CancelOrder', { orderId: 'o1' }, customerAda))).toBe('DOMAIN_RULE');
  });

  it('cancelling releases the stock', async () => {
    await send('CreateOrder', { orderId: 'o1', customerId: 'ada', lines: [{ productId: 'mug', quantity: 10 }] });
    expect(
      await code(send('CreateOrder', { orderId: 'o2', customerId: 'bob', lines: [{ productId: 'mug', quantity: 1 }] })),
    ).toBe('DOMAIN_RULE');
    await send('CancelOrder', { orderId: 'o1', reason: 'duplicate' }, customerAda);
    expect(
      await code(send('CreateOrder', { orderId: 'o2', customerId: 'bob', lines: [{ productId: 'mug', quantity: 10 }] })),
    ).toBe('ok');
  });

  it('refuses an order for an unknown product and writes nothing anywhere', async () => {
    const before = await store.headPosition();
    const lines = [
      { productId: 'mug', quantity: 1 },
      { productId: 'ghost', quantity: 1 },
    ];
    expect(await code(send('CreateOrder', { orderId: 'o1', customerId: 'ada', lines }))).toBe('DOMAIN_RULE');
    expect(await store.headPosition()).toBe(before);
  });

  it('refuses the same product twice in one order as invalid input', async () => {
    const lines = [
      { productId: 'mug', quantity: 1 },
      { productId: 'mug', quantity: 2 },
    ];
    expect(await code(send('CreateOrder', { orderId: 'o1', customerId: 'ada', lines }))).toBe('VALIDATION_FAILED');
  });

  it('sells exactly the stock under 50 concurrent orders for 10 units', async () => {
    const outcomes = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        code(
          send('CreateOrder', {
            orderId: `race-${i}`,
            customerId: i % 2 ? 'ada' : 'bob',
            lines: [{ productId: 'mug', quantity: 1 }],
          }),
        ),
      ),
    );
    expect(outcomes.filter((o) => o === 'ok')).toHaveLength(10);
    expect(outcomes.filter((o) => o === 'DOMAIN_RULE')).toHaveLength(40);
  });

  it('enforces the role matrix and writes nothing when denied', async () => {
    const before = await store.headPosition();
    const price = { productId: 'mug', priceCents: 1200 };
    expect(await code(send('ChangeProductPrice', price, reader))).toBe('FORBIDDEN');
    expect(await code(send('ChangeProductPrice', price, customerAda))).toBe('FORBIDDEN');
    expect(await code(bus.dispatch('ChangeProductPrice', price))).toBe('UNAUTHENTICATED');
    expect(await code(send('RegisterCustomer', { customerId: 'eve', name: 'Eve', email: 'eve@example.com' }, customerAda))).toBe(
      'FORBIDDEN',
    );
    expect(
      await code(
        send('CreateOrder', { orderId: 'o9', customerId: 'bob', lines: [{ productId: 'mug', quantity: 1 }] }, customerAda),
      ),
    ).toBe('FORBIDDEN');
    expect(await store.headPosition()).toBe(before);
    expect(await code(send('ChangeProductPrice', price, clerk))).toBe('ok');
  });

  it('lets a customer pay and cancel only its own orders', async () => {
    await send('CreateOrder', { orderId: 'o1', customerId: 'ada', lines: [{ productId: 'mug', quantity: 1 }] });
    const before = await store.headPosition();
    // Another customer's order answers as an unknown one would: its existence is not Bob's business.
    expect(await code(send('PayOrder', { orderId: 'o1' }, customerBob))).toBe('NOT_FOUND');
    expect(await code(send('CancelOrder', { orderId: 'o1' }, customerBob))).toBe('NOT_FOUND');
    expect(await code(send('ShipOrder', { orderId: 'o1' }, customerAda))).toBe('FORBIDDEN');
    expect(await store.headPosition()).toBe(before);
    expect(await code(send('PayOrder', { orderId: 'o1' }, customerAda))).toBe('ok');
  });

  it('answers a repeated idempotency key with the first result', async () => {
    const order = { orderId: 'o1', customerId: 'ada', lines: [{ productId: 'mug', quantity: 1 }] };
    const first = await send('CreateOrder', order, admin, 'key-1');
    const again = await send('CreateOrder', order, admin, 'key-1');
    expect(again).toEqual(first);
    expect(await types('product-mug')).toHaveLength(3);
  });
});

describe('the wiring, given what earlier versions wrote', () => {
  // The whole Shop's wiring as one handler: the command's type picks its registered handler.
  const shop = decisionSpec((store) => {
    const wired = createCommandBus();
    registerCommands(wired, store);
    return (command, context) => wired.dispatch(command.type, command.data, { principal: admin, ...context });
  });
  const legacyClaims: TaggedEvent[] = [
    { streamId: 'customer-ada', type: 'CustomerRegistered', data: { customerId: 'ada', name: 'Ada', email: 'Ada@Example.com' } },
    { streamId: 'customerEmail-ada@example.com', type: 'EmailClaimed', data: { email: 'ada@example.com', customerId: 'ada' } },
    {
      streamId: 'product-mug',
      type: 'ProductCreated',
      data: { productId: 'mug', sku: 'MUG-350', name: 'Mug', priceCents: 1, currency: 'EUR' },
    },
    { streamId: 'productSku-MUG-350', type: 'SkuClaimed', data: { sku: 'MUG-350', productId: 'mug' } },
  ];

  it('refuses a sku and an address claimed on the old claim streams, and writes nothing', async () => {
    const product = { productId: 'mug2', sku: 'MUG-350', name: 'Mug', priceCents: 1, currency: 'EUR' };
    await shop
      .given(legacyClaims)
      .when({ type: 'CreateProduct', data: product })
      .thenFails('DOMAIN_RULE', /sku MUG-350/);
    const eve = { customerId: 'eve', name: 'Eve', email: 'ADA@example.com' };
    await shop
      .given(legacyClaims)
      .when({ type: 'RegisterCustomer', data: eve })
      .thenFails('DOMAIN_RULE', /already used/);
  });

  it('releases an old claim with a tagged event, writing no claim stream', async () => {
    await shop
      .given(legacyClaims)
      .when({ type: 'UpdateCustomerDetails', data: { customerId: 'ada', email: 'ada@lovelace.org' } })
      .then([
        {
          streamId: 'customer-ada',
          type: 'CustomerDetailsUpdated',
          data: { customerId: 'ada', email: 'ada@lovelace.org' },
          tags: [emailTag('ada@lovelace.org'), emailTag('ada@example.com')],
        },
      ]);
    const released = { streamId: 'customer-ada', type: 'CustomerDetailsUpdated', data: { customerId: 'ada', email: 'a@b.org' } };
    // given() appends in one tagged append, grouped by stream in order of first appearance: the claim stream comes
    // first here so that the claim is stored before the release.
    const [registered, claimed] = legacyClaims;
    await shop
      .given([claimed, registered, { ...released, tags: [emailTag('a@b.org'), emailTag('ada@example.com')] }])
      .when({ type: 'RegisterCustomer', data: { customerId: 'eve', name: 'Eve', email: 'ada@example.com' } })
      .then([
        {
          streamId: 'customer-eve',
          type: 'CustomerRegistered',
          data: { customerId: 'eve', name: 'Eve', email: 'ada@example.com' },
          tags: [emailTag('ada@example.com')],
        },
      ]);
  });
});
