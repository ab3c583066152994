// A Shop read side fed only through JetStream, in its own process with its own data dir (no event store there),
// beside the directly fed one: the `all` process runs the relay, the `read` process a durable consumer projecting into
// its own SQLite read store. After a day of commands both read stores hold the same rows in every table of every
// projection, the stream holds the log exactly once, and a query right after a command (minPosition) sees it.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/nats-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deleteStreams, expectExactlyOnce, streamMessages } from '../../../test/nats-relay-kit.js';
import { connectNats, NATS_URL, natsAvailable } from '../../../test/support/nats.js';
import {
  drive,
  eventLog,
  eventually,
  freshDir,
  freshJetStream,
  jetStreamEnv,
  readModels,
  removeDirs,
  type ShopNode,
  settleNode,
  shopScript,
  startNode,
  waitForPosition,
} from './jetstream-kit.js';

const names = freshJetStream('read');
const dirs: string[] = [];
let nc: NatsConnection;
let direct: ShopNode;
let remote: ShopNode;

beforeAll(async () => {
  if (!natsAvailable) return;
  nc = await connectNats();
  const env = jetStreamEnv(NATS_URL, names);
  // The relay creates the stream: the read node starts after it.
  direct = await startNode('all', freshDir('all', dirs), { SHOP_ROLE: 'all', ...env });
  remote = await startNode('read', freshDir('read', dirs), { SHOP_ROLE: 'read', ...env });
}, 60_000);
afterAll(async () => {
  await Promise.all([direct?.kill(), remote?.kill()]);
  if (nc) {
    await deleteStreams(nc, [names.stream]);
    await nc.close();
  }
  removeDirs(dirs);
});

describe.skipIf(!natsAvailable)('a Shop read node fed through JetStream', () => {
  it('holds the same rows in every table of every projection as the directly fed read store', async () => {
    const script = shopScript('day', 400);
    const runs = [
      await drive(() => direct, script.setup, { concurrency: 6 }),
      await drive(() => direct, script.traffic, { concurrency: 12 }),
      await drive(() => direct, script.closing),
    ];
    expect(runs.flatMap((r) => r.surprises)).toEqual([]);
    // The workflows' commands (allocations, notifications, alerts) follow the traffic: compare once they are done.
    const head = await settleNode(direct, join(direct.dataDir, 'events.db'));
    expect(head).toBeGreaterThanOrEqual(Math.max(...runs.map((r) => r.head)));

    await waitForPosition(direct, head);
    await waitForPosition(remote, head);
    const fromLog = readModels(join(direct.dataDir, 'read.db'));
    const fromStream = readModels(join(remote.dataDir, 'read.db'));
    expect(Object.keys(fromStream.tables)).toEqual(Object.keys(fromLog.tables));
    for (const [table, rows] of Object.entries(fromLog.tables)) {
      expect(fromStream.tables[table], table).toEqual(rows);
      expect(rows.length, `${table} has rows`).toBeGreaterThan(0);
    }
    expect(Object.keys(fromLog.tables).length).toBe(10);
    expect(fromStream.positions).toEqual(fromLog.positions);
    for (const position of Object.values(fromStream.positions)) expect(position).toBeGreaterThanOrEqual(head);
    // The read node never had the event store: its data dir holds its read store (and the demo keys) only.
    expect(existsSync(join(remote.dataDir, 'events.db'))).toBe(false);
    expect(readdirSync(remote.dataDir).filter((f) => f.startsWith('events'))).toEqual([]);

    // The stream holds every event of the log once, in position order.
    const events = await eventLog(join(direct.dataDir, 'events.db'));
    const counts = expectExactlyOnce(await streamMessages(nc, names.stream), events);
    const rows = Object.values(fromLog.tables).reduce((n, r) => n + r.length, 0);
    const commands = runs.reduce((n, r) => n + r.sent, 0);
    console.log(
      JSON.stringify({ test: 'jetstream-read-node', commands, statuses: runs.map((r) => r.statuses), ...counts, rows }),
    );
  }, 60_000);

  it('answers a query sent right after a command with minPosition as of that command, and reports its consumer', async () => {
    const ok = async (name: string, body: unknown) => {
      const reply = await direct.command(name, body);
      expect(reply.status, `${name} ${JSON.stringify(reply.body)}`).toBe(200);
      return reply.body.position as number;
    };
    await ok('RegisterCustomer', { customerId: 'ryw', name: 'Read Your Writes', email: 'ryw@example.com' });
    await ok('CreateProduct', { productId: 'ryw-p', sku: 'RYW-P', name: 'RYW', priceCents: 700, currency: 'EUR' });
    await ok('RestockProduct', { productId: 'ryw-p', quantity: 50 });
    for (let i = 0; i < 10; i++) {
      const orderId = `ryw-${i}`;
      const created = await ok('CreateOrder', { orderId, customerId: 'ryw', lines: [{ productId: 'ryw-p', quantity: 1 }] });
      const seen = await remote.query('GetOrderStatus', { orderId, minPosition: created });
      expect(seen.status).toBe(200);
      expect(seen.body.status).toBe('created');
      const paid = await ok('PayOrder', { orderId });
      expect((await remote.query('GetOrderStatus', { orderId, minPosition: paid })).body.status).toBe('paid');
      const stock = await remote.query('GetInventory', { productId: 'ryw-p', minPosition: paid });
      expect(stock.body).toMatchObject({ onHand: 50, reserved: i + 1 });
    }
    // Beyond the head, the wait is bounded and answered 504.
    const late = await remote.query(
      'GetOrderStatus',
      { orderId: 'ryw-0', minPosition: 10_000_000 },
      { 'chronicle-wait-ms': '300' },
    );
    expect(late.status).toBe(504);

    const ready = await remote.get('/health/ready');
    expect(ready.status).toBe(200);
    expect(ready.body.checks.jetstream).toMatchObject({ ok: true, state: 'running', stream: names.stream, resets: 0 });
    expect(ready.body.checks.jetstream.durable).toMatch(/^shop_read_[0-9a-f]{12}$/);
    expect(ready.body.checks.events).toBeUndefined();
    // The relay records its position once the whole batch is acknowledged, a moment after the read node may see it.
    const relayed = await eventually('the relay reports no lag', 10_000, async () => {
      const reply = await direct.get('/health/ready');
      return reply.body.checks.relay.lagEvents === 0 ? reply : undefined;
    });
    expect(relayed.status).toBe(200);
    expect(relayed.body.checks.relay).toMatchObject({ ok: true, state: 'live', stream: names.stream, lagEvents: 0 });
    const metrics = (await direct.get('/metrics')).body as string;
    const head = relayed.body.checks.relay.position;
    expect(metrics).toContain(`chronicle_relay_position{relay="${names.stream}"} ${head}`);
    expect(metrics).toContain(`chronicle_relay_state{relay="${names.stream}",state="live"} 1`);
  }, 30_000);
});
