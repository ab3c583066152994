// Multi-tenancy over a real socket, on a SQLite file per tenant: two tenants' API keys, identical stream ids kept
// apart, 403/404 across tenants, a per-tenant rebuild (the CLI's control request) leaving the other tenant untouched,
// and interleaved writers of both tenants each landing in their own file.
import { existsSync, mkdtempSync } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createCommandBus,
  createCommandHandler,
  createProjector,
  createQueryBus,
  createTenantCommandBus,
  createTenantQueryBus,
  createTenantRegistry,
  type Principal,
  tenantGuard,
  tenantPath,
} from 'chronicle-es';
import {
  combineAuthenticators,
  createApiKeyAuthenticator,
  createJwtAuthenticator,
  createServer,
  signJwt,
  tenantAuthenticator,
} from 'chronicle-es/http';
import { createSqliteEventStore, createSqliteReadStore } from 'chronicle-es/sqlite';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { account, balancesSql, Deposit, GetBalance, sqlBalance } from '../src/core/tenancy/fixtures/ledger.js';
import { cli } from './cli/cli-run.js';

const SECRET = 'a-test-secret-of-at-least-32-bytes!!';
const keys: Record<string, Principal> = {
  'key-a': { id: 'alice', roles: ['clerk'], tenantId: 'a' },
  'key-b': { id: 'bob', roles: ['clerk'], tenantId: 'b' },
  'key-c': { id: 'carl', roles: ['clerk'], tenantId: 'c' },
  'key-none': { id: 'nobody', roles: ['clerk'] },
  'key-ops': { id: 'ops', roles: ['clerk'], claims: { tenants: ['a', 'b'] } },
};

// Removed after the file; tenants' files are created in it on first use.
const dir = mkdtempSync(join(tmpdir(), 'chronicle-tenancy-'));

// #region sqlite-tenants
const tenants = createTenantRegistry({
  async open(tenantId) {
    // A file per tenant for its events and one for its read models: no query or subscription can reach another's.
    const eventStore = createSqliteEventStore({ path: tenantPath(join(dir, '{tenant}.events.db'), tenantId) });
    const readStore = createSqliteReadStore({ path: tenantPath(join(dir, '{tenant}.read.db'), tenantId) });
    const projector = createProjector({ eventStore, readStore, projections: [balancesSql], controlPollIntervalMs: 20 });
    await projector.start();
    // Guarded: only principals of this tenant get through, whoever calls these buses directly.
    const commandBus = createCommandBus({ middleware: [tenantGuard(tenantId)] }).register(
      Deposit,
      createCommandHandler({ store: eventStore, decider: account, streamId: (c) => `account-${c.data.accountId}` }),
    );
    // minPosition waits for this tenant's projector: positions of two tenants' stores are not comparable.
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
// What HTTP serves: each dispatch goes to the bus of the principal's tenant.
const commandBus = createTenantCommandBus({ tenants, commands: [Deposit] });
const queryBus = createTenantQueryBus({ tenants, queries: [GetBalance] });
// #endregion sqlite-tenants

let app: FastifyInstance;
let base: string;

// #region tenant-http
// The principal's tenant: its own (API key config), else its token's `tenant` claim; operators whose claims list
// tenants may name one in X-Tenant.
const authenticate = tenantAuthenticator(
  combineAuthenticators(createApiKeyAuthenticator(keys), createJwtAuthenticator({ secret: SECRET })),
  { mayActFor: (principal, tenantId) => (principal.claims?.tenants as string[] | undefined)?.includes(tenantId) === true },
);
const server = () => createServer({ commandBus, queryBus, authenticate, logger: false });
// #endregion tenant-http

beforeAll(async () => {
  app = await server();
  base = await app.listen({ host: '127.0.0.1', port: 0 });
});
afterAll(async () => {
  await app?.close();
  await tenants?.close();
  await rm(dir, { recursive: true, force: true });
});

type Reply = { status: number; type: string | null; body: any };

async function call(path: string, key: string | undefined, init: { body?: unknown; headers?: Record<string, string> } = {}) {
  const headers: Record<string, string> = { ...init.headers };
  if (key !== undefined) headers[key.includes('.') ? 'authorization' : 'x-api-key'] = key.includes('.') ? `Bearer ${key}` : key;
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(`${base}${path}`, {
    method: init.body === undefined ? 'GET' : 'POST',
    headers,
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  const text = await response.text();
  return {
    status: response.status,
    type: response.headers.get('content-type'),
    body: text ? JSON.parse(text) : undefined,
  } as Reply;
}
const deposit = (key: string | undefined, accountId: string, amount: number, headers?: Record<string, string>) =>
  call('/commands/Deposit', key, { body: { accountId, amount }, headers });
const balance = (key: string | undefined, accountId: string, minPosition?: number, headers?: Record<string, string>) =>
  call(`/queries/GetBalance?accountId=${accountId}${minPosition === undefined ? '' : `&minPosition=${minPosition}`}`, key, {
    headers,
  });

describe('multi-tenancy over HTTP, a SQLite file per tenant', () => {
  it("keeps two tenants' identical stream ids apart", async () => {
    const a = await deposit('key-a', 'same', 5);
    const b1 = await deposit('key-b', 'same', 100);
    const b2 = await deposit('key-b', 'same', 1);
    expect([a.status, b1.status, b2.status]).toEqual([200, 200, 200]);
    expect([a.body.streamId, b2.body.streamId]).toEqual(['account-same', 'account-same']);
    expect((await balance('key-a', 'same', a.body.position)).body).toEqual({ accountId: 'same', balance: 5, deposits: 1 });
    expect((await balance('key-b', 'same', b2.body.position)).body).toEqual({ accountId: 'same', balance: 101, deposits: 2 });
    const streamA = await (await tenants.get('a')).eventStore.readStream('account-same');
    const streamB = await (await tenants.get('b')).eventStore.readStream('account-same');
    expect(streamA.map((e) => [e.data, e.metadata.tenantId, e.metadata.actor])).toEqual([
      [{ accountId: 'same', amount: 5 }, 'a', 'alice'],
    ]);
    expect(streamB.map((e) => [(e.data as { amount: number }).amount, e.metadata.tenantId])).toEqual([
      [100, 'b'],
      [1, 'b'],
    ]);
    expect((await readdir(dir)).filter((f) => f.endsWith('.db')).sort()).toEqual([
      'a.events.db',
      'a.read.db',
      'b.events.db',
      'b.read.db',
    ]);
  });

  it("answers 404 for another tenant's entity and 403 when asking for another tenant", async () => {
    const b = await deposit('key-b', 'b-only', 9);
    await balance('key-b', 'b-only', b.body.position);
    const notFound = await balance('key-a', 'b-only');
    expect([notFound.status, notFound.type, notFound.body.code]).toEqual([
      404,
      'application/problem+json; charset=utf-8',
      'NOT_FOUND',
    ]);
    // A principal pinned to A naming B: refused, whatever it sends.
    for (const reply of [
      await balance('key-a', 'b-only', undefined, { 'x-tenant': 'b' }),
      await deposit('key-a', 'b-only', 1, { 'x-tenant': 'b' }),
      await deposit(signJwt({ sub: 'jo', roles: ['clerk'], tenant: 'a', exp: 2e9 }, SECRET), 'b-only', 1, { 'x-tenant': 'b' }),
    ]) {
      expect([reply.status, reply.body.code]).toEqual([403, 'FORBIDDEN']);
    }
    // No tenant at all on a multi-tenant app: 403; no credentials: 401.
    expect((await deposit('key-none', 'x', 1)).status).toBe(403);
    expect((await balance(undefined, 'b-only')).status).toBe(401);
    expect((await (await tenants.get('b')).eventStore.readStream('account-b-only')).length).toBe(1);
  });

  it("lets an operator act for the tenants its claims list, and a token's tenant claim pin its principal", async () => {
    const seen = await balance('key-ops', 'b-only', undefined, { 'x-tenant': 'b' });
    expect([seen.status, seen.body.balance]).toEqual([200, 9]);
    expect((await balance('key-ops', 'b-only', undefined, { 'x-tenant': 'c' })).status).toBe(403);
    expect((await balance('key-ops', 'b-only')).status).toBe(403);
    const token = signJwt({ sub: 'jo', roles: ['clerk'], tenant: 'b', exp: 2e9 }, SECRET);
    expect((await balance(token, 'b-only')).body).toEqual({ accountId: 'b-only', balance: 9, deposits: 1 });
  });

  it('refuses malformed tenant ids with 400 and creates no file for them', async () => {
    for (const bad of ['../a', '..', 'a%2Fb', "a'--", 'A', 'x'.repeat(41)]) {
      const reply = await balance('key-ops', 'x', undefined, { 'x-tenant': bad });
      expect([reply.status, reply.body.code], bad).toEqual([400, 'INVALID_ARGUMENT']);
    }
    const forged = signJwt({ sub: 'jo', roles: ['clerk'], tenant: '../a', exp: 2e9 }, SECRET);
    expect((await deposit(forged, 'x', 1)).status).toBe(400);
    expect(existsSync(join(dir, '..', 'a.events.db'))).toBe(false);
    expect(tenants.opened().sort()).toEqual(['a', 'b']);
  });

  it("rebuilds one tenant's projection through a control request (what the CLI sends) and leaves the other's alone", async () => {
    const a = await tenants.get('a');
    const b = await tenants.get('b');
    await deposit('key-a', 'r', 3);
    const last = await deposit('key-b', 'r', 4);
    await b.projector.waitForPosition(last.body.position, { timeoutMs: 5000 });
    await a.projector.waitForPosition(await a.eventStore.headPosition(), { timeoutMs: 5000 });
    const before = { a: await a.readStore.load('balances'), b: await b.readStore.load('balances') };
    const rowsOf = (store: typeof a.readStore) => {
      const reader = store.reader('balances');
      return reader.all(`SELECT * FROM ${reader.table('balances')} ORDER BY account_id`);
    };
    const rowsB = rowsOf(b.readStore);
    const request = await a.readStore.control.request('balances', 'rebuild', 10_000);
    let state = request.state;
    for (let i = 0; i < 500 && state !== 'done' && state !== 'failed'; i++) {
      await new Promise((r) => setTimeout(r, 20));
      state = (await a.readStore.control.get(request.id))?.state ?? 'pending';
    }
    expect(state).toBe('done');
    expect((await a.readStore.load('balances'))?.generation).toBe((before.a?.generation ?? 0) + 1);
    expect(await b.readStore.load('balances')).toEqual(before.b);
    expect(rowsOf(b.readStore)).toEqual(rowsB);
    expect(await b.readStore.control.pending()).toEqual([]);
    expect((await balance('key-a', 'r')).body).toEqual({ accountId: 'r', balance: 3, deposits: 1 });
  });

  it("puts every event of many interleaved requests of both tenants in its own tenant's file, counts exact", async () => {
    const perTenant = 60;
    const before = {
      a: (await (await tenants.get('a')).eventStore.readAll({ limit: 100_000 })).length,
      b: (await (await tenants.get('b')).eventStore.readAll({ limit: 100_000 })).length,
    };
    const sends: Promise<Reply>[] = [];
    for (let i = 0; i < perTenant; i++) {
      sends.push(deposit('key-a', `c-${i}`, 1), deposit('key-b', `c-${i}`, 1000));
    }
    const replies = await Promise.all(sends);
    expect(replies.filter((r) => r.status !== 200)).toEqual([]);
    for (const [tenantId, amount] of [
      ['a', 1],
      ['b', 1000],
    ] as const) {
      const events = (await (await tenants.get(tenantId)).eventStore.readAll({ limit: 100_000 })).slice(before[tenantId]);
      expect(events).toHaveLength(perTenant);
      expect(events.filter((e) => e.metadata.tenantId !== tenantId || (e.data as { amount: number }).amount !== amount)).toEqual(
        [],
      );
      expect(new Set(events.map((e) => e.streamId)).size).toBe(perTenant);
    }
  });

  it("waits for minPosition on the principal's tenant's projector, never on another tenant's further one", async () => {
    // Tenant c's projector is stopped before its first event: its read side can never reach position 1.
    const c = await tenants.get('c');
    await c.projector.stop();
    const written = await deposit('key-c', 'w', 1);
    expect([written.status, written.body.position]).toEqual([200, 1]);
    const b = await tenants.get('b');
    expect((await b.readStore.load('balances'))?.position).toBeGreaterThan(1);
    const waited = await balance('key-c', 'w', 1, { 'chronicle-wait-ms': '100' });
    expect([waited.status, waited.body.code]).toEqual([503, 'CLOSED']);
    expect((await balance('key-b', 'r', 1)).status).toBe(200);
  });

  it("rebuilds one tenant's projection from the CLI (--tenant fills {tenant}), leaving the other's untouched", async () => {
    const a = await tenants.get('a');
    const b = await tenants.get('b');
    const before = { a: await a.readStore.load('balances'), b: await b.readStore.load('balances') };
    const stores = ['--store', join(dir, '{tenant}.events.db'), '--read-store', join(dir, '{tenant}.read.db')];
    const result = await cli(...stores, '--tenant', 'a', '--json', 'projections', 'rebuild', 'balances', '--timeout', '20');
    expect(result.code, result.stderr).toBe(0);
    expect((await a.readStore.load('balances'))?.generation).toBe((before.a?.generation ?? 0) + 1);
    expect(await b.readStore.load('balances')).toEqual(before.b);
    const refused = await cli(...stores, '--tenant', '../a', 'projections', 'rebuild', 'balances');
    expect([refused.code, refused.stderr]).toEqual([1, expect.stringContaining('tenant id must match')]);
    expect((await cli(...stores, 'projections', 'status')).code).toBe(1);
  });
});
