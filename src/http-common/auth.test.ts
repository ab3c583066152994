import { isChronicleError } from 'chronicle-es';
import { describe, expect, it } from 'vitest';
import { combineAuthenticators, createApiKeyAuthenticator } from './auth.js';
import { createJwtAuthenticator, signJwt } from './jwt.js';

const admin = { id: 'admin-1', roles: ['admin'] };
const reader = { id: 'reader-1', roles: ['reader'] };
const secret = 'a-test-secret-that-is-long-enough-32b';

async function failure(run: () => unknown) {
  try {
    await run();
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

describe('API keys', () => {
  const authenticate = createApiKeyAuthenticator({ 'key-admin': admin, 'key-reader': reader });

  it('reads X-API-Key and Authorization: Bearer', async () => {
    expect(await authenticate({ headers: { 'x-api-key': 'key-admin' } })).toBe(admin);
    expect(await authenticate({ headers: { authorization: 'Bearer key-reader' } })).toBe(reader);
    expect(await authenticate({ headers: { authorization: 'bearer   key-reader' } })).toBe(reader);
  });

  it('is anonymous without credentials and refuses unknown or malformed ones', async () => {
    expect(await authenticate({ headers: {} })).toBeUndefined();
    for (const headers of [
      { 'x-api-key': 'key-admin2' },
      { 'x-api-key': 'key-admi' },
      { 'x-api-key': '' },
      { 'x-api-key': ['key-admin', 'key-admin'] },
      { authorization: 'Bearer' },
      { authorization: 'Basic a2V5LWFkbWluOg==' },
      { authorization: 'key-admin' },
    ]) {
      expect(isChronicleError(await failure(() => authenticate({ headers })), 'UNAUTHENTICATED')).toBe(true);
    }
  });

  it('refuses an empty key at creation', () => {
    expect(() => createApiKeyAuthenticator({ '': admin })).toThrow(/empty/);
  });
});

describe('combineAuthenticators', () => {
  const authenticate = combineAuthenticators(
    createApiKeyAuthenticator({ 'key-admin': admin }),
    createJwtAuthenticator({ secret }),
  );
  const exp = Math.floor(Date.now() / 1000) + 60;

  it('accepts either kind of credential', async () => {
    expect(await authenticate({ headers: { authorization: 'Bearer key-admin' } })).toBe(admin);
    const token = signJwt({ sub: 'u1', roles: ['customer'], exp }, secret);
    expect(await authenticate({ headers: { authorization: `Bearer ${token}` } })).toMatchObject({ id: 'u1' });
    expect(await authenticate({ headers: {} })).toBeUndefined();
  });

  it('reports the error of the scheme that recognized the token', async () => {
    const expired = signJwt({ sub: 'u1', roles: [], exp: exp - 3600 }, secret);
    const err = (await failure(() => authenticate({ headers: { authorization: `Bearer ${expired}` } }))) as Error;
    expect(err).toMatchObject({ message: 'invalid bearer token', details: { reason: 'token expired', recognized: true } });
    const unknown = (await failure(() => authenticate({ headers: { authorization: 'Bearer nope' } }))) as Error;
    expect(isChronicleError(unknown, 'UNAUTHENTICATED')).toBe(true);
    expect(unknown.message).toBe('invalid bearer token');
    const wrongKey = (await failure(() => authenticate({ headers: { 'x-api-key': 'nope' } }))) as Error;
    expect(wrongKey.message).toBe('invalid API key');
  });
});
