// Tenant ids, and the file paths and schema names made from them: checked, never escaped.
import { ChronicleError } from '../errors.js';

/**
 * What a tenant id may be: lower-case letters, digits and `_`, starting with a letter or digit, at most 40 characters.
 * Ids become file names and PostgreSQL schema names, so the charset leaves nothing to quote: no `/`, `.`, quotes or
 * upper case (which a case-insensitive file system or PostgreSQL's folding would merge with the lower-case id).
 */
export const TENANT_ID_PATTERN = /^[a-z0-9][a-z0-9_]{0,39}$/;

/** The tenant id, checked. @throws INVALID_ARGUMENT when it does not match TENANT_ID_PATTERN */
export function assertTenantId(tenantId: unknown): string {
  if (typeof tenantId !== 'string' || !TENANT_ID_PATTERN.test(tenantId)) {
    const shown = typeof tenantId === 'string' ? JSON.stringify(tenantId.slice(0, 60)) : typeof tenantId;
    throw new ChronicleError('INVALID_ARGUMENT', `tenant id must match ${TENANT_ID_PATTERN}, got ${shown}`);
  }
  return tenantId;
}

const PLACEHOLDER = '{tenant}';

/**
 * A tenant's file path from a template, e.g. `tenantPath('data/{tenant}.events.db', 'acme')` → `data/acme.events.db`.
 * @throws INVALID_ARGUMENT a malformed tenant id, or a template without exactly one `{tenant}` in its last segment
 */
export function tenantPath(template: string, tenantId: string): string {
  assertTenantId(tenantId);
  const at = typeof template === 'string' ? template.indexOf(PLACEHOLDER) : -1;
  // In the file name itself: a template with the id in a directory would let two tenants share a file name there.
  if (at === -1 || template.indexOf(PLACEHOLDER, at + 1) !== -1 || /[/\\]/.test(template.slice(at))) {
    throw new ChronicleError('INVALID_ARGUMENT', `a tenant path template needs one ${PLACEHOLDER} in its file name`);
  }
  return template.replace(PLACEHOLDER, tenantId);
}

const SCHEMA_PREFIX = /^[a-z_][a-z0-9_]{0,22}$/;

/**
 * A tenant's PostgreSQL schema name: `prefix` + id, e.g. `tenantSchema('tenant_', 'acme')` → `tenant_acme`. Ids may hold
 * `_`, so two prefixes used in one database must not start one another (`tenant_` + `read_acme` is `tenant_read_` +
 * `acme`): use e.g. `events_` and `read_`.
 * @throws INVALID_ARGUMENT a malformed tenant id, or a prefix not matching /^[a-z_][a-z0-9_]{0,22}$/
 */
export function tenantSchema(prefix: string, tenantId: string): string {
  assertTenantId(tenantId);
  // Non-empty and fixed: it keeps a tenant named like another schema of the database (`public`) out of that schema.
  if (typeof prefix !== 'string' || !SCHEMA_PREFIX.test(prefix)) {
    throw new ChronicleError('INVALID_ARGUMENT', `a tenant schema prefix must match ${SCHEMA_PREFIX}`);
  }
  return `${prefix}${tenantId}`;
}
