import { fold } from 'chronicle-es';
import { describe, expect, it } from 'vitest';
import { type CustomerEvent, customer, registerCustomer, updateCustomerDetails } from './customer.js';
import { type EmailOwnerEvent, type EmailOwnerState, emailOwner } from './email-owner.js';
import { emailTag } from './tags.js';

const registered: CustomerEvent = {
  type: 'CustomerRegistered',
  data: { customerId: 'c1', name: 'Ada Lovelace', email: 'ada@example.com' },
};
const state = (...events: CustomerEvent[]) => fold(customer, events);
const free = (email: string): EmailOwnerState => emailOwner(email).initialState;
const heldBy = (email: string, customerId: string): EmailOwnerState => ({ ...free(email), owner: customerId });
const owner = (email: string, ...events: EmailOwnerEvent[]) => fold(emailOwner(email), events).owner;

describe('customer', () => {
  it('registers a new customer; the event carries its address as a tag, which takes the address', () => {
    const events = registerCustomer(
      { type: 'RegisterCustomer', data: { customerId: 'c1', name: 'Ada Lovelace', email: 'Ada@Example.com' } },
      { customer: state(), email: free('Ada@Example.com') },
    );
    expect(events).toEqual([
      {
        streamId: 'customer-c1',
        type: 'CustomerRegistered',
        data: { customerId: 'c1', name: 'Ada Lovelace', email: 'Ada@Example.com' },
        tags: [emailTag('ada@example.com')],
      },
    ]);
  });

  it('refuses an id already registered', () => {
    expect(() =>
      customer.decide(
        { type: 'RegisterCustomer', data: { customerId: 'c1', name: 'X', email: 'x@example.com' } },
        state(registered),
      ),
    ).toThrow(expect.objectContaining({ code: 'DOMAIN_RULE', message: expect.stringContaining('already registered') }));
  });

  it('refuses an email another customer holds, whatever its letter case', () => {
    expect(() =>
      registerCustomer(
        { type: 'RegisterCustomer', data: { customerId: 'c2', name: 'Bob', email: 'ADA@example.com' } },
        { customer: state(), email: heldBy('ADA@example.com', 'c1') },
      ),
    ).toThrow(expect.objectContaining({ code: 'DOMAIN_RULE', message: expect.stringContaining('already used') }));
  });

  it('updates only the fields that change', () => {
    const events = customer.decide(
      { type: 'UpdateCustomerDetails', data: { customerId: 'c1', name: 'Ada Lovelace', email: 'ada@lovelace.org' } },
      state(registered),
    );
    expect(events).toEqual([{ type: 'CustomerDetailsUpdated', data: { customerId: 'c1', email: 'ada@lovelace.org' } }]);
    expect(fold(customer, events, state(registered))).toMatchObject({ name: 'Ada Lovelace', email: 'ada@lovelace.org' });
  });

  it('treats an update that changes nothing as done', () => {
    expect(
      customer.decide({ type: 'UpdateCustomerDetails', data: { customerId: 'c1', name: 'Ada Lovelace' } }, state(registered)),
    ).toEqual([]);
  });

  it('refuses to update a customer that does not exist (NOT_FOUND)', () => {
    expect(() => customer.decide({ type: 'UpdateCustomerDetails', data: { customerId: 'c9', name: 'Nobody' } }, state())).toThrow(
      expect.objectContaining({ code: 'NOT_FOUND' }),
    );
  });

  it('an email change carries the new address and the old one as tags: it takes one and releases the other', () => {
    const events = updateCustomerDetails(
      { type: 'UpdateCustomerDetails', data: { customerId: 'c1', email: 'Ada@Lovelace.org' } },
      { customer: state(registered), emails: new Map([['ada@lovelace.org', free('ada@lovelace.org')]]) },
    );
    expect(events).toEqual([
      {
        streamId: 'customer-c1',
        type: 'CustomerDetailsUpdated',
        data: { customerId: 'c1', email: 'Ada@Lovelace.org' },
        tags: [emailTag('ada@lovelace.org'), emailTag('ada@example.com')],
      },
    ]);
    const [updated] = events;
    expect(owner('ada@example.com', registered, updated)).toBeUndefined();
    expect(owner('ada@lovelace.org', updated)).toBe('c1');
  });

  it('an update without an email change carries no tag', () => {
    const events = updateCustomerDetails(
      { type: 'UpdateCustomerDetails', data: { customerId: 'c1', name: 'Ada King' } },
      { customer: state(registered), emails: new Map() },
    );
    expect(events).toEqual([
      { streamId: 'customer-c1', type: 'CustomerDetailsUpdated', data: { customerId: 'c1', name: 'Ada King' } },
    ]);
  });

  it('refuses an email change to an address another customer holds', () => {
    expect(() =>
      updateCustomerDetails(
        { type: 'UpdateCustomerDetails', data: { customerId: 'c1', email: 'bob@example.com' } },
        { customer: state(registered), emails: new Map([['bob@example.com', heldBy('bob@example.com', 'c2')]]) },
      ),
    ).toThrow(expect.objectContaining({ code: 'DOMAIN_RULE' }));
  });

  it('keeps the address when only the letter case changes: one tag, still held', () => {
    const events = updateCustomerDetails(
      { type: 'UpdateCustomerDetails', data: { customerId: 'c1', email: 'Ada@Example.com' } },
      { customer: state(registered), emails: new Map([['ada@example.com', heldBy('ada@example.com', 'c1')]]) },
    );
    expect(events.map((e) => e.tags)).toEqual([[emailTag('ada@example.com')]]);
    expect(owner('ada@example.com', registered, events[0])).toBe('c1');
  });

  it('refuses to decide without the requested address read', () => {
    expect(() =>
      updateCustomerDetails(
        { type: 'UpdateCustomerDetails', data: { customerId: 'c1', email: 'new@example.com' } },
        { customer: state(registered), emails: new Map() },
      ),
    ).toThrow('the owner of new@example.com was not read');
  });
});

describe('who holds an address', () => {
  const update = (customerId: string, email: string): EmailOwnerEvent => ({
    type: 'CustomerDetailsUpdated',
    data: { customerId, email },
  });

  it('frees a released address for the next customer', () => {
    const c2: EmailOwnerEvent = { type: 'CustomerRegistered', data: { customerId: 'c2', name: 'Eve', email: 'ADA@example.com' } };
    expect(owner('ada@example.com', registered, update('c1', 'ada@lovelace.org'))).toBeUndefined();
    expect(owner('ada@example.com', registered, update('c1', 'ada@lovelace.org'), c2)).toBe('c2');
  });

  it('is not moved by another customer naming some other address', () => {
    expect(owner('ada@example.com', registered, update('c2', 'bob@example.com'))).toBe('c1');
  });

  it('reads the claim streams of earlier versions (the reading rule for existing data)', () => {
    const model = emailOwner('Bob@Example.com');
    expect(model.query).toEqual([
      { types: ['CustomerRegistered', 'CustomerDetailsUpdated', 'CustomerForgotten'], tags: [emailTag('bob@example.com')] },
      { types: ['CustomerRegistered', 'CustomerDetailsUpdated'], tags: ['email:bob@example.com'] },
      { types: ['EmailClaimed', 'EmailReleased'], tags: ['customerEmail-bob@example.com'] },
    ]);
    const claimed: EmailOwnerEvent = { type: 'EmailClaimed', data: { email: 'bob@example.com', customerId: 'c2' } };
    const released: EmailOwnerEvent = { type: 'EmailReleased', data: { email: 'bob@example.com', customerId: 'c2' } };
    expect(owner('bob@example.com', claimed)).toBe('c2');
    expect(owner('bob@example.com', claimed, released)).toBeUndefined();
    // A legacy claim released by a new-style update: the holder moved to another address.
    expect(owner('bob@example.com', claimed, update('c2', 'bob@babbage.org'))).toBeUndefined();
    // A release by someone who does not hold it changes nothing.
    expect(owner('bob@example.com', claimed, { ...released, data: { ...released.data, customerId: 'c9' } })).toBe('c2');
  });
});
