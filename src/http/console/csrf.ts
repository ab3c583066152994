// CSRF tokens: an HMAC of the session's credential (or of a sign-in nonce) under a secret of this console, so a
// token is only valid with the cookie it was issued for and a page of another site cannot know it.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** The form field and the header (htmx requests) a POST carries its token in. */
export const CSRF_FIELD = '_csrf';
export const CSRF_HEADER = 'x-csrf-token';

export type Csrf = {
  /** The token of a session (its API key) or of a sign-in nonce. */
  token(subject: string): string;
  /** Whether `presented` is the token of `subject`. */
  verify(subject: string, presented: unknown): boolean;
};

/** Tokens under `secret` (random per process when absent: a restart asks forms to be reloaded). */
export function createCsrf(secret?: string): Csrf {
  const key = secret ?? randomBytes(32).toString('hex');
  const token = (subject: string) => createHmac('sha256', key).update(`csrf:${subject}`).digest('base64url');
  return {
    token,
    verify(subject, presented) {
      if (typeof presented !== 'string' || presented.length === 0 || presented.length > 100) return false;
      const expected = Buffer.from(token(subject));
      const given = Buffer.from(presented);
      return given.length === expected.length && timingSafeEqual(given, expected);
    },
  };
}
