import { toJsonSchema } from 'chronicle-es';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createQueryStringCoercer } from './query-string.js';

const coercerOf = (schema: z.ZodType) => createQueryStringCoercer(toJsonSchema(schema));
const plain = (o: object) => ({ ...o });

describe('query-string coercion', () => {
  const schema = z.object({
    id: z.string(),
    limit: z.number().int().optional(),
    price: z.number().optional(),
    includeDeleted: z.boolean().optional(),
    tags: z.array(z.string()).optional(),
    sizes: z.array(z.number()).optional(),
    note: z.string().nullable().optional(),
    mode: z.union([z.number(), z.literal('all')]).optional(),
    filter: z.object({ min: z.number() }).optional(),
  });
  const coerce = coercerOf(schema);

  it('turns numbers, integers and booleans into their types but keeps strings as strings', () => {
    const out = coerce({ id: '123', limit: '10', price: '-1.5e2', includeDeleted: 'true' });
    expect(plain(out)).toEqual({ id: '123', limit: 10, price: -150, includeDeleted: true });
    expect(schema.parse(out)).toEqual({ id: '123', limit: 10, price: -150, includeDeleted: true });
    expect(plain(coerce({ id: 'x', includeDeleted: '0' }))).toEqual({ id: 'x', includeDeleted: false });
  });

  it('fills arrays from repeated keys or one value, coercing items', () => {
    expect(plain(coerce({ id: 'x', tags: ['a', 'b'], sizes: ['1', '2'] }))).toEqual({ id: 'x', tags: ['a', 'b'], sizes: [1, 2] });
    expect(plain(coerce({ id: 'x', tags: 'a', sizes: '3' }))).toEqual({ id: 'x', tags: ['a'], sizes: [3] });
  });

  it('handles unions, null and JSON objects', () => {
    expect(plain(coerce({ id: 'x', mode: 'all' }))).toEqual({ id: 'x', mode: 'all' });
    expect(plain(coerce({ id: 'x', mode: '5' }))).toEqual({ id: 'x', mode: 5 });
    expect(plain(coerce({ id: 'x', note: 'null' }))).toEqual({ id: 'x', note: 'null' });
    expect(plain(coerce({ id: 'x', filter: '{"min":2}' }))).toEqual({ id: 'x', filter: { min: 2 } });
  });

  it('leaves JSON text nested deeper than the body limit as a string, for validation to refuse', () => {
    const coerce = coercerOf(z.object({ f: z.looseObject({}) }));
    const deep = `{"a":${'['.repeat(100)}${']'.repeat(100)}}`;
    expect(coerce({ f: deep })).toEqual({ f: deep });
    expect(coerce({ f: '{"a":[[1]]}' })).toEqual({ f: { a: [[1]] } });
  });

  it('leaves what does not fit for validation to report, and drops empty non-string values', () => {
    const out = coerce({ id: ['a', 'b'], limit: 'ten', includeDeleted: 'yes', price: '' });
    expect(plain(out)).toEqual({ id: ['a', 'b'], limit: 'ten', includeDeleted: 'yes' });
    const parsed = schema.safeParse(out);
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues.map((i) => i.path.join('.')).sort()).toEqual(['id', 'includeDeleted', 'limit']);
  });

  it('keeps __proto__ as an own key without touching any prototype', () => {
    const query = Object.create(null);
    query.id = 'x';
    Object.defineProperty(query, '__proto__', { value: 'polluted', enumerable: true });
    const out = coercerOf(z.strictObject({ id: z.string() }))(query);
    expect(Object.getPrototypeOf(out)).toBe(null);
    expect(Object.keys(out)).toEqual(['id', '__proto__']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(z.strictObject({ id: z.string() }).safeParse(out).success).toBe(false);
  });

  it('passes values through for schemas it cannot read', () => {
    expect(plain(createQueryStringCoercer({})({ a: '1' }))).toEqual({ a: '1' });
  });
});
