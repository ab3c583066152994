// E-mail uniqueness without a claim stream: the customer events that take or release an address carry its tag
// (CustomerRegistered takes one; CustomerDetailsUpdated with a new address takes it and releases the old one).
import { type DecisionModel, domainError, type EventOf } from 'chronicle-es';
import type {
  CustomerDetailsUpdated,
  CustomerForgotten,
  CustomerRegistered,
  EmailClaimed,
  EmailReleased,
} from '../messages/customers.js';
import { normalizeEmail } from '../messages/fields.js';
import { emailTag, legacyEmailStreamId, legacyEmailTag } from './tags.js';

export type EmailOwnerEvent =
  | EventOf<typeof CustomerRegistered>
  | EventOf<typeof CustomerDetailsUpdated>
  | EventOf<typeof CustomerForgotten>
  | EventOf<typeof EmailClaimed>
  | EventOf<typeof EmailReleased>;
/** The address (normalized) and the customer holding it, if any. */
export type EmailOwnerState = { email: string; owner?: string };

// Module-level, so every address's model shares one evolve: the decision handler caches by query and evolve. An
// update's data names only the new address: it takes this one when it names it (a change of letter case by the
// holder keeps it), and releases it when its holder names another.
function evolve(state: EmailOwnerState, event: EmailOwnerEvent): EmailOwnerState {
  switch (event.type) {
    case 'CustomerRegistered':
    case 'EmailClaimed':
      return { email: state.email, owner: event.data.customerId };
    case 'CustomerDetailsUpdated': {
      const { customerId, email } = event.data;
      if (email === undefined) return state;
      if (normalizeEmail(email) === state.email) return { email: state.email, owner: customerId };
      return state.owner === customerId ? { email: state.email } : state;
    }
    // A forgotten customer's address is free again; its other events then read the address as "[forgotten]", which
    // names no address, so they release it too.
    case 'CustomerForgotten':
    case 'EmailReleased':
      return state.owner === event.data.customerId ? { email: state.email } : state;
  }
}

/**
 * Who holds `email`, compared case-insensitively. Reading rule for existing data: logs written before the tag was a
 * keyed hash tagged the address in plain text (still read); logs written before tags hold claims
 * and releases on the `customerEmail-<email>` stream (EmailClaimed, EmailReleased), found by its stream id (a stream
 * id counts as a tag), so they still count.
 */
export function emailOwner(email: string): DecisionModel<EmailOwnerState, EmailOwnerEvent> {
  return {
    query: [
      { types: ['CustomerRegistered', 'CustomerDetailsUpdated', 'CustomerForgotten'], tags: [emailTag(email)] },
      // Logs written before the tag was a keyed hash tagged the address itself.
      { types: ['CustomerRegistered', 'CustomerDetailsUpdated'], tags: [legacyEmailTag(email)] },
      { types: ['EmailClaimed', 'EmailReleased'], tags: [legacyEmailStreamId(email)] },
    ],
    initialState: { email: normalizeEmail(email) },
    evolve,
  };
}

/** @throws DOMAIN_RULE when another customer holds the address */
export function checkEmailFree(email: string, customerId: string, state: EmailOwnerState): void {
  if (state.owner !== undefined && state.owner !== customerId) {
    throw domainError(`email ${email} is already used by another customer`);
  }
}
