import { describe, expect, it } from 'vitest';
import { createShopAuth, parseApiKeys } from './auth.js';

describe('SHOP_API_KEYS', () => {
  it('parses keys with roles and optional principal ids', () => {
    const keys = parseApiKeys(
      ' admin-key-0123456789:admin , shared-key-0123456789:clerk|reader, ada-key-0123456789:customer:ada ',
    );
    expect(keys['admin-key-0123456789']).toEqual({ id: expect.stringMatching(/^key-[0-9a-f]{12}$/), roles: ['admin'] });
    expect(keys['shared-key-0123456789'].roles).toEqual(['clerk', 'reader']);
    expect(keys['ada-key-0123456789']).toEqual({ id: 'ada', roles: ['customer'] });
    // The derived id never reveals the key.
    expect(keys['admin-key-0123456789'].id).not.toContain('admin-key');
  });

  it('refuses short keys, unknown roles and malformed entries', () => {
    expect(() => parseApiKeys('short:admin')).toThrow(/at least 16/);
    expect(() => parseApiKeys('long-enough-key-0123:root')).toThrow(/unknown role root/);
    expect(() => parseApiKeys('long-enough-key-0123')).toThrow(/expected key:role/);
    expect(() => parseApiKeys('long-enough-key-0123:admin,long-enough-key-0123:reader')).toThrow(/twice/);
  });

  it('production refuses to start without credentials', () => {
    expect(() => createShopAuth({ NODE_ENV: 'production' }, { dataDir: '/nonexistent' })).toThrow(/production needs credentials/);
    expect(() => createShopAuth({ NODE_ENV: 'production', SHOP_JWT_SECRET: 'too-short' }, { dataDir: '/nonexistent' })).toThrow();
    const auth = createShopAuth(
      { NODE_ENV: 'production', SHOP_API_KEYS: 'prod-key-0123456789ab:admin' },
      { dataDir: '/nonexistent' },
    );
    expect(auth.demoKeys).toBeUndefined();
  });
});
