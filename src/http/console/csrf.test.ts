import { describe, expect, it } from 'vitest';
import { createCsrf } from './csrf.js';

describe('console CSRF tokens', () => {
  it('accepts the token of its own session only, and only under the same secret', () => {
    const csrf = createCsrf('secret-a');
    const token = csrf.token('key-1');
    expect(csrf.verify('key-1', token)).toBe(true);
    expect(csrf.verify('key-2', token)).toBe(false);
    expect(createCsrf('secret-b').verify('key-1', token)).toBe(false);
    expect(createCsrf().verify('key-1', createCsrf().token('key-1'))).toBe(false);
  });

  it('refuses what is not a token', () => {
    const csrf = createCsrf('s');
    for (const presented of [undefined, '', 42, ['x'], 'x'.repeat(101), `${csrf.token('k')}x`]) {
      expect(csrf.verify('k', presented)).toBe(false);
    }
  });
});
