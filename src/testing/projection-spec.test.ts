import { createInMemoryReadStore, defineProjection, type InMemoryReadTx } from 'chronicle-es';
import { createSqliteReadStore, type SqliteReadTx } from 'chronicle-es/sqlite';
import { describe, expect, it } from 'vitest';
import { projectionSpec } from './projection-spec.js';

const memoryTotals = defineProjection<InMemoryReadTx>({
  name: 'totals',
  version: 1,
  handlers: {
    Added: (event, tx) => {
      const { account, amount } = event.data as { account: string; amount: number };
      const t = tx.table<{ account: string; total: number }>('totals');
      t.set(account, { account, total: (t.get(account)?.total ?? 0) + amount });
    },
  },
});

const sqlTotals = defineProjection<SqliteReadTx>({
  name: 'totals',
  version: 1,
  setup: (tx) => tx.run(`CREATE TABLE ${tx.table('totals')} (account TEXT PRIMARY KEY, total INTEGER NOT NULL)`),
  handlers: {
    Added: (event, tx) => {
      const { account, amount } = event.data as { account: string; amount: number };
      tx.run(
        `INSERT INTO ${tx.table('totals')} (account, total) VALUES (?, ?) ON CONFLICT (account) DO UPDATE SET total = total + excluded.total`,
        [account, amount],
      );
    },
  },
});

const given = [
  { type: 'Added', data: { account: 'a', amount: 2 } },
  { type: 'Added', data: { account: 'b', amount: 5 } },
  { streamId: 'other-1', type: 'Added', data: { account: 'a', amount: 3 } },
];

describe('projectionSpec', () => {
  it('checks rows of an in-memory projection', async () => {
    await projectionSpec(memoryTotals, { readStore: createInMemoryReadStore })
      .given(given)
      .expectRows('totals', [
        { account: 'b', total: 5 },
        { account: 'a', total: 5 },
      ]);
  });

  it('checks rows of a SQLite projection, and fails when they differ', async () => {
    const spec = projectionSpec(sqlTotals, { readStore: () => createSqliteReadStore({ path: ':memory:' }) });
    await spec.given(given).expectRows('totals', [
      { account: 'a', total: 5 },
      { account: 'b', total: 5 },
    ]);
    await expect(spec.given(given).expectRows('totals', [{ account: 'a', total: 5 }])).rejects.toThrow(/rows of totals/);
  });

  it('hands the reader to free-form assertions', async () => {
    await projectionSpec(sqlTotals, { readStore: () => createSqliteReadStore({ path: ':memory:' }) })
      .given(given)
      .then((reader) => {
        expect(reader.get(`SELECT total FROM ${reader.table('totals')} WHERE account = ?`, ['a'])).toEqual({ total: 5 });
      });
  });

  it('reports a failing handler', async () => {
    const broken = defineProjection<InMemoryReadTx>({
      name: 'broken',
      version: 1,
      handlers: {
        Added: () => {
          throw new Error('nope');
        },
      },
    });
    await expect(
      projectionSpec(broken, { readStore: createInMemoryReadStore })
        .given(given)
        .then(() => {}),
    ).rejects.toMatchObject({
      code: 'PROJECTION_FAILED',
    });
  });
});
