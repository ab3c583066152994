// SIGKILL the JetStream-fed read process while commands flow, twice, and restart it on the same data dir (so the same
// derived durable): its tables end equal to the directly fed ones, every event applied once — what it had committed
// stayed, what it held unacknowledged was delivered again, and what it had already committed was not applied twice.
import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/nats-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deleteStreams } from '../../../test/nats-relay-kit.js';
import { connectNats, NATS_URL, natsAvailable } from '../../../test/support/nats.js';
import {
  drive,
  eventLog,
  freshDir,
  freshJetStream,
  jetStreamEnv,
  readModels,
  removeDirs,
  type ShopNode,
  settleNode,
  shopScript,
  startNode,
  stockFromLog,
  waitForPosition,
} from './jetstream-kit.js';

const names = freshJetStream('readkill');
const dirs: string[] = [];
let nc: NatsConnection;
let direct: ShopNode;
let remote: ShopNode;

beforeAll(async () => {
  if (!natsAvailable) return;
  nc = await connectNats();
  const env = jetStreamEnv(NATS_URL, names);
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

/** The read node's consumer and projections as its /health/ready reports them. */
async function readiness(node: ShopNode) {
  const { body } = await node.get('/health/ready');
  return {
    durable: body.checks.jetstream.durable as string,
    resets: body.checks.jetstream.resets as number,
    positions: (body.projections as Array<{ position: number }>).map((p) => p.position),
  };
}

describe.skipIf(!natsAvailable)('SIGKILL the JetStream-fed read process mid-run', () => {
  it('twice, while commands flow: after each restart it goes on, and its tables end equal to the directly fed ones', async () => {
    const script = shopScript('rk', 500);
    const setup = await drive(() => direct, script.setup, { concurrency: 6 });
    const durable = (await readiness(remote)).durable;
    const total = script.traffic.reduce((n, t) => n + t.length, 0);
    const killAt = [0.2 + Math.random() * 0.2, 0.55 + Math.random() * 0.25].map((f) => Math.floor(f * total));
    const kills: Array<{ at: number; positionsBefore: number[]; durable: string; resets: number }> = [];
    let restarted: Promise<void> = Promise.resolve();
    const traffic = await drive(() => direct, script.traffic, {
      concurrency: 12,
      onAnswer(answered) {
        if (!killAt.includes(answered)) return;
        restarted = restarted.then(async () => {
          const before = await readiness(remote);
          await remote.kill();
          await remote.start();
          const after = await readiness(remote);
          kills.push({ at: answered, positionsBefore: before.positions, durable: after.durable, resets: after.resets });
        });
      },
    });
    const closing = await drive(() => direct, script.closing);
    await restarted;
    expect([...setup.surprises, ...traffic.surprises, ...closing.surprises]).toEqual([]);
    expect(kills.map((k) => k.at)).toEqual(killAt);
    // Each restart finds its own durable again (derived from its read store's path).
    expect(kills.map((k) => k.durable)).toEqual([durable, durable]);
    // Compared once the workflows' commands that follow the traffic are in too.
    const head = await settleNode(direct, join(direct.dataDir, 'events.db'));
    expect(head).toBeGreaterThanOrEqual(Math.max(setup.head, traffic.head, closing.head));

    await waitForPosition(direct, head);
    await waitForPosition(remote, head);
    const fromLog = readModels(join(direct.dataDir, 'read.db'));
    const fromStream = readModels(join(remote.dataDir, 'read.db'));
    expect(Object.keys(fromStream.tables)).toEqual(Object.keys(fromLog.tables));
    for (const [table, rows] of Object.entries(fromLog.tables)) {
      expect(fromStream.tables[table], table).toEqual(rows);
      expect(rows.length, `${table} has rows`).toBeGreaterThan(0);
    }
    expect(fromStream.positions).toEqual(fromLog.positions);

    // Counters an event applied twice would push off agree with the log itself: orders counted by status, and the
    // stock of every product, as summed from the log's own events.
    const events = await eventLog(join(direct.dataDir, 'events.db'));
    const ordersCreated = events.filter((e) => e.type === 'OrderCreated').length;
    const counted = fromStream.tables['sales.status_counts'].reduce((n, row) => n + JSON.parse(row).orders, 0);
    expect(counted).toBe(ordersCreated);
    const stock = Object.fromEntries(
      fromStream.tables['inventory.stock'].map((row) => {
        const { product_id, on_hand, reserved } = JSON.parse(row);
        return [product_id, [on_hand, reserved]];
      }),
    );
    expect(stock).toEqual(stockFromLog(events));
    console.log(
      JSON.stringify({
        test: 'jetstream-reader-sigkill',
        commands: setup.sent + traffic.sent + closing.sent,
        head,
        kills,
        ordersCreated,
      }),
    );
  }, 60_000);
});
