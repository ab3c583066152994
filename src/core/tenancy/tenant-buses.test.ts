import { describe, expect, expectTypeOf, it } from 'vitest';
import { type CommandBus, createCommandBus } from '../command-bus.js';
import { createCommandHandler } from '../command-handler.js';
import { isChronicleError } from '../errors.js';
import { createInMemoryEventStore } from '../in-memory-event-store.js';
import type { Principal } from '../messages.js';
import { createInMemoryReadStore } from '../projections/in-memory-read-store.js';
import { createProjector } from '../projections/projector.js';
import { account, balancesMemory, Deposit, GetBalance, ledgerBuses, notFound } from './fixtures/ledger.js';
import { createTenantCommandBus, createTenantQueryBus, tenantOf } from './tenant-buses.js';
import { tenantGuard } from './tenant-guard.js';
import { createTenantRegistry } from './tenant-registry.js';

// Each tenant: its own in-memory event store, read store, projector and buses.
function inMemoryTenants() {
  const opened: string[] = [];
  const tenants = createTenantRegistry({
    exists: (tenantId) => tenantId !== 'gone',
    async open(tenantId) {
      opened.push(tenantId);
      const eventStore = createInMemoryEventStore();
      const readStore = createInMemoryReadStore();
      const projector = createProjector({ eventStore, readStore, projections: [balancesMemory] });
      await projector.start();
      const balance = async (accountId: string) => {
        const row = readStore.reader('balances').table<{ accountId: string; balance: number; deposits: number }>('balances');
        const found = row.get(accountId);
        if (!found) throw notFound(accountId);
        return found;
      };
      return {
        tenantId,
        eventStore,
        readStore,
        projector,
        ...ledgerBuses(tenantId, eventStore, projector, balance),
        close: () => projector.stop(),
      };
    },
  });
  const commandBus = createTenantCommandBus({ tenants, commands: [Deposit] });
  const queryBus = createTenantQueryBus({ tenants, queries: [GetBalance] });
  return { tenants, commandBus, queryBus, opened };
}

const clerk = (tenantId?: string): Principal => ({ id: `clerk-${tenantId ?? 'none'}`, roles: ['clerk'], tenantId });

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
    return undefined;
  } catch (err) {
    return isChronicleError(err) ? err.code : `not a ChronicleError: ${String(err)}`;
  }
}

describe('tenant buses', () => {
  it("keeps two tenants' identical stream ids apart, each event stamped with its tenant", async () => {
    const { tenants, commandBus, queryBus } = inMemoryTenants();
    const a = await commandBus.dispatch(Deposit, { accountId: 'x', amount: 5 }, { principal: clerk('a') });
    const b = await commandBus.dispatch(Deposit, { accountId: 'x', amount: 7 }, { principal: clerk('b') });
    await commandBus.dispatch(Deposit, { accountId: 'x', amount: 1 }, { principal: clerk('b') });
    // Same stream id in both stores, each with only its own tenant's events.
    expect([a.streamId, b.streamId]).toEqual(['account-x', 'account-x']);
    const ta = await tenants.get('a');
    const tb = await tenants.get('b');
    const streamA = await ta.eventStore.readStream('account-x');
    const streamB = await tb.eventStore.readStream('account-x');
    expect(streamA.map((e) => [e.data, e.metadata.tenantId])).toEqual([[{ accountId: 'x', amount: 5 }, 'a']]);
    expect(streamB.map((e) => [(e.data as { amount: number }).amount, e.metadata.tenantId])).toEqual([
      [7, 'b'],
      [1, 'b'],
    ]);
    const balanceA = await queryBus.run(GetBalance, { accountId: 'x' }, { principal: clerk('a'), minPosition: a.position });
    expect(balanceA).toEqual({ accountId: 'x', balance: 5, deposits: 1 });
    const balanceB = await queryBus.run(GetBalance, { accountId: 'x' }, { principal: clerk('b'), minPosition: 2 });
    expect(balanceB).toEqual({ accountId: 'x', balance: 8, deposits: 2 });
    await tenants.close();
  });

  it("answers NOT_FOUND for another tenant's entity: it does not exist in the principal's own store", async () => {
    const { tenants, commandBus, queryBus } = inMemoryTenants();
    const written = await commandBus.dispatch(Deposit, { accountId: 'only-b', amount: 3 }, { principal: clerk('b') });
    await queryBus.run(GetBalance, { accountId: 'only-b' }, { principal: clerk('b'), minPosition: written.position });
    expect(await codeOf(queryBus.run(GetBalance, { accountId: 'only-b' }, { principal: clerk('a') }))).toBe('NOT_FOUND');
    expect(await (await tenants.get('a')).eventStore.readAll()).toEqual([]);
    await tenants.close();
  });

  it('refuses a dispatch without a tenant, with a malformed one, or for an unknown tenant, and opens nothing', async () => {
    const { tenants, commandBus, queryBus, opened } = inMemoryTenants();
    const deposit = (principal?: Principal) => commandBus.dispatch(Deposit, { accountId: 'x', amount: 1 }, { principal });
    expect(await codeOf(deposit(undefined))).toBe('UNAUTHENTICATED');
    expect(await codeOf(deposit(clerk()))).toBe('FORBIDDEN');
    for (const bad of ['../x', 'a/b', "a'; DROP SCHEMA public --", 'A', '', 'a.b', 'x'.repeat(41), 'é', 'a\u0000']) {
      expect(await codeOf(deposit(clerk(bad))), bad).toBe('INVALID_ARGUMENT');
      expect(await codeOf(queryBus.run(GetBalance, { accountId: 'x' }, { principal: clerk(bad) })), bad).toBe('INVALID_ARGUMENT');
    }
    expect(await codeOf(deposit(clerk('gone')))).toBe('NOT_FOUND');
    expect(await codeOf(commandBus.dispatch('Withdraw', {}, { principal: clerk('a') }))).toBe('UNKNOWN_MESSAGE');
    expect(opened).toEqual([]);
    // The tenant's own bus still checks roles and payloads.
    expect(await codeOf(deposit({ id: 'u', roles: ['reader'], tenantId: 'a' }))).toBe('FORBIDDEN');
    expect(await codeOf(commandBus.dispatch('Deposit', { accountId: 'x', amount: -1 }, { principal: clerk('a') }))).toBe(
      'VALIDATION_FAILED',
    );
    expect(await (await tenants.get('a')).eventStore.readAll()).toEqual([]);
    await tenants.close();
  });

  it("waits for minPosition on the principal's tenant's projector only (positions of two stores are not comparable)", async () => {
    const { tenants, commandBus, queryBus } = inMemoryTenants();
    for (let i = 0; i < 5; i++) await commandBus.dispatch(Deposit, { accountId: 'x', amount: 1 }, { principal: clerk('b') });
    const b = await tenants.get('b');
    await b.projector.waitForPosition(5, { timeoutMs: 5000 });
    const a = await tenants.get('a');
    await a.projector.stop();
    const written = await commandBus.dispatch(Deposit, { accountId: 'x', amount: 1 }, { principal: clerk('a') });
    expect(written.position).toBe(1);
    // B's projector is past position 1; A's is stopped, so A's wait must not be satisfied by B's.
    expect(
      await codeOf(queryBus.run(GetBalance, { accountId: 'x' }, { principal: clerk('a'), minPosition: 1, waitMs: 50 })),
    ).toBe('CLOSED');
    expect(await queryBus.run(GetBalance, { accountId: 'x' }, { principal: clerk('b'), minPosition: 5, waitMs: 50 })).toEqual({
      accountId: 'x',
      balance: 5,
      deposits: 5,
    });
    await tenants.close();
  });

  it("rebuilds one tenant's projection and leaves the other's generation, checkpoint and rows untouched", async () => {
    const { tenants, commandBus } = inMemoryTenants();
    for (const tenantId of ['a', 'b']) {
      for (let i = 0; i < 3; i++)
        await commandBus.dispatch(Deposit, { accountId: 'x', amount: 2 }, { principal: clerk(tenantId) });
      await (await tenants.get(tenantId)).projector.waitForPosition(3, { timeoutMs: 5000 });
    }
    const a = await tenants.get('a');
    const b = await tenants.get('b');
    const before = { a: await a.readStore.load('balances'), b: await b.readStore.load('balances') };
    const rowsB = [...b.readStore.reader('balances').table('balances').entries()];
    await a.projector.rebuild('balances');
    const afterA = await a.readStore.load('balances');
    expect(afterA?.generation).toBe((before.a?.generation ?? 0) + 1);
    expect(await b.readStore.load('balances')).toEqual(before.b);
    expect([...b.readStore.reader('balances').table('balances').entries()]).toEqual(rowsB);
    expect(a.readStore.reader('balances').table('balances').get('x')).toEqual({ accountId: 'x', balance: 6, deposits: 3 });
    await tenants.close();
  });

  it('puts every event of many interleaved commands for two tenants in its own tenant store, counts exact', async () => {
    const { tenants, commandBus } = inMemoryTenants();
    const perTenant = 200;
    const sends = [];
    for (let i = 0; i < perTenant; i++) {
      for (const tenantId of ['a', 'b']) {
        sends.push(
          commandBus.dispatch(
            Deposit,
            { accountId: `acc-${i}`, amount: tenantId === 'a' ? 1 : 10 },
            { principal: clerk(tenantId) },
          ),
        );
      }
    }
    await Promise.all(sends);
    for (const tenantId of ['a', 'b']) {
      const events = await (await tenants.get(tenantId)).eventStore.readAll({ limit: 10_000 });
      expect(events).toHaveLength(perTenant);
      expect(events.every((e) => e.metadata.tenantId === tenantId)).toBe(true);
      expect(events.every((e) => (e.data as { amount: number }).amount === (tenantId === 'a' ? 1 : 10))).toBe(true);
    }
    await tenants.close();
  });

  it('refuses register on a routing bus, and a command listed twice', () => {
    const { commandBus } = inMemoryTenants();
    expect(() => commandBus.register(Deposit, async () => ({ streamId: 's', version: 1, position: 1 }))).toThrow(
      /register handlers there/,
    );
    const tenants = createTenantRegistry({ open: () => ({ commandBus: createCommandBus() }) });
    expect(() => createTenantCommandBus({ tenants, commands: [Deposit, Deposit] })).toThrow(/already/);
    expect(commandBus.definitions()).toEqual([Deposit]);
  });

  it('needs resources with the bus it routes to (a type error otherwise)', () => {
    const withoutBus = createTenantRegistry({ open: () => ({ close() {} }) });
    // @ts-expect-error the registry's resources have no commandBus
    expect(() => createTenantCommandBus({ tenants: withoutBus, commands: [] })).not.toThrow();
    // @ts-expect-error the registry's resources have no queryBus
    expect(() => createTenantQueryBus({ tenants: withoutBus, queries: [] })).not.toThrow();
    expectTypeOf(createTenantCommandBus).returns.toEqualTypeOf<CommandBus>();
  });

  it("carries the principal's tenant in the dispatch context into the events' metadata, and nothing without one", async () => {
    const store = createInMemoryEventStore();
    const seen: Array<string | undefined> = [];
    const bus = createCommandBus({
      middleware: [
        (context, next) => {
          seen.push(context.tenantId);
          return next();
        },
      ],
    }).register(Deposit, createCommandHandler({ store, decider: account, streamId: (c) => `account-${c.data.accountId}` }));
    await bus.dispatch(Deposit, { accountId: 'x', amount: 1 }, { principal: clerk('a') });
    await bus.dispatch(Deposit, { accountId: 'x', amount: 1 }, { principal: clerk() });
    const [pinned, unpinned] = await store.readStream('account-x');
    expect(seen).toEqual(['a', undefined]);
    expect(pinned.metadata.tenantId).toBe('a');
    expect('tenantId' in unpinned.metadata).toBe(false);
  });

  it("guards each tenant's own buses: a direct caller acting for another tenant, or none, is refused", async () => {
    const { tenants } = inMemoryTenants();
    const a = await tenants.get('a');
    const send = (principal?: Principal) =>
      a.commandBus.dispatch(Deposit, { accountId: 'x', amount: 1 }, principal && { principal });
    expect(await codeOf(send(clerk('b')))).toBe('FORBIDDEN');
    expect(await codeOf(send(clerk()))).toBe('FORBIDDEN');
    expect(await codeOf(send(undefined))).toBe('UNAUTHENTICATED');
    expect(await codeOf(a.queryBus.run(GetBalance, { accountId: 'x' }, { principal: clerk('b') }))).toBe('FORBIDDEN');
    expect(await a.eventStore.readAll()).toEqual([]);
    await send(clerk('a'));
    expect(await a.eventStore.readAll()).toHaveLength(1);
    expect(() => tenantGuard('../a')).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    await tenants.close();
  });

  it('tells who a principal acts for', () => {
    expect(tenantOf(clerk('a'), 'x')).toBe('a');
    expect(() => tenantOf(undefined, 'x')).toThrow(expect.objectContaining({ code: 'UNAUTHENTICATED' }));
    expect(() => tenantOf(clerk(), 'x')).toThrow(expect.objectContaining({ code: 'FORBIDDEN' }));
  });
});
