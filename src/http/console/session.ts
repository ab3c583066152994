// The console's session: the API key the operator signed in with, in an HttpOnly, SameSite=Strict cookie scoped to
// the console, checked by the application's own Authenticator on every request (same principal, same roles as the API).
import { randomBytes } from 'node:crypto';
import type { Principal } from 'chronicle-es';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Authenticator } from '../../http-common/index.js';

export const SESSION_COOKIE = 'chronicle_console';
export const LOGIN_COOKIE = 'chronicle_console_login';
const MAX_COOKIE = 4096;
const SESSION_SECONDS = 8 * 3600;

/** The value of one cookie of the request, undefined when absent or malformed. */
export function cookieOf(request: FastifyRequest, name: string): string | undefined {
  const header = request.headers.cookie;
  if (typeof header !== 'string' || header.length > 16 * 1024) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq === -1 || part.slice(0, eq).trim() !== name) continue;
    const value = part.slice(eq + 1).trim();
    if (value.length === 0 || value.length > MAX_COOKIE) return undefined;
    try {
      return decodeURIComponent(value);
    } catch {
      return undefined;
    }
  }
  return undefined;
}

// Secure whenever the request came over https (directly, or through a proxy Fastify trusts).
function attributes(request: FastifyRequest, path: string, maxAge: number): string {
  return `Path=${path}; HttpOnly; SameSite=Strict; Max-Age=${maxAge}${request.protocol === 'https' ? '; Secure' : ''}`;
}

/** Sets a cookie on the reply (appending to any set before). */
export function setCookie(reply: FastifyReply, name: string, value: string, path: string, maxAge = SESSION_SECONDS): void {
  const cookie = `${name}=${encodeURIComponent(value)}; ${attributes(reply.request, path, maxAge)}`;
  const previous = reply.getHeader('set-cookie');
  const list = previous === undefined ? [] : Array.isArray(previous) ? previous : [String(previous)];
  reply.header('set-cookie', [...list, cookie]);
}

/** Clears a cookie. */
export const clearCookie = (reply: FastifyReply, name: string, path: string) => setCookie(reply, name, '', path, 0);

/** A fresh nonce for the sign-in form's CSRF token. */
export const loginNonce = () => randomBytes(18).toString('base64url');

/** The principal of an API key, or undefined when the key is not accepted (the authenticator's error is not shown). */
export async function principalOfKey(authenticate: Authenticator, key: string): Promise<Principal | undefined> {
  try {
    return await authenticate({ headers: { 'x-api-key': key } });
  } catch {
    return undefined;
  }
}
