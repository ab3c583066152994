// Who may reach an operator endpoint (the event stream, metrics): anyone, any principal, or one holding a role.
import { ChronicleError } from 'chronicle-es';
import type { onRequestHookHandler } from 'fastify';

/**
 * Access to an endpoint: `{ public: true }` lets anyone in; otherwise a principal is required (401 without one),
 * and with `roles` it must hold one of them (403 otherwise).
 */
export type EndpointAccess = { public?: boolean; roles?: readonly string[] };

/**
 * The onRequest hooks enforcing `access` after `authenticate` (empty when public).
 * @throws INVALID_ARGUMENT for an access both public and limited to roles
 */
export function accessHooks(
  access: EndpointAccess,
  what: string,
  authenticate: onRequestHookHandler | undefined,
): onRequestHookHandler[] {
  const roles = access.roles;
  if (access.public === true) {
    if (roles !== undefined) throw new ChronicleError('INVALID_ARGUMENT', `${what}: public access takes no roles`);
    return [];
  }
  if (roles !== undefined && roles.length === 0) {
    throw new ChronicleError('INVALID_ARGUMENT', `${what}: roles must name at least one role`);
  }
  const check: onRequestHookHandler = (request, _reply, done) => {
    const principal = request.chroniclePrincipal;
    if (principal === undefined) return done(new ChronicleError('UNAUTHENTICATED', `authentication required for ${what}`));
    if (roles !== undefined && !roles.some((role) => principal.roles.includes(role))) {
      return done(new ChronicleError('FORBIDDEN', `${what} requires role ${roles.join(' or ')}`));
    }
    done();
  };
  return authenticate ? [authenticate, check] : [check];
}
