import { fold } from 'chronicle-es';
import { describe, expect, it } from 'vitest';
import { type CustomerEvent, customer, registerCustomer, updateCustomerDetails } from './customer.js';
import { emailClaim } from './email-claim.js';

const registered: CustomerEvent = {
  type: 'CustomerRegistered',
  data: { customerId: 'c1', name: 'Ada Lovelace', email: 'ada@example.com' },
};
const state = (...events: CustomerEvent[]) => fold(customer, events);
const free = emailClaim.initialState;
const heldBy = (customerId: string) => ({ owner: customerId });

describe('customer', () => {
  it('registers a new customer and claims its email', () => {
    const writes = registerCustomer(
      { type: 'RegisterCustomer', data: { customerId: 'c1', name: 'Ada Lovelace', email: 'Ada@Example.com' } },
      { customer: state(), email: free },
    );
    expect(writes).toEqual([
      {
        streamId: 'customer-c1',
        events: [{ type: 'CustomerRegistered', data: { customerId: 'c1', name: 'Ada Lovelace', email: 'Ada@Example.com' } }],
      },
      {
        streamId: 'customerEmail-ada@example.com',
        events: [{ type: 'EmailClaimed', data: { email: 'ada@example.com', customerId: 'c1' } }],
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
        { customer: state(), email: heldBy('c1') },
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

  it('moves the email claim when the email changes', () => {
    const writes = updateCustomerDetails(
      { type: 'UpdateCustomerDetails', data: { customerId: 'c1', email: 'ada@lovelace.org' } },
      {
        customer: state(registered),
        emails: new Map([
          ['customerEmail-ada@lovelace.org', free],
          ['customerEmail-ada@example.com', heldBy('c1')],
        ]),
      },
    );
    expect(writes.map((w) => [w.streamId, w.events.map((e) => e.type)])).toEqual([
      ['customer-c1', ['CustomerDetailsUpdated']],
      ['customerEmail-ada@lovelace.org', ['EmailClaimed']],
      ['customerEmail-ada@example.com', ['EmailReleased']],
    ]);
  });

  it('refuses an email change to an address another customer holds', () => {
    expect(() =>
      updateCustomerDetails(
        { type: 'UpdateCustomerDetails', data: { customerId: 'c1', email: 'bob@example.com' } },
        {
          customer: state(registered),
          emails: new Map([
            ['customerEmail-bob@example.com', heldBy('c2')],
            ['customerEmail-ada@example.com', heldBy('c1')],
          ]),
        },
      ),
    ).toThrow(expect.objectContaining({ code: 'DOMAIN_RULE' }));
  });

  it('keeps the claim when only the letter case changes', () => {
    const writes = updateCustomerDetails(
      { type: 'UpdateCustomerDetails', data: { customerId: 'c1', email: 'Ada@Example.com' } },
      { customer: state(registered), emails: new Map([['customerEmail-ada@example.com', heldBy('c1')]]) },
    );
    expect(writes.map((w) => [w.streamId, w.events.length])).toEqual([
      ['customer-c1', 1],
      ['customerEmail-ada@example.com', 0],
    ]);
  });

  it('frees a released email for the next customer', () => {
    const released = fold(emailClaim, [
      { type: 'EmailClaimed', data: { email: 'ada@example.com', customerId: 'c1' } },
      { type: 'EmailReleased', data: { email: 'ada@example.com', customerId: 'c1' } },
    ]);
    expect(
      emailClaim.decide({ type: 'ClaimEmail', data: { email: 'ada@example.com', customerId: 'c2' } }, released),
    ).toHaveLength(1);
  });
});
