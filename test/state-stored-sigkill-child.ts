// Child process of state-stored-sigkill.int.test.ts: runs state-stored deposits on a few accounts, 8 in flight, and
// after each row UPDATE prints `saved <n>` and holds the transaction open a moment, so the parent's SIGKILL lands
// between the row change and the commit.
import { andThen, createStateStoredHandler, type Decider, type StateStoredStore, type WriteTx } from 'chronicle-es';
import { createPostgresEventStore } from 'chronicle-es/postgres';
import { createSqliteEventStore } from 'chronicle-es/sqlite';

const [kind, target, schema] = process.argv.slice(2);
// Either store as the portable port: the handler below is written once for both.
const store: StateStoredStore<WriteTx> & { close(): Promise<void> } =
  kind === 'sqlite'
    ? createSqliteEventStore({ path: target })
    : createPostgresEventStore({ connectionString: target, schema, poolSize: 8 });
const table = kind === 'sqlite' ? 'accounts' : `"${schema}".accounts`;

type Deposit = { type: 'Deposit'; data: { accountId: string; amount: number } };
type Deposited = { type: 'Deposited'; data: { amount: number } };
const account: Decider<Deposit, Deposited, { balance: number }> = {
  initialState: { balance: 0 },
  decide: (c) => [{ type: 'Deposited', data: { amount: c.data.amount } }],
  evolve: (s, e) => ({ balance: s.balance + e.data.amount }),
};

const spin = (ms: number) => {
  const until = Date.now() + ms;
  while (Date.now() < until) {}
};
let saved = 0;
const handle = createStateStoredHandler({
  store,
  decider: account,
  maxRetries: 1000,
  streamId: (c) => `account-${c.data.accountId}`,
  load: (t: WriteTx, c) =>
    andThen(
      t.get<{ balance: number; version: number }>(`SELECT balance, version FROM ${table} WHERE id = ?`, [c.data.accountId]),
      (row) => (row === undefined ? undefined : { state: { balance: Number(row.balance) }, version: Number(row.version) }),
    ),
  save: (t: WriteTx, change) =>
    andThen(
      change.before === undefined
        ? t.run(`INSERT INTO ${table} (id, balance, version) VALUES (?, ?, ?) ON CONFLICT (id) DO NOTHING`, [
            change.command.data.accountId,
            change.after.balance,
            change.version,
          ])
        : t.run(`UPDATE ${table} SET balance = ?, version = ? WHERE id = ? AND version = ?`, [
            change.after.balance,
            change.version,
            change.command.data.accountId,
            change.expectedVersion,
          ]),
      (result) => {
        process.stdout.write(`saved ${++saved}\n`);
        // SQLite holds the group's transaction with a spin (the work is synchronous); PostgreSQL with a timer.
        if (kind === 'sqlite') {
          spin(2);
          return result;
        }
        return new Promise((resolve) => setTimeout(() => resolve(result), 2));
      },
    ),
});

await store.transact((t) =>
  andThen(
    t.run(`CREATE TABLE IF NOT EXISTS ${table} (id TEXT PRIMARY KEY, balance INTEGER NOT NULL, version INTEGER NOT NULL)`),
    () => [],
  ),
);
process.stdout.write('ready\n');
let n = 0;
async function worker() {
  for (;;) {
    const i = n++;
    await handle({ type: 'Deposit', data: { accountId: `a${i % 5}`, amount: (i % 7) + 1 } }, {});
  }
}
await Promise.all(Array.from({ length: 8 }, worker));
