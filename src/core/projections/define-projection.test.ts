import { describe, expect, it } from 'vitest';
import { defineProjection } from './define-projection.js';

describe('defineProjection', () => {
  const handlers = { Added: () => {} };

  it('lists the handled event types', () => {
    expect(defineProjection({ name: 'order_list', version: 1, handlers }).eventTypes).toEqual(['Added']);
  });

  it.each([
    ['a name with a double underscore', { name: 'a__b', version: 1, handlers }],
    ['a name starting with a digit', { name: '1a', version: 1, handlers }],
    ['version 0', { name: 'a', version: 0, handlers }],
    ['a fractional version', { name: 'a', version: 1.5, handlers }],
    ['no handlers', { name: 'a', version: 1, handlers: {} }],
    ['a handler that is not a function', { name: 'a', version: 1, handlers: { Added: 1 as never } }],
  ])('rejects %s', (_, definition) => {
    expect(() => defineProjection(definition)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });
});
