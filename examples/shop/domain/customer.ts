// The customer aggregate: registration and details. Email uniqueness lives in email-claim.ts.
import { assertNever, type CommandOf, type Decider, domainError, type EventOf } from 'chronicle-es';
import type {
  CustomerDetailsUpdated,
  CustomerRegistered,
  RegisterCustomer,
  UpdateCustomerDetails,
} from '../messages/customers.js';
import type { Address } from '../messages/fields.js';
import { type EmailClaimCommand, type EmailClaimState, emailClaim, emailStreamId } from './email-claim.js';
import { notFound } from './refusals.js';
import type { StreamEvents } from './stream-events.js';

export type CustomerCommand = CommandOf<typeof RegisterCustomer> | CommandOf<typeof UpdateCustomerDetails>;
export type CustomerEvent = EventOf<typeof CustomerRegistered> | EventOf<typeof CustomerDetailsUpdated>;
export type CustomerState =
  | { status: 'none' }
  | { status: 'registered'; customerId: string; name: string; email: string; address?: Address };

export const customer: Decider<CustomerCommand, CustomerEvent, CustomerState> = {
  initialState: { status: 'none' },

  decide(command, state) {
    switch (command.type) {
      case 'RegisterCustomer': {
        if (state.status !== 'none')
          throw domainError(`customer ${JSON.stringify(command.data.customerId)} is already registered`);
        return [{ type: 'CustomerRegistered', data: command.data }];
      }
      case 'UpdateCustomerDetails': {
        if (state.status === 'none') throw notFound('customer', command.data.customerId);
        const { customerId, name, email, address } = command.data;
        const changed = {
          name: name !== undefined && name !== state.name ? name : undefined,
          email: email !== undefined && email !== state.email ? email : undefined,
          address: address !== undefined && JSON.stringify(address) !== JSON.stringify(state.address) ? address : undefined,
        };
        if (changed.name === undefined && changed.email === undefined && changed.address === undefined) return [];
        return [{ type: 'CustomerDetailsUpdated', data: { customerId, ...withoutUndefined(changed) } }];
      }
      default:
        return assertNever(command);
    }
  },

  evolve(state, event) {
    switch (event.type) {
      case 'CustomerRegistered':
        return { status: 'registered', ...event.data };
      case 'CustomerDetailsUpdated':
        if (state.status !== 'registered') return state;
        return { ...state, ...withoutUndefined(event.data) };
      default:
        return assertNever(event);
    }
  },
};

function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

export const customerStreamId = (customerId: string) => `customer-${customerId}`;

/** Registers a customer and claims its email in one decision. */
export function registerCustomer(
  command: CommandOf<typeof RegisterCustomer>,
  state: { customer: CustomerState; email: EmailClaimState },
): StreamEvents {
  const { customerId, email } = command.data;
  return [
    { streamId: customerStreamId(customerId), events: customer.decide(command, state.customer) },
    {
      streamId: emailStreamId(email),
      events: emailClaim.decide({ type: 'ClaimEmail', data: { email, customerId } }, state.email),
    },
  ];
}

/**
 * Updates a customer's details; an email change claims the new address and releases the old one.
 * `state.emails` holds the claim streams the caller loaded (the current and the requested address).
 */
export function updateCustomerDetails(
  command: CommandOf<typeof UpdateCustomerDetails>,
  state: { customer: CustomerState; emails: ReadonlyMap<string, EmailClaimState> },
): StreamEvents {
  const { customerId } = command.data;
  const events = customer.decide(command, state.customer);
  const writes: StreamEvents = [{ streamId: customerStreamId(customerId), events }];
  const newEmail = events.find((e) => e.type === 'CustomerDetailsUpdated')?.data.email;
  if (newEmail === undefined || state.customer.status !== 'registered') return writes;
  const claim = (type: EmailClaimCommand['type'], email: string) => {
    const claimState = state.emails.get(emailStreamId(email));
    // The handler loads both claims; a miss is a wiring bug, not a refusal.
    if (claimState === undefined) throw new Error(`the claim on ${email} was not loaded`);
    writes.push({ streamId: emailStreamId(email), events: emailClaim.decide({ type, data: { email, customerId } }, claimState) });
  };
  claim('ClaimEmail', newEmail);
  // A change of letter case keeps the same claim.
  if (emailStreamId(newEmail) !== emailStreamId(state.customer.email)) claim('ReleaseEmail', state.customer.email);
  return writes;
}
