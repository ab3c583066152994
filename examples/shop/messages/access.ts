// The Shop's roles and the small vocabulary its message policies are written in.
import { ChronicleError, type Principal } from 'chronicle-es';

/** The roles a credential may carry (API keys, JWTs, the demo keys). */
export const ROLES = ['admin', 'clerk', 'customer', 'reader'] as const;
export type Role = (typeof ROLES)[number];

/**
 * The role of the Shop's own workflows (expiring orders, fulfilment, stock alerts): the principal they send commands
 * as is `{ id: 'chronicle-workflows', roles: ['system'] }`. No API key may carry it (auth.ts accepts only ROLES).
 */
export const SYSTEM_ROLE = 'system';
/** Who a message may be sent by: a credential's role, or the workflows'. */
export type Sender = Role | typeof SYSTEM_ROLE;

/** A policy's answer: true, or the reason for refusing. */
export type Verdict = true | string;

export function hasRole(principal: Principal | undefined, role: Sender): boolean {
  return principal?.roles.includes(role) ?? false;
}

/** Allowed when the principal holds one of `roles`; admin always may. */
export function allow(principal: Principal | undefined, ...roles: Sender[]): Verdict {
  if (hasRole(principal, 'admin') || roles.some((role) => hasRole(principal, role))) return true;
  return `requires role ${['admin', ...roles].join(' or ')}`;
}

/** Staff roles pass; a customer passes only for its own customer id (`customerId == sub`). */
export function allowSelf(principal: Principal | undefined, customerId: string, ...staff: Role[]): Verdict {
  if (allow(principal, ...staff) === true) return true;
  if (hasRole(principal, 'customer') && principal?.id === customerId) return true;
  return hasRole(principal, 'customer') ? 'a customer may only act on its own account' : allow(principal, ...staff);
}

/**
 * The customer a principal is confined to, or undefined when it may act for anyone.
 * Commands that name an order (not a customer) check the order's owner against it before deciding.
 */
export function confinedTo(principal: Principal | undefined): string | undefined {
  if (principal === undefined || hasRole(principal, 'admin') || hasRole(principal, 'clerk')) return undefined;
  return hasRole(principal, 'customer') ? principal.id : undefined;
}

export const STAFF: Role[] = ['clerk', 'reader'];

/**
 * The roles that may ever send a message: admin and `roles`. The buses check them before validating the payload,
 * so a principal that may never send it gets 403 (no principal: 401) whatever the body; policies that depend on the
 * payload (`customerId == sub`) run after validation.
 */
export function may(...roles: Sender[]): readonly Sender[] {
  return ['admin', ...roles];
}

/**
 * What a query answers for a missing row — and for one the principal may not see, when even its existence is private
 * (another customer's order): the same error, so the two cannot be told apart.
 */
export function notFound(kind: string, id: string): ChronicleError {
  return new ChronicleError('NOT_FOUND', `${kind} ${JSON.stringify(id)} not found`, { details: { [`${kind}Id`]: id } });
}
