import { describe, expect, it } from 'vitest';
import type { GlobalOptions } from './context.js';
import { resolveTenantOption } from './tenant-option.js';

const base: GlobalOptions = { schema: 'chronicle', redisPrefix: 'chronicle' };
const invalid = expect.objectContaining({ code: 'INVALID_ARGUMENT' });

describe('--tenant', () => {
  it("names one tenant's SQLite files and PostgreSQL schemas through {tenant}", () => {
    expect(
      resolveTenantOption({ ...base, tenant: 'acme', store: 'data/{tenant}.events.db', readStore: 'data/{tenant}.read.db' }),
    ).toMatchObject({ store: 'data/acme.events.db', readStore: 'data/acme.read.db', schema: 'chronicle' });
    expect(
      resolveTenantOption({
        ...base,
        tenant: 'acme',
        store: 'postgres://h/db',
        schema: 'tenant_{tenant}',
        readSchema: 'r_{tenant}',
      }),
    ).toMatchObject({ store: 'postgres://h/db', schema: 'tenant_acme', readSchema: 'r_acme' });
    expect(resolveTenantOption({ ...base, store: 'data/events.db' })).toEqual({ ...base, store: 'data/events.db' });
  });

  it('refuses a bad tenant id, a tenant with no placeholder to fill, and a placeholder without a tenant', () => {
    for (const tenant of ['../a', 'A', "a'", '']) {
      expect(() => resolveTenantOption({ ...base, tenant, store: 'data/{tenant}.db' }), tenant).toThrow(invalid);
    }
    expect(() => resolveTenantOption({ ...base, tenant: 'acme', store: 'data/events.db' })).toThrow(invalid);
    expect(() => resolveTenantOption({ ...base, store: 'data/{tenant}.db' })).toThrow(invalid);
    expect(() => resolveTenantOption({ ...base, tenant: 'acme', store: 'postgres://h/{tenant}' })).toThrow(invalid);
    expect(() => resolveTenantOption({ ...base, tenant: 'acme', schema: '{tenant}_x' })).toThrow(invalid);
    expect(() => resolveTenantOption({ ...base, tenant: 'acme', store: 'data/{tenant}/events.db' })).toThrow(invalid);
  });

  it('refuses schema prefixes where one starts the other, since tenant ids may hold `_`', () => {
    // tenant_ + read_acme would be tenant_read_ + acme: one tenant's event schema, another's read schema.
    const overlapping = { ...base, tenant: 'acme', store: 'postgres://h/db', schema: 'tenant_{tenant}' };
    expect(() => resolveTenantOption({ ...overlapping, readSchema: 'tenant_read_{tenant}' })).toThrow(invalid);
    expect(resolveTenantOption({ ...overlapping, readSchema: 'tenant_{tenant}' })).toMatchObject({ readSchema: 'tenant_acme' });
    expect(resolveTenantOption({ ...overlapping, readSchema: 'read_{tenant}' })).toMatchObject({ readSchema: 'read_acme' });
  });
});
