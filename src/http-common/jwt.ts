// HS256 JSON Web Tokens with node:crypto only: sign, verify, and an authenticator over them.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { ChronicleError, isChronicleError, type Principal } from 'chronicle-es';
import { type Authenticator, credentialsOf, digest, unauthenticated } from './auth.js';

/** Registered claims Chronicle reads, plus any others. */
export type JwtClaims = {
  sub?: string;
  roles?: readonly string[];
  exp?: number;
  nbf?: number;
  iat?: number;
  iss?: string;
  aud?: string | readonly string[];
  [claim: string]: unknown;
};

export type JwtVerifyOptions = {
  /** At least 32 bytes. */
  secret: string | Uint8Array;
  issuer?: string;
  audience?: string;
  /** Tolerance for `exp` and `nbf`, in seconds. Default 30. */
  clockSkewSeconds?: number;
  /** Current time in ms (tests). Default Date.now. */
  now?: () => number;
};

export type JwtAuthenticatorOptions = JwtVerifyOptions;

const MIN_SECRET_BYTES = 32;
const SEGMENT = /^[A-Za-z0-9_-]+$/;
const HEADER = encode({ alg: 'HS256', typ: 'JWT' });

function keyOf(secret: string | Uint8Array): Buffer {
  const key = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : Buffer.from(secret);
  if (key.length < MIN_SECRET_BYTES) {
    throw new ChronicleError('INVALID_ARGUMENT', `an HS256 secret needs at least ${MIN_SECRET_BYTES} bytes, got ${key.length}`);
  }
  return key;
}

function encode(value: unknown): string {
  return Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
}

function sign(key: Buffer, input: string): Buffer {
  return createHmac('sha256', key).update(input).digest();
}

/** Signs `claims` as an HS256 JWT (tests, demo tokens). @throws INVALID_ARGUMENT for a secret under 32 bytes */
export function signJwt(claims: JwtClaims, secret: string | Uint8Array): string {
  const input = `${HEADER}.${encode(claims)}`;
  return `${input}.${sign(keyOf(secret), input).toString('base64url')}`;
}

/** True when a token has the three-segment shape of a JWS compact serialization. */
export function looksLikeJwt(token: string): boolean {
  const parts = token.split('.');
  return parts.length === 3 && parts.every((p) => SEGMENT.test(p));
}

/**
 * Verifies an HS256 JWT: signature (constant time), `alg`, `exp` (required), `nbf`, `iss`, `aud`.
 * @throws UNAUTHENTICATED for anything wrong with the token; INVALID_ARGUMENT for a short secret
 */
export function verifyJwt(token: string, options: JwtVerifyOptions): JwtClaims {
  return createVerifier(options)(token);
}

function createVerifier(options: JwtVerifyOptions): (token: string) => JwtClaims {
  const key = keyOf(options.secret);
  const skew = options.clockSkewSeconds ?? 30;
  const now = options.now ?? Date.now;
  const verify = (token: string): JwtClaims => {
    if (!looksLikeJwt(token)) throw unauthenticated('malformed token', false);
    const [headerPart, payloadPart, signaturePart] = token.split('.');
    const header = parseSegment(headerPart);
    // Only HS256: `none`, RS*/ES* (key confusion) and unknown critical extensions are refused outright.
    if (header.alg !== 'HS256') throw unauthenticated(`unsupported token algorithm ${JSON.stringify(header.alg)}`, true);
    if (header.crit !== undefined) throw unauthenticated('unsupported critical token header', true);
    if (header.typ !== undefined && (typeof header.typ !== 'string' || header.typ.toUpperCase() !== 'JWT')) {
      throw unauthenticated('not a JWT', true);
    }
    const expected = sign(key, `${headerPart}.${payloadPart}`);
    const presented = Buffer.from(signaturePart, 'base64url');
    // base64url decoding ignores the spare bits of the last character; only the canonical spelling is the token,
    // so one token cannot be written several ways past deny-lists or caches keyed on its text.
    const canonical = presented.toString('base64url') === signaturePart;
    if (!timingSafeEqual(digest(expected), digest(presented)) || !canonical)
      throw unauthenticated('invalid token signature', true);
    const claims = parseSegment(payloadPart) as JwtClaims;
    const seconds = now() / 1000;
    if (typeof claims.exp !== 'number' || !Number.isFinite(claims.exp)) throw unauthenticated('token has no exp claim', true);
    if (seconds > claims.exp + skew) throw unauthenticated('token expired', true);
    if (claims.nbf !== undefined && (typeof claims.nbf !== 'number' || seconds + skew < claims.nbf)) {
      throw unauthenticated('token not valid yet', true);
    }
    if (options.issuer !== undefined && claims.iss !== options.issuer) throw unauthenticated('token issuer not accepted', true);
    if (options.audience !== undefined) {
      const aud = claims.aud;
      const ok = typeof aud === 'string' ? aud === options.audience : Array.isArray(aud) && aud.includes(options.audience);
      if (!ok) throw unauthenticated('token audience not accepted', true);
    }
    return claims;
  };
  // Whatever a forged token makes the checks trip over is the client's fault: a 401, never a 500.
  return (token) => {
    try {
      return verify(token);
    } catch (err) {
      if (isChronicleError(err)) throw err;
      throw unauthenticated('malformed token', true);
    }
  };
}

function parseSegment(segment: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
  } catch {
    throw unauthenticated('malformed token', true);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw unauthenticated('malformed token', true);
  return value as Record<string, unknown>;
}

/** The principal a verified token names: `sub` is its id, `roles` its roles, all claims kept. */
export function principalOf(claims: JwtClaims): Principal {
  if (typeof claims.sub !== 'string' || claims.sub.length === 0) throw unauthenticated('token has no sub claim', true);
  const roles = claims.roles ?? [];
  if (!Array.isArray(roles) || !roles.every((r) => typeof r === 'string')) {
    throw unauthenticated('token roles must be an array of strings', true);
  }
  return { id: claims.sub, roles: [...roles], claims };
}

/**
 * Authenticates `Authorization: Bearer <jwt>` (HS256 only, `exp` required). A token that fails verification is
 * refused as "invalid bearer token" whatever the cause; the cause is in `details.reason`, for the server's log.
 * @throws INVALID_ARGUMENT at creation for a secret under 32 bytes; UNAUTHENTICATED per request for a bad token
 */
export function createJwtAuthenticator(options: JwtAuthenticatorOptions): Authenticator {
  const verify = createVerifier(options);
  return (request) => {
    const credentials = credentialsOf(request);
    if (credentials === undefined) return undefined;
    if (credentials.kind !== 'bearer') throw unauthenticated('expected Authorization: Bearer <jwt>', false);
    try {
      return principalOf(verify(credentials.token));
    } catch (err) {
      const recognized = (err as { details?: { recognized?: unknown } }).details?.recognized === true;
      throw unauthenticated('invalid bearer token', recognized, (err as Error).message);
    }
  };
}
