// Multi-tenant requests: the tenant a principal acts for, from its own pin, a token claim, or an admin's header.
import { assertTenantId, ChronicleError, type Principal } from 'chronicle-es';
import type { Authenticator, AuthRequest } from '../http-common/index.js';

/** Where tenantAuthenticator finds a principal's tenant, and who may name one. */
export type TenantAuthenticatorOptions = {
  /** The claim (e.g. of a JWT) naming the principal's tenant, when it has no `tenantId` of its own. Default `tenant`. */
  claim?: string;
  /** The header an admin names a tenant in; `false` reads none. Default `x-tenant`. */
  header?: string | false;
  /**
   * Whether a principal with no tenant of its own may act for `tenantId` (named in the header), e.g. an operator
   * whose claims list the tenants they serve. Default: none may.
   */
  mayActFor?(principal: Principal, tenantId: string): boolean;
};

/**
 * Wraps an authenticator so the principal it resolves carries the tenant it acts for (`tenantId`): its own, else its
 * `claim`, else, for a principal `mayActFor` allows, the one named in the header. A principal pinned to a tenant that
 * names another in the header is refused: it never reaches another tenant's data by asking.
 * @throws INVALID_ARGUMENT at creation for an empty claim or header name; per request, UNAUTHENTICATED (from
 *   `authenticate`), INVALID_ARGUMENT for a malformed header or tenant id, FORBIDDEN for a tenant the principal may
 *   not act for
 */
export function tenantAuthenticator(authenticate: Authenticator, options: TenantAuthenticatorOptions = {}): Authenticator {
  const claim = options.claim ?? 'tenant';
  const header = options.header === false ? undefined : (options.header ?? 'x-tenant').toLowerCase();
  if (claim === '' || header === '') {
    throw new ChronicleError('INVALID_ARGUMENT', 'tenantAuthenticator: claim and header names must not be empty');
  }
  const resolve = (request: AuthRequest, principal: Principal | undefined): Principal | undefined => {
    if (principal === undefined) return undefined;
    const own = principal.tenantId ?? principal.claims?.[claim];
    const named = header === undefined ? undefined : request.headers[header];
    if (named !== undefined && typeof named !== 'string') {
      throw new ChronicleError('INVALID_ARGUMENT', `one ${header} header at most`);
    }
    if (own !== undefined) {
      const tenantId = assertTenantId(own);
      if (named !== undefined && named !== tenantId)
        throw forbidden(principal, `is pinned to another tenant than ${shown(named)}`);
      return principal.tenantId === tenantId ? principal : { ...principal, tenantId };
    }
    if (named === undefined) return principal;
    const tenantId = assertTenantId(named);
    if (!options.mayActFor?.(principal, tenantId)) throw forbidden(principal, `may not act for tenant ${tenantId}`);
    return { ...principal, tenantId };
  };
  // Synchronous when `authenticate` is (API keys): no promise per request, as the plugin's own hook keeps it.
  return (request) => {
    const result = authenticate(request);
    if (typeof (result as PromiseLike<unknown> | undefined)?.then === 'function') {
      return Promise.resolve(result).then((principal) => resolve(request, principal));
    }
    return resolve(request, result as Principal | undefined);
  };
}

function forbidden(principal: Principal, what: string): ChronicleError {
  return new ChronicleError('FORBIDDEN', `principal ${principal.id} ${what}`, {
    details: { principal: principal.id, roles: principal.roles },
  });
}

function shown(value: string): string {
  return JSON.stringify(value.slice(0, 60));
}
