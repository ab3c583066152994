// `--tenant <id>`: the stores of one tenant, from store options holding a `{tenant}` placeholder.
import { ChronicleError, tenantPath, tenantSchema } from 'chronicle-es';
import type { GlobalOptions } from './context.js';

const PLACEHOLDER = '{tenant}';
const URL_SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i;

/**
 * The options with `{tenant}` replaced: in a SQLite path (`data/{tenant}.events.db`, by tenantPath) and at the end of
 * a schema (`tenant_{tenant}`, by tenantSchema). Naming a tenant where no option has the placeholder is refused, so
 * `--tenant` can never quietly act on a store shared by every tenant.
 * @throws INVALID_ARGUMENT a malformed tenant id, a placeholder without --tenant, --tenant without a placeholder, or a
 *   placeholder in a server URL or in the middle of a schema
 */
export function resolveTenantOption(options: GlobalOptions): GlobalOptions {
  const { tenant } = options;
  const paths = (['store', 'readStore'] as const).filter((key) => options[key]?.includes(PLACEHOLDER));
  const schemas = (['schema', 'readSchema'] as const).filter((key) => options[key]?.includes(PLACEHOLDER));
  if (tenant === undefined) {
    if (paths.length + schemas.length > 0) {
      throw new ChronicleError('INVALID_ARGUMENT', `${PLACEHOLDER} in the store options needs --tenant <id>`);
    }
    return options;
  }
  if (paths.length + schemas.length === 0) {
    throw new ChronicleError(
      'INVALID_ARGUMENT',
      `--tenant needs ${PLACEHOLDER} in --store, --read-store, --schema or --read-schema (e.g. --store data/${PLACEHOLDER}.events.db)`,
    );
  }
  const resolved: GlobalOptions = { ...options };
  for (const key of paths) {
    const value = options[key] as string;
    if (URL_SCHEME.test(value)) {
      throw new ChronicleError(
        'INVALID_ARGUMENT',
        `a server store names its tenant in --schema (tenant_${PLACEHOLDER}), not its URL`,
      );
    }
    resolved[key] = tenantPath(value, tenant);
  }
  const prefixes: string[] = [];
  for (const key of schemas) {
    const value = options[key] as string;
    const prefix = value.slice(0, -PLACEHOLDER.length);
    if (!value.endsWith(PLACEHOLDER) || prefix.includes(PLACEHOLDER)) {
      throw new ChronicleError('INVALID_ARGUMENT', `a tenant schema is a prefix then ${PLACEHOLDER}, e.g. tenant_${PLACEHOLDER}`);
    }
    resolved[key] = tenantSchema(prefix, tenant);
    prefixes.push(prefix);
  }
  // Ids may hold `_`: with `tenant_` and `tenant_read_`, tenant `read_acme`'s event schema would be tenant `acme`'s
  // read schema. One prefix for both stores is fine (one schema per tenant); two where one starts the other are not.
  const [a, b] = prefixes;
  if (a !== undefined && b !== undefined && a !== b && (a.startsWith(b) || b.startsWith(a))) {
    throw new ChronicleError(
      'INVALID_ARGUMENT',
      `tenant schema prefixes ${JSON.stringify(a)} and ${JSON.stringify(b)} overlap: one tenant's schema could be another's; use prefixes neither of which starts the other (e.g. events_${PLACEHOLDER} and read_${PLACEHOLDER})`,
    );
  }
  return resolved;
}
