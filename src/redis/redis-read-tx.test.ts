import { isChronicleError } from 'chronicle-es';
import { describe, expect, it } from 'vitest';
import { RedisBatch } from './redis-read-tx.js';

// A committed table as the batch reads it, counting the round trips it takes.
function committed(rows: Record<string, Record<string, unknown>>) {
  const fetched: string[][] = [];
  const fetch = async (key: string, fields: readonly string[]) => {
    fetched.push([key, ...fields]);
    return fields.map((f) => (rows[key]?.[f] === undefined ? null : JSON.stringify(rows[key][f])));
  };
  return { fetch, fetched };
}

const codeOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    return isChronicleError(err) ? err.code : 'not a ChronicleError';
  }
  return 'no error';
};

describe('RedisBatch', () => {
  it('reads committed rows, then the batch’s own writes over them, and plans only the writes', async () => {
    const { fetch, fetched } = committed({ 'k:orders': { a: { n: 1 }, b: { n: 2 } } });
    const batch = new RedisBatch((t) => `k:${t}`, fetch);
    const orders = batch.table<{ n: number }>('orders');
    expect(await orders.get('a')).toEqual({ n: 1 });
    orders.set('a', { n: 10 });
    orders.delete('b');
    orders.set('c', { n: 3 });
    expect(await orders.getMany(['a', 'b', 'c', 'd'])).toEqual([{ n: 10 }, undefined, { n: 3 }, undefined]);
    expect([await orders.has('a'), await orders.has('b'), await orders.has('d')]).toEqual([true, false, false]);
    // `a` was read once; `d` once (by getMany), then known to be missing.
    expect(fetched).toEqual([
      ['k:orders', 'a'],
      ['k:orders', 'd'],
    ]);
    expect(batch.table('orders')).toBe(orders);
    expect(batch.end()).toEqual([{ name: 'orders', key: 'k:orders', sets: ['a', '{"n":10}', 'c', '{"n":3}'], dels: ['b'] }]);
  });

  it('copies a value when it is set and hands out a fresh copy on every read', async () => {
    const batch = new RedisBatch((t) => t, committed({}).fetch);
    const rows = batch.table<{ list: number[] }>('rows');
    const value = { list: [1] };
    rows.set('x', value);
    value.list.push(2);
    const read = await rows.get('x');
    expect(read).toEqual({ list: [1] });
    read!.list.push(3);
    expect(await rows.get('x')).toEqual({ list: [1] });
  });

  it('refuses keys that are not strings and values with no JSON form', () => {
    const batch = new RedisBatch((t) => t, committed({}).fetch);
    const rows = batch.table<unknown>('rows');
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    expect(codeOf(() => rows.set(1 as unknown as string, 1))).toBe('INVALID_ARGUMENT');
    expect(codeOf(() => rows.set('u', undefined))).toBe('INVALID_ARGUMENT');
    expect(codeOf(() => rows.set('f', () => 1))).toBe('INVALID_ARGUMENT');
    expect(codeOf(() => rows.set('b', 1n))).toBe('INVALID_ARGUMENT');
    expect(codeOf(() => rows.set('c', cycle))).toBe('INVALID_ARGUMENT');
    expect(codeOf(() => rows.delete(null as unknown as string))).toBe('INVALID_ARGUMENT');
    expect(codeOf(() => batch.table('no-dashes'))).toBe('INVALID_ARGUMENT');
    expect(batch.end()).toEqual([]);
  });

  it('a row that is not JSON reads as STORE_ERROR', async () => {
    const batch = new RedisBatch(
      (t) => t,
      async (_key, fields) => fields.map(() => 'not json'),
    );
    await expect(batch.table('rows').get('x')).rejects.toMatchObject({ code: 'STORE_ERROR' });
  });

  it('refuses every call once ended, so a write made after the commit cannot be lost silently', async () => {
    const batch = new RedisBatch((t) => t, committed({}).fetch);
    const rows = batch.table('rows');
    batch.end();
    expect(codeOf(() => rows.set('late', 1))).toBe('CLOSED');
    expect(codeOf(() => batch.table('other'))).toBe('CLOSED');
    await expect(rows.get('late')).rejects.toMatchObject({ code: 'CLOSED' });
  });
});
