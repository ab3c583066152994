// Email uniqueness: one `customerEmail-<email>` stream per address records which customer holds it.
// Claims are written in the same atomic append as the customer's own events, so two customers can never both win.
import { assertNever, type Decider, domainError, type EventOf } from 'chronicle-es';
import type { EmailClaimed, EmailReleased } from '../messages/customers.js';
import { normalizeEmail } from '../messages/fields.js';

export type EmailClaimCommand =
  | { type: 'ClaimEmail'; data: { email: string; customerId: string } }
  | { type: 'ReleaseEmail'; data: { email: string; customerId: string } };
export type EmailClaimEvent = EventOf<typeof EmailClaimed> | EventOf<typeof EmailReleased>;
export type EmailClaimState = { owner?: string };

export const emailStreamId = (email: string) => `customerEmail-${normalizeEmail(email)}`;

export const emailClaim: Decider<EmailClaimCommand, EmailClaimEvent, EmailClaimState> = {
  initialState: {},

  decide(command, state) {
    const { email, customerId } = command.data;
    const normalized = normalizeEmail(email);
    switch (command.type) {
      case 'ClaimEmail':
        if (state.owner === customerId) return [];
        if (state.owner !== undefined) throw domainError(`email ${email} is already used by another customer`);
        return [{ type: 'EmailClaimed', data: { email: normalized, customerId } }];
      case 'ReleaseEmail':
        return state.owner === customerId ? [{ type: 'EmailReleased', data: { email: normalized, customerId } }] : [];
      default:
        return assertNever(command);
    }
  },

  evolve(state, event) {
    switch (event.type) {
      case 'EmailClaimed':
        return { owner: event.data.customerId };
      case 'EmailReleased':
        return state.owner === event.data.customerId ? {} : state;
      default:
        return assertNever(event);
    }
  },
};
