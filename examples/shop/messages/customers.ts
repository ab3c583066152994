// Customers: registration and details, the events they cause, and the query that reads them.
import { defineCommand, defineEvent, defineQuery, personal } from 'chronicle-es';
import { z } from 'zod';
import { allowSelf, may, STAFF } from './access.js';
import { address, centsSum, email, entityId, name } from './fields.js';

export const RegisterCustomer = defineCommand(
  'RegisterCustomer',
  z.strictObject({ customerId: entityId, name, email, address: address.optional() }),
  {
    description: 'Registers a customer; the email must be unused by any other customer.',
    roles: may('customer'),
    policy: (principal, p) => allowSelf(principal, p.customerId),
  },
);

export const UpdateCustomerDetails = defineCommand(
  'UpdateCustomerDetails',
  z
    .strictObject({ customerId: entityId, name: name.optional(), email: email.optional(), address: address.optional() })
    .refine((p) => p.name !== undefined || p.email !== undefined || p.address !== undefined, {
      message: 'give at least one of name, email, address',
    }),
  {
    description: 'Changes a customer’s name, email or address; a new email must be unused.',
    roles: may('customer'),
    policy: (principal, p) => allowSelf(principal, p.customerId),
  },
);

export const ForgetCustomer = defineCommand('ForgetCustomer', z.strictObject({ customerId: entityId }), {
  description:
    'Forgets a customer (right to be forgotten): deletes its key, so its name, email and address read as "[forgotten]" everywhere, and anonymises the read models. Admin only.',
  roles: may(),
});

// Name, email and address are personal: stored only encrypted with the customer's own key (crypto-shredding).
export const CustomerRegistered = defineEvent(
  'CustomerRegistered',
  z.object({
    customerId: z.string(),
    name: personal(z.string()),
    email: personal(z.string()),
    address: personal(address).optional(),
  }),
  { subject: 'customerId' },
);

/** Carries only the fields that changed. */
export const CustomerDetailsUpdated = defineEvent(
  'CustomerDetailsUpdated',
  z.object({
    customerId: z.string(),
    name: personal(z.string()).optional(),
    email: personal(z.string()).optional(),
    address: personal(address).optional(),
  }),
  { subject: 'customerId' },
);

/** The customer's key was deleted: its personal fields read as "[forgotten]"; read models drop what they copied. */
export const CustomerForgotten = defineEvent('CustomerForgotten', z.object({ customerId: z.string() }));

/**
 * Legacy, never written now: on a `customerEmail-…` stream, the address belongs to this customer (until released).
 * Logs written before tags hold these; the e-mail rule still reads them (domain/email-owner.ts).
 */
export const EmailClaimed = defineEvent('EmailClaimed', z.object({ email: z.string(), customerId: z.string() }));
/** Legacy, never written now: on a `customerEmail-…` stream, the customer gave the address up. */
export const EmailReleased = defineEvent('EmailReleased', z.object({ email: z.string(), customerId: z.string() }));

export const customerView = z.object({
  customerId: z.string(),
  name: z.string(),
  email: z.string(),
  address: address.nullable(),
  orderCount: z.number().int(),
  /** Paid, not cancelled orders; a plain sum, so read `spentByCurrency` when a customer buys in several currencies. */
  totalSpentCents: centsSum,
  spentByCurrency: z.record(z.string(), centsSum),
});
export type CustomerView = z.output<typeof customerView>;

export const GetCustomerById = defineQuery('GetCustomerById', z.strictObject({ customerId: entityId }), {
  description: 'A customer with its order count and what it has spent (paid orders, not cancelled).',
  result: customerView,
  reads: ['customers'],
  roles: may(...STAFF, 'customer'),
  policy: (principal, p) => allowSelf(principal, p.customerId, ...STAFF),
});
