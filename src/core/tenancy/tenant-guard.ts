// Defence in depth for a tenant's own buses: whoever calls them directly, only that tenant's principals get through.
import { ChronicleError } from '../errors.js';
import type { Middleware } from '../middleware.js';
import { assertTenantId } from './tenant-id.js';

/**
 * Middleware for one tenant's command or query bus: a dispatch whose principal acts for another tenant, or for none,
 * is refused before validation, so an in-process caller (a process manager, a script) that reached the wrong bus
 * cannot write to or read from this tenant's store.
 * @throws INVALID_ARGUMENT at creation for a malformed tenant id; per dispatch UNAUTHENTICATED (no principal),
 *   FORBIDDEN (another tenant or none)
 */
export function tenantGuard(tenantId: string): Middleware {
  assertTenantId(tenantId);
  return (context, next) => {
    const { principal } = context;
    const what = `${context.kind === 'command' ? 'send' : 'run'} ${context.definition.name}`;
    if (principal === undefined) throw new ChronicleError('UNAUTHENTICATED', `authentication required to ${what}`);
    if (context.tenantId !== tenantId) {
      throw new ChronicleError('FORBIDDEN', `principal ${principal.id} does not act for tenant ${tenantId}, needed to ${what}`, {
        details: { principal: principal.id, roles: principal.roles },
      });
    }
    return next();
  };
}
