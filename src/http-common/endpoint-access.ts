// Who may reach an operator endpoint (the event stream, metrics): anyone, any principal, or one holding a role.
import { ChronicleError, type Principal } from 'chronicle-es';

/**
 * Access to an endpoint: `{ public: true }` lets anyone in; otherwise a principal is required (401 without one),
 * and with `roles` it must hold one of them (403 otherwise).
 */
export type EndpointAccess = { public?: boolean; roles?: readonly string[] };

/**
 * Checks `access` once at setup and returns the per-request check: it answers the error to raise, or undefined.
 * @throws INVALID_ARGUMENT for an access both public and limited to roles, or limited to no role
 */
export function endpointAccessCheck(
  access: EndpointAccess,
  what: string,
): ((principal: Principal | undefined) => ChronicleError | undefined) | undefined {
  const roles = access.roles;
  if (access.public === true) {
    if (roles !== undefined) throw new ChronicleError('INVALID_ARGUMENT', `${what}: public access takes no roles`);
    return undefined;
  }
  if (roles !== undefined && roles.length === 0) {
    throw new ChronicleError('INVALID_ARGUMENT', `${what}: roles must name at least one role`);
  }
  return (principal) => {
    if (principal === undefined) return new ChronicleError('UNAUTHENTICATED', `authentication required for ${what}`);
    if (roles !== undefined && !roles.some((role) => principal.roles.includes(role))) {
      return new ChronicleError('FORBIDDEN', `${what} requires role ${roles.join(' or ')}`);
    }
    return undefined;
  };
}
