// ForgetCustomer and the e-mail tags on the in-memory store behind crypto-shredding: the address never appears in a
// tag, a log whose tags are the plain address (before the keyed hash) still holds its addresses, and forgetting a
// customer frees its address and redacts its personal fields for the deciders.
import {
  type CommandBus,
  createCommandBus,
  createInMemoryEventStore,
  createInMemorySubjectKeyStore,
  FORGOTTEN,
  type Principal,
  withCryptoShredding,
} from 'chronicle-es';
import { beforeEach, describe, expect, it } from 'vitest';
import { registerCommands } from './commands.js';
import { emailTag } from './domain/tags.js';
import { shopEvents } from './messages/events.js';

const admin: Principal = { id: 'root', roles: ['admin'] };
let raw: ReturnType<typeof createInMemoryEventStore>;
let bus: CommandBus;
const send = (name: string, payload: unknown, principal: Principal = admin) =>
  bus.dispatch(name, payload, { principal }).then(
    () => 'ok',
    (err: { code?: string }) => err.code,
  );

beforeEach(() => {
  raw = createInMemoryEventStore();
  const store = withCryptoShredding(raw, { events: shopEvents, keys: createInMemorySubjectKeyStore() });
  bus = createCommandBus();
  registerCommands(bus, store, { forgetSubject: (id) => store.forget(id) });
});

describe('e-mail tags and ForgetCustomer', () => {
  it('tags a keyed hash of the address, never the address, and keeps addresses unique by it', async () => {
    expect(await send('RegisterCustomer', { customerId: 'ada', name: 'Ada Lovelace', email: 'Ada@Example.com' })).toBe('ok');
    const [registered] = await raw.readAll();
    expect(registered.tags).toEqual([emailTag('ada@example.com')]);
    expect(JSON.stringify(registered)).not.toMatch(/example\.com|Lovelace/i);
    expect(emailTag('ADA@example.com ')).toBe(emailTag('ada@example.com'));
    expect(emailTag('ada@example.com')).not.toBe(emailTag('bob@example.com'));
    expect(await send('RegisterCustomer', { customerId: 'eve', name: 'Eve', email: 'ada@EXAMPLE.com' })).toBe('DOMAIN_RULE');
  });

  it('still reads the plain-address tags of logs written before the keyed hash', async () => {
    await raw.append([
      {
        streamId: 'customer-old',
        type: 'CustomerRegistered',
        data: { customerId: 'old', name: 'Old Timer', email: 'old@example.com' },
        tags: ['email:old@example.com'],
      },
    ]);
    expect(await send('RegisterCustomer', { customerId: 'eve', name: 'Eve', email: 'Old@example.com' })).toBe('DOMAIN_RULE');
    // The old customer moves off the address (tagging both, under the new scheme): it is free.
    expect(await send('UpdateCustomerDetails', { customerId: 'old', email: 'new@example.com' })).toBe('ok');
    expect(await send('RegisterCustomer', { customerId: 'eve', name: 'Eve', email: 'old@example.com' })).toBe('ok');
  });

  it('forgets a customer: admin only, the address is freed, its details read as forgotten and cannot change', async () => {
    await send('RegisterCustomer', { customerId: 'ada', name: 'Ada', email: 'ada@example.com' });
    await send('UpdateCustomerDetails', { customerId: 'ada', email: 'ada@lovelace.org' });
    for (const roles of [['clerk'], ['reader'], ['customer']]) {
      expect(await send('ForgetCustomer', { customerId: 'ada' }, { id: 'ada', roles })).toBe('FORBIDDEN');
    }
    expect(await send('ForgetCustomer', { customerId: 'nobody' })).toBe('NOT_FOUND');
    expect(await send('ForgetCustomer', { customerId: 'ada' })).toBe('ok');
    expect(await send('ForgetCustomer', { customerId: 'ada' })).toBe('ok');
    const log = await raw.readAll();
    expect(log.map((e) => e.type)).toEqual(['CustomerRegistered', 'CustomerDetailsUpdated', 'CustomerForgotten']);
    expect(log[2].tags).toEqual([emailTag('ada@lovelace.org')]);
    expect(await send('UpdateCustomerDetails', { customerId: 'ada', name: 'Back' })).toBe('NOT_FOUND');
    expect(await send('RegisterCustomer', { customerId: 'ada', name: 'Ada', email: 'x@example.com' })).toBe('DOMAIN_RULE');
    // Both addresses it ever held are free.
    expect(await send('RegisterCustomer', { customerId: 'bob', name: 'Bob', email: 'ada@lovelace.org' })).toBe('ok');
    expect(await send('RegisterCustomer', { customerId: 'cy', name: 'Cy', email: 'ada@example.com' })).toBe('ok');
    expect(await send('CreateOrder', { orderId: 'o1', customerId: 'ada', lines: [{ productId: 'p', quantity: 1 }] })).toBe(
      'DOMAIN_RULE',
    );
    expect(FORGOTTEN).toBe('[forgotten]');
  });
});
