// The README's API tour, as a program the test suite runs: `node --conditions=chronicle-source --import tsx examples/tour/tour.ts`.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// #region imports
import {
  assertNever,
  ChronicleError,
  type CommandOf,
  createCommandBus,
  createCommandHandler,
  createProjector,
  createQueryBus,
  type Decider,
  defineCommand,
  defineEvent,
  defineProjection,
  defineQuery,
  domainError,
  type EventOf,
} from 'chronicle-es';
import { createSqliteEventStore, createSqliteReadStore, type SqliteReadTx } from 'chronicle-es/sqlite';
import { z } from 'zod';
// #endregion imports

// #region messages

// Commands, queries and events are declared once: a name and a zod schema (and who may send them).
// The schema is the single source of each message's type: payloads, results and event data are inferred from it.
export const OpenAccount = defineCommand('OpenAccount', z.object({ accountId: z.string().min(1), owner: z.string().min(1) }));
export const Deposit = defineCommand('Deposit', z.object({ accountId: z.string().min(1), cents: z.number().int().positive() }), {
  roles: ['teller'], // checked before the payload: anyone else gets FORBIDDEN (no principal: UNAUTHENTICATED)
});
export const GetBalance = defineQuery('GetBalance', z.object({ accountId: z.string() }), {
  result: z.object({ owner: z.string(), cents: z.number().int() }),
  reads: ['balances'],
});
export const AccountOpened = defineEvent('AccountOpened', z.object({ owner: z.string() }));
export const Deposited = defineEvent('Deposited', z.object({ cents: z.number().int() }));
// #endregion messages

// #region decider
type AccountCommand = CommandOf<typeof OpenAccount | typeof Deposit>;
type AccountEvent = EventOf<typeof AccountOpened | typeof Deposited>;
type Account = { open: boolean; balance: number };

// The write model: decide is pure and refuses with a DOMAIN_RULE error; evolve only sets fields.
export const account: Decider<AccountCommand, AccountEvent, Account> = {
  initialState: { open: false, balance: 0 },
  decide(command, state) {
    switch (command.type) {
      case 'OpenAccount':
        return state.open ? [] : [{ type: 'AccountOpened', data: { owner: command.data.owner } }];
      case 'Deposit':
        if (!state.open) throw domainError('account is not open');
        return [{ type: 'Deposited', data: { cents: command.data.cents } }];
      default:
        return assertNever(command);
    }
  },
  evolve(state, event) {
    switch (event.type) {
      case 'AccountOpened':
        return { ...state, open: true };
      case 'Deposited':
        return { ...state, balance: state.balance + event.data.cents };
    }
  },
};
// #endregion decider

// #region projection
// The read model: a table fed only by events; its checkpoint commits in the same transaction.
// Handlers are keyed by the listed events' types, and each gets its event's data typed.
export const balances = defineProjection({
  name: 'balances',
  version: 1,
  events: [AccountOpened, Deposited],
  setup: (tx: SqliteReadTx) =>
    tx.run(`CREATE TABLE ${tx.table('balances')} (account_id TEXT PRIMARY KEY, owner TEXT, cents INTEGER)`),
  handlers: {
    AccountOpened: (e, tx) =>
      tx.run(`INSERT INTO ${tx.table('balances')} VALUES (?, ?, 0)`, [e.streamId.slice('account-'.length), e.data.owner]),
    Deposited: (e, tx) =>
      tx.run(`UPDATE ${tx.table('balances')} SET cents = cents + ? WHERE account_id = ?`, [
        e.data.cents,
        e.streamId.slice('account-'.length),
      ]),
  },
});
// #endregion projection

// #region wiring
export async function main(dataDir = mkdtempSync(join(tmpdir(), 'chronicle-tour-'))) {
  const eventStore = createSqliteEventStore({ path: join(dataDir, 'events.db') });
  const readStore = createSqliteReadStore({ path: join(dataDir, 'read.db') });
  const projector = createProjector({ eventStore, readStore, projections: [balances] });
  await projector.start();

  const handle = createCommandHandler({ store: eventStore, decider: account, streamId: (c) => `account-${c.data.accountId}` });
  const commands = createCommandBus().register(OpenAccount, handle).register(Deposit, handle);
  const queries = createQueryBus({ waitForPosition: projector.waitForPosition }).register(GetBalance, ({ accountId }) => {
    const reader = readStore.reader('balances');
    const row = reader.get<{ owner: string; cents: number }>(
      `SELECT owner, cents FROM ${reader.table('balances')} WHERE account_id = ?`,
      [accountId],
    );
    if (!row) throw new ChronicleError('NOT_FOUND', `no account ${accountId}`);
    return row;
  });

  const teller = { id: 'tessa', roles: ['teller'] };
  await commands.dispatch(OpenAccount, { accountId: 'a1', owner: 'Ada' }, { principal: teller });
  // A command returns only a status; its position lets the next query read its own write.
  const { position } = await commands.dispatch(Deposit, { accountId: 'a1', cents: 2500 }, { principal: teller });
  const balance = await queries.run(GetBalance, { accountId: 'a1' }, { minPosition: position }); // typed { owner, cents }

  await projector.stop();
  await readStore.close();
  await eventStore.close();
  return balance; // { owner: 'Ada', cents: 2500 }
}
// #endregion wiring

if (import.meta.url === `file://${process.argv[1]}`) console.log(await main());
