// Who may reach an operator endpoint (the event stream, metrics), as Fastify onRequest hooks over the shared check.
import type { onRequestHookHandler } from 'fastify';
import { type EndpointAccess, endpointAccessCheck } from '../http-common/index.js';

export type { EndpointAccess };

/**
 * The onRequest hooks enforcing `access` after `authenticate` (empty when public).
 * @throws INVALID_ARGUMENT for an access both public and limited to roles
 */
export function accessHooks(
  access: EndpointAccess,
  what: string,
  authenticate: onRequestHookHandler | undefined,
): onRequestHookHandler[] {
  const refusal = endpointAccessCheck(access, what);
  if (!refusal) return [];
  const check: onRequestHookHandler = (request, _reply, done) => {
    const err = refusal(request.chroniclePrincipal);
    if (err) return done(err);
    done();
  };
  return authenticate ? [authenticate, check] : [check];
}
