// Who may call the Shop: API keys from SHOP_API_KEYS, HS256 JWTs signed with SHOP_JWT_SECRET,
// and in development a set of demo keys (one per role) kept under the data directory.
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Principal } from 'chronicle-es';
import { type Authenticator, combineAuthenticators, createApiKeyAuthenticator, createJwtAuthenticator } from 'chronicle-es/http';
import { ROLES, type Role } from './messages/access.js';

export type AuthEnv = {
  NODE_ENV?: string;
  /** `key:role1|role2[:principalId],key2:role3` */
  SHOP_API_KEYS?: string;
  /** At least 32 bytes; enables `Authorization: Bearer <jwt>` with claims sub, roles, exp. */
  SHOP_JWT_SECRET?: string;
};

export type ShopAuth = {
  authenticate: Authenticator;
  /** Development only: the generated key of each role, to print at startup. */
  demoKeys?: Record<Role, string>;
};

/** The principal of the development customer key; `npm run seed` registers this customer. */
export const DEMO_CUSTOMER_ID = 'ada';

const MIN_KEY_LENGTH = 16;

/**
 * Parses `key:role1|role2[:principalId]` entries separated by commas. Without a principal id the key is known
 * by a digest of itself, so logs and event metadata never carry the key.
 * @throws Error naming the bad entry (a configuration mistake must stop startup)
 */
export function parseApiKeys(spec: string): Record<string, Principal> {
  const keys: Record<string, Principal> = {};
  for (const entry of spec
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean)) {
    const [key, roleList = '', id, ...rest] = entry.split(':');
    const where = `SHOP_API_KEYS entry starting ${JSON.stringify(entry.slice(0, 4))}…`;
    if (rest.length > 0 || !key || !roleList) throw new Error(`${where}: expected key:role1|role2[:principalId]`);
    if (key.length < MIN_KEY_LENGTH) throw new Error(`${where}: keys need at least ${MIN_KEY_LENGTH} characters`);
    const roles = roleList.split('|').map((r) => r.trim());
    const unknown = roles.filter((r) => !(ROLES as readonly string[]).includes(r));
    if (unknown.length > 0) throw new Error(`${where}: unknown role ${unknown.join(', ')} (known: ${ROLES.join(', ')})`);
    if (key in keys) throw new Error(`${where}: the same key appears twice`);
    keys[key] = { id: id || `key-${createHash('sha256').update(key).digest('hex').slice(0, 12)}`, roles };
  }
  return keys;
}

/**
 * Builds the Shop's authenticator from the environment.
 * @throws Error in production without SHOP_API_KEYS or SHOP_JWT_SECRET, or for malformed settings
 */
export function createShopAuth(env: AuthEnv, options: { dataDir: string }): ShopAuth {
  const production = env.NODE_ENV === 'production';
  const apiKeys = env.SHOP_API_KEYS ? parseApiKeys(env.SHOP_API_KEYS) : undefined;
  const jwtSecret = env.SHOP_JWT_SECRET || undefined;
  const authenticators: Authenticator[] = [];
  if (jwtSecret) authenticators.push(createJwtAuthenticator({ secret: jwtSecret }));
  if (apiKeys && Object.keys(apiKeys).length > 0) authenticators.push(createApiKeyAuthenticator(apiKeys));
  if (authenticators.length > 0) return { authenticate: combineAuthenticators(...authenticators) };
  if (production) {
    throw new Error('NODE_ENV=production needs credentials: set SHOP_API_KEYS (key:role,…) and/or SHOP_JWT_SECRET');
  }
  const demoKeys = loadDemoKeys(join(options.dataDir, 'demo-keys.json'));
  const principals = Object.fromEntries(
    ROLES.map((role) => [demoKeys[role], { id: role === 'customer' ? DEMO_CUSTOMER_ID : `demo-${role}`, roles: [role] }]),
  );
  return { authenticate: createApiKeyAuthenticator(principals), demoKeys };
}

// Kept across restarts so a developer's curl commands keep working; created on first start.
function loadDemoKeys(path: string): Record<Role, string> {
  if (existsSync(path)) {
    const stored = JSON.parse(readFileSync(path, 'utf8')) as Partial<Record<Role, string>>;
    if (ROLES.every((role) => typeof stored[role] === 'string' && stored[role].length >= MIN_KEY_LENGTH)) {
      return stored as Record<Role, string>;
    }
  }
  const keys = Object.fromEntries(ROLES.map((role) => [role, `demo-${role}-${randomBytes(18).toString('base64url')}`])) as Record<
    Role,
    string
  >;
  writeFileSync(path, `${JSON.stringify(keys, null, 2)}\n`, { mode: 0o600 });
  return keys;
}
