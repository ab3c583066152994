// Authenticators turn request credentials into a Principal: API keys, and the combinator.
import { hash, timingSafeEqual } from 'node:crypto';
import { ChronicleError, type Principal } from 'chronicle-es';

/** The part of a request an authenticator reads (a Fastify request fits). */
export type AuthRequest = { readonly headers: Record<string, string | string[] | undefined> };

/**
 * Resolves the principal of a request: undefined when it carries no credentials.
 * @throws UNAUTHENTICATED when it carries credentials that are malformed or invalid
 */
export type Authenticator = (request: AuthRequest) => Principal | undefined | Promise<Principal | undefined>;

/** Credentials found on a request: a bearer token, or an explicit API key. */
export type Credentials = { kind: 'bearer' | 'api-key'; token: string };

const MAX_TOKEN = 8192;

/** Reads `X-API-Key` or `Authorization: Bearer …`. @throws UNAUTHENTICATED for a malformed header */
export function credentialsOf(request: AuthRequest): Credentials | undefined {
  const apiKey = request.headers['x-api-key'];
  if (apiKey !== undefined) return { kind: 'api-key', token: single(apiKey, 'X-API-Key') };
  const authorization = request.headers.authorization;
  if (authorization === undefined) return undefined;
  const value = single(authorization, 'Authorization');
  const match = /^Bearer +(\S+) *$/i.exec(value);
  if (!match) throw unauthenticated('Authorization must be "Bearer <token>"', false);
  return { kind: 'bearer', token: match[1] };
}

function single(value: string | string[], header: string): string {
  if (Array.isArray(value) || value.length === 0 || value.length > MAX_TOKEN) {
    throw unauthenticated(`malformed ${header} header`, false);
  }
  return value;
}

/**
 * An UNAUTHENTICATED error for presented credentials; `recognized` says the scheme owned the token. `reason`
 * (e.g. "token expired") is for the server's log only: the client is not told why, so a forger learns nothing.
 */
export function unauthenticated(message: string, recognized: boolean, reason?: string): ChronicleError {
  const details = reason === undefined ? { credentials: 'invalid', recognized } : { credentials: 'invalid', recognized, reason };
  return new ChronicleError('UNAUTHENTICATED', message, { details });
}

/** SHA-256 of a secret, so comparisons run over fixed-length digests and never leak a length. */
export function digest(value: string | Uint8Array): Buffer {
  // One-shot: one native call instead of createHash + update + digest (and no Hash object per request).
  return hash('sha256', value, 'buffer');
}

/**
 * Authenticates API keys from `X-API-Key` or `Authorization: Bearer <key>`, compared in constant time.
 * @throws INVALID_ARGUMENT for an empty key
 */
export function createApiKeyAuthenticator(keys: Readonly<Record<string, Principal>>): Authenticator {
  const entries = Object.entries(keys).map(([key, principal]) => {
    if (key.length === 0) throw new ChronicleError('INVALID_ARGUMENT', 'an API key must not be empty');
    return { digest: digest(key), principal };
  });
  return (request) => {
    const credentials = credentialsOf(request);
    if (credentials === undefined) return undefined;
    const presented = digest(credentials.token);
    let found: Principal | undefined;
    // No early exit: every key is compared, so timing does not tell which one (if any) matched.
    for (const entry of entries) {
      if (timingSafeEqual(presented, entry.digest)) found = entry.principal;
    }
    if (found === undefined) {
      // A bearer credential may be a JWT another authenticator checks; say what was sent, not what it was taken for.
      throw unauthenticated(
        credentials.kind === 'api-key' ? 'invalid API key' : 'invalid bearer token',
        credentials.kind === 'api-key',
      );
    }
    return found;
  };
}

/**
 * Tries each authenticator in order; the first principal wins. When none accepts presented
 * credentials, the error of the one that recognized their format is raised.
 * @throws UNAUTHENTICATED
 */
export function combineAuthenticators(...authenticators: Authenticator[]): Authenticator {
  // One authenticator answers (and fails) exactly as the combination would, without an async frame per request.
  if (authenticators.length === 1) return authenticators[0];
  return async (request) => {
    let failure: unknown;
    let recognized = false;
    for (const authenticate of authenticators) {
      try {
        const principal = await authenticate(request);
        if (principal !== undefined) return principal;
      } catch (err) {
        const claims = (err as { details?: { recognized?: unknown } }).details?.recognized === true;
        if (failure === undefined || (claims && !recognized)) {
          failure = err;
          recognized = claims;
        }
      }
    }
    if (failure !== undefined) throw failure;
    return undefined;
  };
}
