import { describe, expect, it } from 'vitest';
import { describeStore, parseStore } from './stores.js';

const naming = { schema: 'shop', redisPrefix: 'app' };

describe('parseStore', () => {
  it('takes a path for SQLite, and postgres:// or postgresql:// URLs with the schema', () => {
    expect(parseStore('data/events.db', naming, 'store')).toEqual({ kind: 'sqlite', path: 'data/events.db' });
    expect(parseStore('postgres://u@h/db', naming, 'store')).toEqual({
      kind: 'postgres',
      url: 'postgres://u@h/db',
      schema: 'shop',
    });
    expect(parseStore('POSTGRESQL://u@h/db', { ...naming, readSchema: 'reads' }, 'read-store')).toMatchObject({
      kind: 'postgres',
      schema: 'reads',
    });
  });

  it('takes redis:// only for the read store', () => {
    expect(parseStore('redis://127.0.0.1:6379', naming, 'read-store')).toEqual({
      kind: 'redis',
      url: 'redis://127.0.0.1:6379',
      prefix: 'app',
    });
    expect(() => parseStore('redis://127.0.0.1:6379', naming, 'store')).toThrow(/unknown store redis:\/\/ for --store/);
  });

  it('refuses unknown schemes, URLs that do not parse, empty values and :memory:', () => {
    for (const [value, message] of [
      ['mysql://h/db', /unknown store mysql:\/\//],
      ['postgres://[::1', /not a valid postgres:\/\/ URL/],
      ['  ', /is empty/],
      [':memory:', /empty store/],
    ] as const) {
      expect(() => parseStore(value, naming, 'store'), value).toThrow(message);
    }
  });

  it('never shows a password', () => {
    const message = (() => {
      try {
        parseStore('postgres://u:secret@[bad', naming, 'store');
      } catch (err) {
        return (err as Error).message;
      }
    })();
    expect(message).not.toContain('secret');
    expect(describeStore(parseStore('postgres://u:secret@h/db', naming, 'store'))).toBe(
      'postgres postgres://u:***@h/db (schema shop)',
    );
  });
});
