// A command retried with the same idempotency key after a restart returns the first status and writes nothing.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCommandBus, createCommandHandler, type Decider, defineCommand } from 'chronicle-es';
import { createSqliteEventStore } from 'chronicle-es/sqlite';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';

const Deposit = defineCommand('Deposit', z.object({ accountId: z.string(), cents: z.number().int().positive() }));
const account: Decider<
  { type: 'Deposit'; data: { accountId: string; cents: number } },
  { type: 'Deposited'; data: { cents: number } },
  null
> = {
  initialState: null,
  decide: (c) => [{ type: 'Deposited', data: { cents: c.data.cents } }],
  evolve: (s) => s,
};

const dir = mkdtempSync(join(tmpdir(), 'chronicle-idem-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function open() {
  const store = createSqliteEventStore({ path: join(dir, 'events.db') });
  const bus = createCommandBus().register(
    Deposit,
    createCommandHandler({ store, decider: account, streamId: (c) => `account-${c.data.accountId}` }),
  );
  return { store, bus };
}

describe('idempotency keys across a restart', () => {
  it('returns the first status for the same key and writes nothing, while a new key writes', async () => {
    const first = open();
    const status = await first.bus.dispatch(Deposit, { accountId: 'a', cents: 100 }, { idempotencyKey: 'pay-1' });
    await first.store.close();

    const second = open();
    expect(await second.bus.dispatch(Deposit, { accountId: 'a', cents: 100 }, { idempotencyKey: 'pay-1' })).toEqual(status);
    expect(await second.store.readStream('account-a')).toHaveLength(1);
    const other = await second.bus.dispatch(Deposit, { accountId: 'a', cents: 100 }, { idempotencyKey: 'pay-2' });
    expect(other.version).toBe(2);
    await second.store.close();
  });
});
