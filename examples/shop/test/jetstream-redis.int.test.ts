// A read node on another technology: `SHOP_ROLE=read CHRONICLE_READ_STORE=redis://…`, fed through JetStream by a
// process that has no access to the event store, beside a SQLite read node fed the same way. It answers GetOrderStatus
// over HTTP exactly as the SQLite node does, for every order of a day's commands; a query sent right after a command
// with minPosition waits on the Redis checkpoint and sees it; the queries it has no read model for are not there.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/nats-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deleteStreams } from '../../../test/nats-relay-kit.js';
import { dropPrefix, freshPrefix, keysUnder } from '../../../test/redis-prefix.js';
import { connectNats, NATS_URL, natsAvailable } from '../../../test/support/nats.js';
import { REDIS_URL, redisAvailable } from '../../../test/support/redis.js';
import {
  drive,
  freshDir,
  freshJetStream,
  jetStreamEnv,
  QUERY_PER_PROJECTION,
  removeDirs,
  type ShopNode,
  settleNode,
  shopScript,
  startNode,
  waitForPosition,
} from './jetstream-kit.js';

const names = freshJetStream('redis');
const prefix = freshPrefix('shop-js');
const dirs: string[] = [];
const available = natsAvailable && redisAvailable;
const ORDERS_ONLY = QUERY_PER_PROJECTION.filter(([projection]) => projection === 'orders');
let nc: NatsConnection;
let direct: ShopNode;
let sqliteNode: ShopNode;
let redisNode: ShopNode;

beforeAll(async () => {
  if (!available) return;
  nc = await connectNats();
  const env = jetStreamEnv(NATS_URL, names);
  direct = await startNode('all', freshDir('all', dirs), { SHOP_ROLE: 'all', ...env });
  [sqliteNode, redisNode] = await Promise.all([
    startNode('read-sqlite', freshDir('read-sqlite', dirs), { SHOP_ROLE: 'read', ...env }),
    startNode('read-redis', freshDir('read-redis', dirs), {
      SHOP_ROLE: 'read',
      ...env,
      CHRONICLE_READ_STORE: REDIS_URL,
      SHOP_REDIS_PREFIX: prefix,
    }),
  ]);
}, 60_000);
afterAll(async () => {
  await Promise.all([direct?.kill(), sqliteNode?.kill(), redisNode?.kill()]);
  if (nc) {
    await deleteStreams(nc, [names.stream]);
    await nc.close();
  }
  if (available) await dropPrefix(prefix);
  removeDirs(dirs);
});

/** The answer as text (status and body), so key order counts too. */
const answer = async (node: ShopNode, orderId: string, minPosition: number) => {
  const reply = await node.query('GetOrderStatus', { orderId, minPosition });
  const { correlationId: _, ...body } = reply.body;
  return JSON.stringify({ status: reply.status, body });
};

describe.skipIf(!available)('a Redis read node fed through JetStream', () => {
  it('answers GetOrderStatus for every order exactly as the SQLite read node does', async () => {
    const script = shopScript('rd', 200);
    const runs = [
      await drive(() => direct, script.setup, { concurrency: 6 }),
      await drive(() => direct, script.traffic, { concurrency: 12 }),
      await drive(() => direct, script.closing),
    ];
    expect(runs.flatMap((r) => r.surprises)).toEqual([]);
    // The order timelines include the workflows' steps: compared once those are written.
    const head = await settleNode(direct, join(direct.dataDir, 'events.db'));
    expect(head).toBeGreaterThanOrEqual(Math.max(...runs.map((r) => r.head)));
    await waitForPosition(sqliteNode, head);
    await waitForPosition(redisNode, head, ORDERS_ONLY);

    const ids = [
      ...script.traffic.flatMap((task) =>
        task.filter((s) => s.name === 'CreateOrder').map((s) => (s.body as { orderId: string }).orderId),
      ),
      ...script.closing.flatMap((task) =>
        task.filter((s) => s.name === 'CreateOrder').map((s) => (s.body as { orderId: string }).orderId),
      ),
      'no-such-order',
    ];
    const seen: Record<string, number> = {};
    for (const id of new Set(ids)) {
      const [fromSqlite, fromRedis] = await Promise.all([answer(sqliteNode, id, head), answer(redisNode, id, head)]);
      expect(fromRedis, id).toBe(fromSqlite);
      const parsed = JSON.parse(fromSqlite) as { status: number; body: { status?: string } };
      const key = parsed.status === 200 ? (parsed.body.status ?? '?') : String(parsed.status);
      seen[key] = (seen[key] ?? 0) + 1;
    }
    // Every order status, and the refused or unknown ones answered alike (404).
    expect(Object.keys(seen).sort()).toEqual(['404', 'cancelled', 'created', 'paid', 'shipped']);
    expect((await keysUnder(prefix)).length).toBeGreaterThan(0);
    console.log(JSON.stringify({ test: 'jetstream-redis', commands: runs.reduce((n, r) => n + r.sent, 0), head, answers: seen }));
  }, 60_000);

  it('with minPosition from a command, waits on the Redis checkpoint: the query right after it sees it', async () => {
    const ok = async (name: string, body: unknown) => {
      const reply = await direct.command(name, body);
      expect(reply.status, `${name} ${JSON.stringify(reply.body)}`).toBe(200);
      return reply.body.position as number;
    };
    await ok('RegisterCustomer', { customerId: 'rw', name: 'Redis Reader', email: 'rw@example.com' });
    await ok('CreateProduct', { productId: 'rw-p', sku: 'RW-P', name: 'Redis product', priceCents: 990, currency: 'EUR' });
    await ok('RestockProduct', { productId: 'rw-p', quantity: 100 });
    const lives: Array<Array<[string, string]>> = [
      [['PayOrder', 'paid']],
      [
        ['PayOrder', 'paid'],
        ['ShipOrder', 'shipped'],
      ],
      [['CancelOrder', 'cancelled']],
    ];
    for (let i = 0; i < 15; i++) {
      const orderId = `rw-${i}`;
      const created = await ok('CreateOrder', { orderId, customerId: 'rw', lines: [{ productId: 'rw-p', quantity: 1 }] });
      const first = await redisNode.query('GetOrderStatus', { orderId, minPosition: created });
      expect(first.status).toBe(200);
      expect(first.body).toMatchObject({ orderId, status: 'created', totalCents: 990 });
      const history = ['created'];
      for (const [name, status] of lives[i % 3]) {
        const moved = await ok(name, { orderId });
        history.push(status);
        const after = await redisNode.query('GetOrderStatus', { orderId, minPosition: moved });
        expect(after.body.status).toBe(status);
        expect(after.body.history.map((h: { status: string }) => h.status)).toEqual(history);
      }
    }
    const late = await redisNode.query(
      'GetOrderStatus',
      { orderId: 'rw-0', minPosition: 10_000_000 },
      { 'chronicle-wait-ms': '300' },
    );
    expect(late.status).toBe(504);

    // Only GetOrderStatus has a Redis read model: the other queries are not registered there.
    for (const [, query, params] of QUERY_PER_PROJECTION.filter(([projection]) => projection !== 'orders')) {
      const reply = await redisNode.query(query, params);
      expect([reply.status, reply.body.code], query).toEqual([404, 'UNKNOWN_MESSAGE']);
      // The SQLite read node has them all.
      expect((await sqliteNode.query(query, params)).body.code, query).not.toBe('UNKNOWN_MESSAGE');
    }
    const ready = await redisNode.get('/health/ready');
    expect(ready.status).toBe(200);
    expect(ready.body.checks).toMatchObject({ read: { ok: true }, jetstream: { ok: true, state: 'running' } });
    expect(ready.body.projections.map((p: { name: string }) => p.name)).toEqual(['orders']);
    // Its own durable: the two read nodes never share one.
    const sqliteDurable = (await sqliteNode.get('/health/ready')).body.checks.jetstream.durable;
    expect(ready.body.checks.jetstream.durable).not.toBe(sqliteDurable);
    // Nothing of it on disk: neither an event store nor a SQLite read store.
    expect(readdirSync(redisNode.dataDir).filter((f) => f.endsWith('.db'))).toEqual([]);
  }, 30_000);
});
