import { createHmac } from 'node:crypto';
import { isChronicleError } from 'chronicle-es';
import { describe, expect, it } from 'vitest';
import { createJwtAuthenticator, signJwt, verifyJwt } from './jwt.js';

const secret = 'a-test-secret-that-is-long-enough-32b';
const now = 1_700_000_000_000;
const clock = () => now;
const seconds = now / 1000;
const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

function rejects(token: string, options: Partial<Parameters<typeof verifyJwt>[1]> = {}) {
  let caught: unknown;
  try {
    verifyJwt(token, { secret, now: clock, ...options });
  } catch (err) {
    caught = err;
  }
  expect(isChronicleError(caught, 'UNAUTHENTICATED')).toBe(true);
  return (caught as Error).message;
}

describe('jwt', () => {
  it('signs and verifies HS256 with sub, roles and exp', () => {
    const token = signJwt({ sub: 'u1', roles: ['admin'], exp: seconds + 60 }, secret);
    expect(token.split('.')).toHaveLength(3);
    expect(verifyJwt(token, { secret, now: clock })).toMatchObject({ sub: 'u1', roles: ['admin'] });
  });

  it('rejects expired tokens beyond the clock skew, accepts within it', () => {
    expect(rejects(signJwt({ sub: 'u', exp: seconds - 31 }, secret))).toBe('token expired');
    expect(verifyJwt(signJwt({ sub: 'u', exp: seconds - 29 }, secret), { secret, now: clock }).sub).toBe('u');
  });

  it('requires exp and honours nbf', () => {
    expect(rejects(signJwt({ sub: 'u' }, secret))).toBe('token has no exp claim');
    expect(rejects(signJwt({ sub: 'u', exp: seconds + 60, nbf: seconds + 120 }, secret))).toBe('token not valid yet');
  });

  it('rejects alg none and every algorithm but HS256', () => {
    const payload = b64({ sub: 'u', exp: seconds + 60 });
    expect(rejects(`${b64({ alg: 'none', typ: 'JWT' })}.${payload}.`)).toMatch(/malformed|algorithm/);
    expect(rejects(`${b64({ alg: 'none', typ: 'JWT' })}.${payload}.AAAA`)).toMatch(/algorithm/);
    for (const alg of ['HS512', 'RS256', 'hs256']) {
      const input = `${b64({ alg, typ: 'JWT' })}.${payload}`;
      const sig = createHmac('sha256', secret).update(input).digest('base64url');
      expect(rejects(`${input}.${sig}`)).toMatch(/algorithm/);
    }
  });

  it('answers a forged header that trips the checks with UNAUTHENTICATED, not a TypeError', () => {
    const input = `${b64({ alg: 'HS256', typ: { toString: 1 } })}.${b64({ sub: 'u', exp: seconds + 60 })}`;
    const err = (() => {
      try {
        verifyJwt(`${input}.AAAA`, { secret, now: clock });
      } catch (e) {
        return e;
      }
    })();
    expect(isChronicleError(err, 'UNAUTHENTICATED')).toBe(true);
  });

  it('accepts only the canonical spelling of a signature', () => {
    const token = signJwt({ sub: 'u', exp: seconds + 60 }, secret);
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const last = token.at(-1)!;
    // The last of 43 characters carries 4 spare bits: its neighbour decodes to the same bytes.
    const neighbour = alphabet[alphabet.indexOf(last) ^ 1];
    const variant = token.slice(0, -1) + neighbour;
    expect(Buffer.from(variant.split('.')[2], 'base64url')).toEqual(Buffer.from(token.split('.')[2], 'base64url'));
    expect(rejects(variant)).toBe('invalid token signature');
  });

  it('rejects a tampered payload and a wrong secret', () => {
    const token = signJwt({ sub: 'u', roles: ['reader'], exp: seconds + 60 }, secret);
    const [h, , s] = token.split('.');
    expect(rejects(`${h}.${b64({ sub: 'u', roles: ['admin'], exp: seconds + 60 })}.${s}`)).toBe('invalid token signature');
    expect(rejects(token, { secret: 'another-secret-that-is-long-enough-32b' })).toBe('invalid token signature');
    expect(rejects(`${h}.${token.split('.')[1]}.${s.slice(0, -2)}`)).toBe('invalid token signature');
  });

  it('rejects garbage', () => {
    for (const token of ['', 'abc', 'a.b', 'a.b.c.d', '!!.??.**', `${b64('x')}.${b64('y')}.zz`]) rejects(token);
  });

  it('checks issuer and audience when configured', () => {
    const token = signJwt({ sub: 'u', exp: seconds + 60, iss: 'shop', aud: ['api', 'web'] }, secret);
    expect(verifyJwt(token, { secret, now: clock, issuer: 'shop', audience: 'api' }).sub).toBe('u');
    rejects(token, { issuer: 'other' });
    rejects(token, { audience: 'admin' });
  });

  it('refuses short secrets', () => {
    expect(() => signJwt({ sub: 'u' }, 'short')).toThrow(/32 bytes/);
    expect(() => createJwtAuthenticator({ secret: 'short' })).toThrow(/32 bytes/);
  });

  it('authenticates a bearer token into a principal; no credentials is anonymous', async () => {
    const authenticate = createJwtAuthenticator({ secret, now: clock });
    const token = signJwt({ sub: 'c1', roles: ['customer'], exp: seconds + 60, email: 'a@b.c' }, secret);
    const principal = await authenticate({ headers: { authorization: `Bearer ${token}` } });
    expect(principal).toMatchObject({ id: 'c1', roles: ['customer'], claims: { email: 'a@b.c' } });
    expect(await authenticate({ headers: {} })).toBeUndefined();
    const noSub = signJwt({ roles: ['admin'], exp: seconds + 60 }, secret);
    const refused = (token: string) =>
      expect(async () => authenticate({ headers: { authorization: `Bearer ${token}` } })).rejects;
    await refused(noSub).toMatchObject({ message: 'invalid bearer token', details: { reason: 'token has no sub claim' } });
    const badRoles = signJwt({ sub: 'x', roles: 'admin' as unknown as string[], exp: seconds + 60 }, secret);
    await refused(badRoles).toMatchObject({
      message: 'invalid bearer token',
      details: { reason: expect.stringMatching(/roles/) },
    });
    // Why a token failed is the server's business: expired and forged read the same to the client.
    const expired = signJwt({ sub: 'x', exp: seconds - 3600 }, secret);
    const forged = signJwt({ sub: 'x', exp: seconds + 60 }, 'another-secret-that-is-long-enough-32b');
    await refused(expired).toMatchObject({ message: 'invalid bearer token', details: { reason: 'token expired' } });
    await refused(forged).toMatchObject({ message: 'invalid bearer token', details: { reason: 'invalid token signature' } });
    await expect(async () => authenticate({ headers: { authorization: 'Basic dTpw' } })).rejects.toThrow(/Bearer/);
  });
});
