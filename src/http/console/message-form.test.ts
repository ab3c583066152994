import { toJsonSchema } from 'chronicle-es';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { fieldsOf, formFields, payloadOf } from './message-form.js';

const schema = toJsonSchema(
  z.object({
    productId: z.string(),
    quantity: z.number().int(),
    express: z.boolean().optional(),
    size: z.enum(['s', 'm']).optional(),
    lines: z.array(z.object({ sku: z.string() })).optional(),
  }),
);

describe('message forms', () => {
  it('makes one field per property, typed from the schema', () => {
    expect(fieldsOf(schema).map((f) => [f.name, f.kind, f.required])).toEqual([
      ['productId', 'string', true],
      ['quantity', 'integer', true],
      ['express', 'boolean', false],
      ['size', 'enum', false],
      ['lines', 'json', false],
    ]);
    expect(fieldsOf(toJsonSchema(z.string())).map((f) => f.name)).toEqual(['_payload']);
  });

  it('turns a submitted form into the payload: typed where it parses, left as text for validation to refuse', () => {
    const fields = fieldsOf(schema);
    expect(payloadOf(fields, { productId: 'p1', quantity: '3', express: 'true', size: '', lines: '[{"sku":"A"}]' })).toEqual({
      productId: 'p1',
      quantity: 3,
      express: true,
      lines: [{ sku: 'A' }],
    });
    expect(payloadOf(fields, { productId: 'p1', quantity: 'three' })).toEqual({ productId: 'p1', quantity: 'three' });
    expect(() => payloadOf(fields, { lines: '[nope' })).toThrow('field lines must be JSON');
    expect(payloadOf(fieldsOf(toJsonSchema(z.string())), { _payload: '"x"' })).toBe('x');
  });

  it('renders the fields with the values sent back escaped', () => {
    const markup = formFields('Order', fieldsOf(schema), { productId: '"><script>' }).value;
    expect(markup).toContain('value="&quot;&gt;&lt;script&gt;"');
    expect(markup).toContain('<select id="Order-size" name="size">');
    expect(markup).not.toContain('type="number"');
  });
});
