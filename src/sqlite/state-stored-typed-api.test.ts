// Type-level tests of state-stored handlers: SQLite's tx answers at once, so an async load or save there must not
// compile (it would run outside the group commit's savepoint); PostgreSQL's answers with promises; a handler written
// against the portable WriteTx takes either. Each `@ts-expect-error` is a wrong use; vitest runs the one real check.
import {
  andThen,
  type Command,
  createStateStoredHandler,
  type Decider,
  type StateStoredStore,
  type WriteRunResult,
  type WriteTx,
} from 'chronicle-es';
import type { PostgresEventStore, PostgresWriteTx } from 'chronicle-es/postgres';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { createSqliteEventStore, type SqliteEventStore, type SqliteWriteTx } from './index.js';

type Touch = Command<'Touch', { id: string }>;
type Touched = { type: 'Touched'; data: { id: string } };
const decider: Decider<Touch, Touched, { n: number }> = {
  initialState: { n: 0 },
  decide: (c) => [{ type: 'Touched', data: c.data }],
  evolve: (s) => ({ n: s.n + 1 }),
};

// Never called: these only have to compile, or fail to.
function wiring(sqlite: SqliteEventStore, postgres: PostgresEventStore, portable: StateStoredStore<WriteTx>) {
  expectTypeOf<ReturnType<SqliteWriteTx['run']>>().toEqualTypeOf<WriteRunResult>();
  expectTypeOf<ReturnType<PostgresWriteTx['run']>>().toEqualTypeOf<Promise<WriteRunResult>>();
  const common = { decider, streamId: (c: Touch) => `t-${c.data.id}` };

  createStateStoredHandler({
    ...common,
    store: sqlite,
    load: (tx) => {
      const row = tx.get<{ n: number; version: number }>('SELECT n, version FROM t');
      return row && { state: { n: row.n }, version: row.version };
    },
    save: (tx, change) => tx.run('UPDATE t SET version = ?', [change.version]),
  });
  createStateStoredHandler({
    ...common,
    store: sqlite,
    // @ts-expect-error an async load on SQLite: it would resume after the group commit moved on
    load: async (tx) => tx.get<{ n: number; version: number }>('SELECT n, version FROM t') && undefined,
    save: (tx) => tx.run('UPDATE t SET n = 1'),
  });
  createStateStoredHandler({
    ...common,
    store: sqlite,
    load: () => undefined,
    // @ts-expect-error an async save on SQLite
    save: async (tx) => tx.run('UPDATE t SET n = 1'),
  });
  createStateStoredHandler({
    ...common,
    store: postgres,
    load: async (tx) => {
      const row = await tx.get<{ n: number; version: number }>('SELECT n, version FROM t');
      return row && { state: { n: row.n }, version: row.version };
    },
    save: (tx) => tx.run('UPDATE t SET n = 1'),
  });
  createStateStoredHandler({
    ...common,
    store: portable,
    load: (tx) => andThen(tx.get<{ n: number; version: number }>('SELECT n, version FROM t'), () => undefined),
    save: (tx) => tx.run('UPDATE t SET n = 1'),
  });
  // @ts-expect-error the SQL of a state-stored tx takes SqlValue parameters, not objects
  sqlite.transact((tx) => andThen(tx.run('UPDATE t SET n = ?', [{ n: 1 }]), () => []));
}

describe('state-stored handler types', () => {
  it('an async work handed to SQLite anyway (through a cast) is refused at run time, changing nothing', async () => {
    expect(typeof wiring).toBe('function');
    const store = createSqliteEventStore({ path: ':memory:' });
    try {
      await expect(store.transact((async () => []) as never)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    } finally {
      await store.close();
    }
  });
});
