// An idempotency key names one command, not one request: the same key on two different commands is two writes.
import { describe, expect, it } from 'vitest';
import { createCommandHandler } from './command-handler.js';
import type { Decider } from './decider.js';
import { createInMemoryEventStore } from './in-memory-event-store.js';

type AccountCommand = { type: 'Deposit' | 'Withdraw'; data: { accountId: string; cents: number } };
type AccountEvent = { type: 'Deposited' | 'Withdrawn'; data: { cents: number } };
const account: Decider<AccountCommand, AccountEvent, { balance: number }> = {
  initialState: { balance: 0 },
  decide: (command) => [{ type: command.type === 'Deposit' ? 'Deposited' : 'Withdrawn', data: { cents: command.data.cents } }],
  evolve: (state, event) => ({ balance: state.balance + (event.type === 'Deposited' ? 1 : -1) * event.data.cents }),
};
const deposit = (accountId: string, cents: number): AccountCommand => ({ type: 'Deposit', data: { accountId, cents } });
const withdraw = (accountId: string, cents: number): AccountCommand => ({ type: 'Withdraw', data: { accountId, cents } });

describe('idempotency key scope', () => {
  it('applies two different commands sent with one key, each answering its own status', async () => {
    const store = createInMemoryEventStore();
    const handle = createCommandHandler({ store, decider: account, streamId: (c) => `account-${c.data.accountId}` });
    // A client that numbers its requests per session can reuse "1" for a deposit and later a withdrawal.
    const deposited = await handle(deposit('a', 500), { idempotencyKey: 'req-1' });
    const withdrawn = await handle(withdraw('a', 200), { idempotencyKey: 'req-1' });
    expect(deposited).toEqual({ streamId: 'account-a', version: 1, position: 1 });
    expect(withdrawn).toEqual({ streamId: 'account-a', version: 2, position: 2 });
    expect((await store.readStream('account-a')).map((e) => [e.type, e.data])).toEqual([
      ['Deposited', { cents: 500 }],
      ['Withdrawn', { cents: 200 }],
    ]);
    // Each command's repeat still answers that command's first status and writes nothing.
    expect(await handle(deposit('a', 500), { idempotencyKey: 'req-1' })).toEqual(deposited);
    expect(await handle(withdraw('a', 200), { idempotencyKey: 'req-1' })).toEqual(withdrawn);
    expect(await store.headPosition()).toBe(2);
  });

  it('keeps the scopes apart when the two commands target different streams', async () => {
    const store = createInMemoryEventStore();
    const handle = createCommandHandler({ store, decider: account, streamId: (c) => `account-${c.data.accountId}` });
    const first = await handle(deposit('b', 100), { idempotencyKey: 'shared' });
    const second = await handle(withdraw('c', 100), { idempotencyKey: 'shared' });
    expect(first).toEqual({ streamId: 'account-b', version: 1, position: 1 });
    expect(second).toEqual({ streamId: 'account-c', version: 1, position: 2 });
    expect(await store.readStream('account-c')).toHaveLength(1);
  });
});
