import { describe, expect, it } from 'vitest';
import { assertTenantId, tenantPath, tenantSchema } from './tenant-id.js';

// Everything that could leave a directory, quote its way out of an identifier, or fold onto another tenant.
const BAD_IDS: unknown[] = [
  '',
  '../x',
  '..',
  'a/b',
  'a\\b',
  '.hidden',
  'a.b',
  '"a"',
  "a'; DROP SCHEMA public CASCADE; --",
  'a b',
  'Acme',
  'a-b',
  '_a',
  'é',
  'a\u0000',
  'a\n',
  'x'.repeat(41),
  42,
  null,
  undefined,
  ['a'],
];

describe('tenant ids', () => {
  it('accepts lower-case letters, digits and underscores, up to 40 characters', () => {
    for (const id of ['a', '0', 'acme', 'acme_eu_2', 'x'.repeat(40)]) expect(assertTenantId(id)).toBe(id);
  });

  it('refuses anything that is not safe as a file and schema name with INVALID_ARGUMENT', () => {
    for (const id of BAD_IDS) {
      expect(() => assertTenantId(id), String(id)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
      expect(() => tenantPath('data/{tenant}.db', id as string), String(id)).toThrow(
        expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
      );
      expect(() => tenantSchema('tenant_', id as string), String(id)).toThrow(
        expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
      );
    }
  });

  it('makes one file name per tenant from a template with {tenant} in its last segment', () => {
    expect(tenantPath('data/tenants/{tenant}.events.db', 'acme')).toBe('data/tenants/acme.events.db');
    expect(tenantPath('events-{tenant}', 'a1')).toBe('events-a1');
    for (const template of ['data/{tenant}/events.db', 'data/events.db', '{tenant}-{tenant}.db', 'a\\{tenant}\\b.db']) {
      expect(() => tenantPath(template, 'acme'), template).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    }
  });

  it('makes a PostgreSQL schema name from a fixed prefix', () => {
    expect(tenantSchema('tenant_', 'acme')).toBe('tenant_acme');
    expect(tenantSchema('t', '0')).toBe('t0');
    for (const prefix of ['', 'Tenant_', '1t', 't-', 't"', 'x'.repeat(24)]) {
      expect(() => tenantSchema(prefix, 'acme'), prefix).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    }
    // The longest prefix and id still make a name PostgreSQL keeps whole (63 bytes).
    expect(tenantSchema('x'.repeat(23), 'y'.repeat(40))).toHaveLength(63);
  });
});
