import { describe, expect, it } from 'vitest';
import { readStoreKeys } from './read-store-keys.js';

describe('readStoreKeys', () => {
  it('lays every key of a projection out under the prefix', () => {
    const keys = readStoreKeys('app:prod');
    expect([
      keys.projections,
      keys.record('orders'),
      keys.generations('orders'),
      keys.skips('orders'),
      keys.garbage('orders'),
      keys.lease('orders'),
      keys.leases,
      keys.workers,
      keys.workersSeen,
      keys.tables('orders', 3),
      keys.table('orders', 3, 'by_id'),
      keys.generationBase('orders'),
    ]).toEqual([
      'app:prod:projections',
      'app:prod:projection:orders',
      'app:prod:projection:orders:generations',
      'app:prod:projection:orders:skips',
      'app:prod:projection:orders:garbage',
      'app:prod:projection:orders:lease',
      'app:prod:leases',
      'app:prod:workers',
      'app:prod:workers:seen',
      'app:prod:projection:orders:g3:tables',
      'app:prod:projection:orders:g3:t:by_id',
      'app:prod:projection:orders:g',
    ]);
  });

  it.each(['', 'a b', 'a::b', ':a', 'a:', 'a*', 'x'.repeat(101), 'ä', 7])('refuses the prefix %j', (prefix) => {
    expect(() => readStoreKeys(prefix as string)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });
});
