// The README's "Two write models": one decider, one command, written event-sourced and state-stored; both run here on
// a SQLite file and must emit the same events and reach the same state.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type Command,
  createCommandHandler,
  createStateStoredHandler,
  type Decider,
  domainError,
  runMigrations,
} from 'chronicle-es';
import { createSqliteEventStore, type SqliteEventStore } from 'chronicle-es/sqlite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// #region decider
type RenameCustomer = Command<'RenameCustomer', { customerId: string; name: string }>;
type CustomerRenamed = { type: 'CustomerRenamed'; data: { customerId: string; name: string } };
type Customer = { name: string | undefined };

const customer: Decider<RenameCustomer, CustomerRenamed, Customer> = {
  initialState: { name: undefined },
  decide(command, state) {
    if (command.data.name.trim() === '') throw domainError('a name cannot be blank');
    if (command.data.name === state.name) return []; // a repeat changes nothing
    return [{ type: 'CustomerRenamed', data: command.data }];
  },
  evolve: (_state, event) => ({ name: event.data.name }),
};
// #endregion decider

let dir: string;
let store: SqliteEventStore;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'chronicle-two-models-'));
  store = createSqliteEventStore({ path: join(dir, 'shop.db') });
});
afterAll(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('one command, two write models', () => {
  it('event-sourced and state-stored emit the same events and reach the same state', async () => {
    // #region event-sourced
    // Event-sourced: the stream is the state; a command folds it, decides, appends at the version it read.
    const renameSourced = createCommandHandler({
      store,
      decider: customer,
      streamId: (c) => `customer-${c.data.customerId}`,
    });
    // #endregion event-sourced

    // #region state-stored
    // State-stored: the row is the state; a command loads it, decides, updates it and emits the events, in one
    // transaction. The row's version column is its stream's version: a concurrent change conflicts and is retried.
    await runMigrations({
      store,
      migrations: [
        {
          name: '001_customers.sql',
          sql: 'CREATE TABLE customers (id TEXT PRIMARY KEY, name TEXT NOT NULL, version INTEGER NOT NULL)',
        },
      ],
    });
    const renameStored = createStateStoredHandler({
      store,
      decider: customer,
      streamId: (c) => `customer-${c.data.customerId}`,
      load: (tx, c) => {
        const row = tx.get<{ name: string; version: number }>('SELECT name, version FROM customers WHERE id = ?', [
          c.data.customerId,
        ]);
        return row && { state: { name: row.name }, version: row.version };
      },
      save: (tx, { command, after, version, expectedVersion }) =>
        expectedVersion === 0
          ? tx.run('INSERT INTO customers (id, name, version) VALUES (?, ?, ?) ON CONFLICT (id) DO NOTHING', [
              command.data.customerId,
              after.name ?? '',
              version,
            ])
          : tx.run('UPDATE customers SET name = ?, version = ? WHERE id = ? AND version = ?', [
              after.name ?? '',
              version,
              command.data.customerId,
              expectedVersion,
            ]),
    });
    // #endregion state-stored

    const rename = (customerId: string, name: string): RenameCustomer => ({ type: 'RenameCustomer', data: { customerId, name } });
    for (const [handle, id] of [
      [renameSourced, 'es1'],
      [renameStored, 'ss1'],
    ] as const) {
      await handle(rename(id, 'Ada'), {});
      await handle(rename(id, 'Ada'), {});
      const last = await handle(rename(id, 'Ada L.'), {});
      await expect(handle(rename(id, ' '), {})).rejects.toMatchObject({ code: 'DOMAIN_RULE' });
      expect(last.version).toBe(2);
      const events = await store.readStream(`customer-${id}`);
      expect(events.map((e) => [e.type, e.version, (e.data as { name: string }).name])).toEqual([
        ['CustomerRenamed', 1, 'Ada'],
        ['CustomerRenamed', 2, 'Ada L.'],
      ]);
    }
    let rows: unknown[] = [];
    await store.transact((tx) => {
      rows = tx.all('SELECT id, name, version FROM customers');
      return [];
    });
    expect(rows).toEqual([{ id: 'ss1', name: 'Ada L.', version: 2 }]);
  });
});
