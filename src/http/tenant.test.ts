import type { Principal } from 'chronicle-es';
import { describe, expect, it } from 'vitest';
import type { Authenticator } from '../http-common/index.js';
import { tenantAuthenticator } from './tenant.js';

const principals: Record<string, Principal> = {
  alice: { id: 'alice', roles: ['clerk'], tenantId: 'a' },
  carol: { id: 'carol', roles: ['clerk'], claims: { tenant: 'b' } },
  dave: { id: 'dave', roles: ['clerk'] },
  root: { id: 'root', roles: ['clerk'], claims: { tenants: ['a', 'b'] } },
  mallory: { id: 'mallory', roles: ['clerk'], tenantId: '../a' },
};
// Who: the `x-user` header (a stand-in for checked credentials).
const byUser: Authenticator = (request) => {
  const user = request.headers['x-user'];
  return typeof user === 'string' ? principals[user] : undefined;
};
const mayActFor = (principal: Principal, tenantId: string) =>
  Array.isArray(principal.claims?.tenants) && principal.claims.tenants.includes(tenantId);

const request = (headers: Record<string, string | string[]>) => ({ headers });

function codeOf(run: () => unknown): string | undefined {
  try {
    run();
    return undefined;
  } catch (err) {
    return (err as { code?: string }).code ?? 'not a ChronicleError';
  }
}

describe('tenantAuthenticator', () => {
  const authenticate = tenantAuthenticator(byUser, { mayActFor });

  it("gives a principal its own tenant, or its claim's", () => {
    expect(authenticate(request({ 'x-user': 'alice' }))).toBe(principals.alice);
    expect(authenticate(request({ 'x-user': 'carol' }))).toEqual({ ...principals.carol, tenantId: 'b' });
    expect(authenticate(request({ 'x-user': 'alice', 'x-tenant': 'a' }))).toBe(principals.alice);
    // No tenant is not an error here: the tenant buses refuse it (403) where a tenant is needed.
    expect(authenticate(request({ 'x-user': 'dave' }))).toBe(principals.dave);
    expect(authenticate(request({ 'x-tenant': 'a' }))).toBeUndefined();
  });

  it('refuses a pinned principal naming another tenant, and a header from one not allowed to act for it', () => {
    expect(codeOf(() => authenticate(request({ 'x-user': 'alice', 'x-tenant': 'b' })))).toBe('FORBIDDEN');
    expect(codeOf(() => authenticate(request({ 'x-user': 'carol', 'x-tenant': 'a' })))).toBe('FORBIDDEN');
    expect(codeOf(() => authenticate(request({ 'x-user': 'dave', 'x-tenant': 'a' })))).toBe('FORBIDDEN');
    expect(codeOf(() => authenticate(request({ 'x-user': 'root', 'x-tenant': 'c' })))).toBe('FORBIDDEN');
    expect(authenticate(request({ 'x-user': 'root', 'x-tenant': 'b' }))).toEqual({ ...principals.root, tenantId: 'b' });
  });

  it('refuses malformed tenant ids and repeated headers with INVALID_ARGUMENT', () => {
    for (const bad of ['../b', 'B', "b'--", '']) {
      expect(
        codeOf(() => authenticate(request({ 'x-user': 'root', 'x-tenant': bad }))),
        bad,
      ).toBe('INVALID_ARGUMENT');
    }
    expect(codeOf(() => authenticate(request({ 'x-user': 'root', 'x-tenant': ['a', 'b'] })))).toBe('INVALID_ARGUMENT');
    expect(codeOf(() => authenticate(request({ 'x-user': 'mallory' })))).toBe('INVALID_ARGUMENT');
  });

  it('reads the claim and header it is told to, or no header at all', async () => {
    const custom = tenantAuthenticator(async (r) => byUser(r), { claim: 'org', header: 'X-Org' });
    const erin = { id: 'erin', roles: [], claims: { org: 'e1', tenant: 'zz' } };
    principals.erin = erin;
    expect(await custom(request({ 'x-user': 'erin' }))).toEqual({ ...erin, tenantId: 'e1' });
    await expect(Promise.resolve(custom(request({ 'x-user': 'erin', 'x-org': 'e2' })))).rejects.toMatchObject({
      code: 'FORBIDDEN',
    });
    const headerless = tenantAuthenticator(byUser, { header: false, mayActFor });
    expect(headerless(request({ 'x-user': 'root', 'x-tenant': 'a' }))).toBe(principals.root);
    expect(() => tenantAuthenticator(byUser, { claim: '' })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });
});
