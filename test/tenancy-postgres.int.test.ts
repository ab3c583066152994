// Multi-tenancy on PostgreSQL, a schema per tenant: identical stream ids apart, NOT_FOUND across tenants, a rebuild of
// one tenant's projection leaving the other's tables and checkpoint untouched, interleaved writers counted exact.
import { randomBytes } from 'node:crypto';
import {
  createCommandBus,
  createCommandHandler,
  createProjector,
  createQueryBus,
  createTenantCommandBus,
  createTenantQueryBus,
  createTenantRegistry,
  isChronicleError,
  type Principal,
  tenantGuard,
  tenantSchema,
} from 'chronicle-es';
import { createPostgresEventStore, createPostgresReadStore } from 'chronicle-es/postgres';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { account, balancesSql, Deposit, GetBalance, sqlBalance } from '../src/core/tenancy/fixtures/ledger.js';
import { PG_URL, pgAvailable } from './support/postgres.js';

// A prefix of this run's own, so the shared database never mixes runs; every schema under it is dropped after.
const prefix = `tn${randomBytes(4).toString('hex')}_`;

// #region postgres-tenants
// One schema per tenant holds its events and its read models: `tenantSchema` checks the id, nothing is quoted from input.
const locationOf = (tenantId: string) => ({ connectionString: PG_URL, schema: tenantSchema(prefix, tenantId), poolSize: 4 });
// #endregion postgres-tenants

// The same registry as the SQLite one, the stores opened at locationOf(tenantId).
const tenants = createTenantRegistry({
  async open(tenantId) {
    const location = locationOf(tenantId);
    const eventStore = createPostgresEventStore(location);
    const readStore = createPostgresReadStore(location);
    const projector = createProjector({ eventStore, readStore, projections: [balancesSql], pollIntervalMs: 20 });
    await projector.start();
    // Guarded: only principals of this tenant get through, whoever calls these buses directly.
    const commandBus = createCommandBus({ middleware: [tenantGuard(tenantId)] }).register(
      Deposit,
      createCommandHandler({ store: eventStore, decider: account, streamId: (c) => `account-${c.data.accountId}` }),
    );
    const queryBus = createQueryBus({
      middleware: [tenantGuard(tenantId)],
      waitForPosition: (position, o) => projector.waitForPosition(position, o),
    });
    queryBus.register(GetBalance, ({ accountId }) => sqlBalance(readStore.reader('balances'), accountId));
    return {
      eventStore,
      readStore,
      projector,
      commandBus,
      queryBus,
      async close() {
        await projector.stop();
        await Promise.all([readStore.close(), eventStore.close()]);
      },
    };
  },
});
const commandBus = createTenantCommandBus({ tenants, commands: [Deposit] });
const queryBus = createTenantQueryBus({ tenants, queries: [GetBalance] });
const clerk = (tenantId: string): Principal => ({ id: `clerk-${tenantId}`, roles: ['clerk'], tenantId });

afterAll(async () => {
  await tenants.close();
  if (!pgAvailable) return;
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    const { rows } = await client.query<{ nspname: string }>('SELECT nspname FROM pg_namespace WHERE starts_with(nspname, $1)', [
      prefix,
    ]);
    for (const { nspname } of rows) await client.query(`DROP SCHEMA "${nspname}" CASCADE`);
  } finally {
    await client.end();
  }
});

describe.skipIf(!pgAvailable)('multi-tenancy on PostgreSQL, a schema per tenant', () => {
  it("keeps two tenants' identical stream ids apart, each in its own schema", async () => {
    const a = await commandBus.dispatch(Deposit, { accountId: 'same', amount: 5 }, { principal: clerk('a') });
    await commandBus.dispatch(Deposit, { accountId: 'same', amount: 100 }, { principal: clerk('b') });
    const b = await commandBus.dispatch(Deposit, { accountId: 'same', amount: 1 }, { principal: clerk('b') });
    expect([a.streamId, a.position, b.streamId, b.position]).toEqual(['account-same', 1, 'account-same', 2]);
    const ta = await tenants.get('a');
    const tb = await tenants.get('b');
    expect([ta.eventStore.schema, tb.eventStore.schema]).toEqual([`${prefix}a`, `${prefix}b`]);
    const streamA = await ta.eventStore.readStream('account-same');
    const streamB = await tb.eventStore.readStream('account-same');
    expect(streamA.map((e) => [(e.data as { amount: number }).amount, e.metadata.tenantId])).toEqual([[5, 'a']]);
    expect(streamB.map((e) => [(e.data as { amount: number }).amount, e.metadata.tenantId])).toEqual([
      [100, 'b'],
      [1, 'b'],
    ]);
    expect(await queryBus.run(GetBalance, { accountId: 'same' }, { principal: clerk('a'), minPosition: a.position })).toEqual({
      accountId: 'same',
      balance: 5,
      deposits: 1,
    });
    expect(await queryBus.run(GetBalance, { accountId: 'same' }, { principal: clerk('b'), minPosition: b.position })).toEqual({
      accountId: 'same',
      balance: 101,
      deposits: 2,
    });
  });

  it("answers NOT_FOUND for another tenant's entity", async () => {
    const b = await commandBus.dispatch(Deposit, { accountId: 'b-only', amount: 2 }, { principal: clerk('b') });
    await queryBus.run(GetBalance, { accountId: 'b-only' }, { principal: clerk('b'), minPosition: b.position });
    const refused = await queryBus.run(GetBalance, { accountId: 'b-only' }, { principal: clerk('a') }).catch((e) => e);
    expect(isChronicleError(refused, 'NOT_FOUND')).toBe(true);
  });

  it("rebuilds one tenant's projection and leaves the other's tables and checkpoint untouched", async () => {
    const a = await tenants.get('a');
    const b = await tenants.get('b');
    await a.projector.waitForPosition(await a.eventStore.headPosition(), { timeoutMs: 10_000 });
    await b.projector.waitForPosition(await b.eventStore.headPosition(), { timeoutMs: 10_000 });
    const rowsOf = async (store: typeof a.readStore) => {
      const reader = store.reader('balances');
      return reader.all(`SELECT * FROM ${reader.table('balances')} ORDER BY account_id`);
    };
    const before = { a: await a.readStore.load('balances'), b: await b.readStore.load('balances') };
    const rowsB = await rowsOf(b.readStore);
    const rowsA = await rowsOf(a.readStore);
    await a.projector.rebuild('balances');
    expect((await a.readStore.load('balances'))?.generation).toBe((before.a?.generation ?? 0) + 1);
    expect(await rowsOf(a.readStore)).toEqual(rowsA);
    expect(await b.readStore.load('balances')).toEqual(before.b);
    expect(await rowsOf(b.readStore)).toEqual(rowsB);
    // B's generation 1 tables are still there: A's rebuild dropped nothing of B's schema.
    const client = new pg.Client({ connectionString: PG_URL });
    await client.connect();
    try {
      const { rows } = await client.query<{ table_schema: string }>(
        'SELECT DISTINCT table_schema FROM information_schema.tables WHERE table_schema = ANY($1) AND table_name LIKE $2',
        [[`${prefix}a`, `${prefix}b`], 'balances__%'],
      );
      expect(rows.map((r) => r.table_schema).sort()).toEqual([`${prefix}a`, `${prefix}b`]);
    } finally {
      await client.end();
    }
  });

  it("puts every event of many interleaved commands of both tenants in its own tenant's schema, counts exact", async () => {
    const before = {
      a: (await (await tenants.get('a')).eventStore.readAll({ limit: 100_000 })).length,
      b: (await (await tenants.get('b')).eventStore.readAll({ limit: 100_000 })).length,
    };
    const perTenant = 100;
    // Subscribed before the writes: each tenant's live subscription must see its own events, and only them.
    const seen: Record<string, Array<{ tenantId: unknown; amount: number }>> = { a: [], b: [] };
    const subscriptions = await Promise.all(
      (['a', 'b'] as const).map(async (tenantId) => {
        const { eventStore } = await tenants.get(tenantId);
        const from = (await eventStore.headPosition()) + 1;
        return eventStore.subscribe({ from, pollIntervalMs: 20 }, async (events) => {
          for (const e of events)
            seen[tenantId].push({ tenantId: e.metadata.tenantId, amount: (e.data as { amount: number }).amount });
        });
      }),
    );
    const sends = [];
    for (let i = 0; i < perTenant; i++) {
      for (const [tenantId, amount] of [
        ['a', 1],
        ['b', 1000],
      ] as const) {
        sends.push(commandBus.dispatch(Deposit, { accountId: `c-${i}`, amount }, { principal: clerk(tenantId) }));
      }
    }
    await Promise.all(sends);
    for (const [tenantId, amount] of [
      ['a', 1],
      ['b', 1000],
    ] as const) {
      const events = (await (await tenants.get(tenantId)).eventStore.readAll({ limit: 100_000 })).slice(before[tenantId]);
      expect(events).toHaveLength(perTenant);
      expect(events.filter((e) => e.metadata.tenantId !== tenantId || (e.data as { amount: number }).amount !== amount)).toEqual(
        [],
      );
    }
    for (let i = 0; i < 500 && seen.a.length + seen.b.length < 2 * perTenant; i++) await new Promise((r) => setTimeout(r, 10));
    await Promise.all(subscriptions.map((s) => s.stop()));
    expect(seen.a).toEqual(Array.from({ length: perTenant }, () => ({ tenantId: 'a', amount: 1 })));
    expect(seen.b).toEqual(Array.from({ length: perTenant }, () => ({ tenantId: 'b', amount: 1000 })));
  });
});
