// The customer aggregate: registration and details. Email uniqueness is read through email-owner.ts.
import { assertNever, type CommandOf, type Decider, type DecisionModel, domainError, type EventOf, Query } from 'chronicle-es';
import type {
  CustomerDetailsUpdated,
  CustomerForgotten,
  CustomerRegistered,
  ForgetCustomer,
  RegisterCustomer,
  UpdateCustomerDetails,
} from '../messages/customers.js';
import type { Address } from '../messages/fields.js';
import { normalizeEmail } from '../messages/fields.js';
import { checkEmailFree, type EmailOwnerState } from './email-owner.js';
import { type InStream, inStream } from './in-stream.js';
import { notFound } from './refusals.js';
import { emailTag } from './tags.js';

export type CustomerCommand =
  | CommandOf<typeof RegisterCustomer>
  | CommandOf<typeof UpdateCustomerDetails>
  | CommandOf<typeof ForgetCustomer>;
export type CustomerEvent =
  | EventOf<typeof CustomerRegistered>
  | EventOf<typeof CustomerDetailsUpdated>
  | EventOf<typeof CustomerForgotten>;
/** A forgotten customer keeps its id only: its id cannot be registered again, nor its details changed. */
export type CustomerState =
  | { status: 'none' }
  | { status: 'registered'; customerId: string; name: string; email: string; address?: Address }
  | { status: 'forgotten'; customerId: string };

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
        if (state.status !== 'registered') throw notFound('customer', command.data.customerId);
        const { customerId, name, email, address } = command.data;
        const changed = {
          name: name !== undefined && name !== state.name ? name : undefined,
          email: email !== undefined && email !== state.email ? email : undefined,
          address: address !== undefined && JSON.stringify(address) !== JSON.stringify(state.address) ? address : undefined,
        };
        if (changed.name === undefined && changed.email === undefined && changed.address === undefined) return [];
        return [{ type: 'CustomerDetailsUpdated', data: { customerId, ...withoutUndefined(changed) } }];
      }
      case 'ForgetCustomer': {
        if (state.status === 'none') throw notFound('customer', command.data.customerId);
        // Again: nothing to record, but the handler deletes the key again (a first attempt may have stopped before).
        return state.status === 'forgotten' ? [] : [{ type: 'CustomerForgotten', data: { customerId: command.data.customerId } }];
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
      case 'CustomerForgotten':
        return { status: 'forgotten', customerId: event.data.customerId };
      default:
        return assertNever(event);
    }
  },
};

function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

export const customerStreamId = (customerId: string) => `customer-${customerId}`;

/** What a decision reads about a customer: the customer's own events, found by its stream id as a tag. */
export const customerModel = (customerId: string): DecisionModel<CustomerState, CustomerEvent> => ({
  query: Query.of({
    types: ['CustomerRegistered', 'CustomerDetailsUpdated', 'CustomerForgotten'],
    tags: [customerStreamId(customerId)],
  }),
  initialState: customer.initialState,
  evolve: customer.evolve,
});

/** Registers a customer; its CustomerRegistered carries the address's tag, which is what takes the address. */
export function registerCustomer(
  command: CommandOf<typeof RegisterCustomer>,
  state: { customer: CustomerState; email: EmailOwnerState },
): InStream<CustomerEvent>[] {
  const { customerId, email } = command.data;
  const events = customer.decide(command, state.customer);
  checkEmailFree(email, customerId, state.email);
  return inStream(customerStreamId(customerId), events, [emailTag(email)]);
}

/**
 * Updates a customer's details. An email change takes the new address and releases the old one: the event carries
 * both addresses' tags. `state.emails` holds the requested address's owner, keyed by the address normalized (empty
 * when the command names no email).
 */
export function updateCustomerDetails(
  command: CommandOf<typeof UpdateCustomerDetails>,
  state: { customer: CustomerState; emails: ReadonlyMap<string, EmailOwnerState> },
): InStream<CustomerEvent>[] {
  const { customerId } = command.data;
  const events = customer.decide(command, state.customer);
  const newEmail = events.find((e) => e.type === 'CustomerDetailsUpdated')?.data.email;
  if (newEmail === undefined || state.customer.status !== 'registered') return inStream(customerStreamId(customerId), events);
  const owner = state.emails.get(normalizeEmail(newEmail));
  // The handler reads the requested address; a miss is a wiring bug, not a refusal.
  if (owner === undefined) throw new Error(`the owner of ${newEmail} was not read`);
  checkEmailFree(newEmail, customerId, owner);
  // A change of letter case is one tag.
  const tags = [...new Set([emailTag(newEmail), emailTag(state.customer.email)])];
  return inStream(customerStreamId(customerId), events, tags);
}

/**
 * Forgets a customer: its CustomerForgotten carries the tag of the address it holds, which releases the address (the
 * handler then deletes the customer's key, so the address itself is never readable again).
 */
export function forgetCustomer(
  command: CommandOf<typeof ForgetCustomer>,
  state: { customer: CustomerState },
): InStream<CustomerEvent>[] {
  const events = customer.decide(command, state.customer);
  const tags = state.customer.status === 'registered' ? [emailTag(state.customer.email)] : [];
  return inStream(customerStreamId(command.data.customerId), events, tags);
}
