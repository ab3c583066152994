// Restart the NATS server during a run, twice (SIGKILL, then SIGTERM), while commands flow to the relaying process: a
// nats-server of this test's own, which both Shop processes are pointed at. Meanwhile the write side goes on storing
// commands (and stays ready), the relay reports `reconnecting`; after each restart both sides recover on their own,
// and in the end nothing is lost or twice: the stream holds the log exactly once and the tables are identical.
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectExactlyOnce, streamMessages } from '../../../test/nats-relay-kit.js';
import { natsAvailable, type PrivateNats, privateNats } from '../../../test/support/nats.js';
import {
  type DriveResult,
  drive,
  eventLog,
  eventually,
  freshDir,
  freshJetStream,
  jetStreamEnv,
  readModels,
  relayStatus,
  removeDirs,
  type ShopNode,
  settleNode,
  shopScript,
  startNode,
  waitForPosition,
} from './jetstream-kit.js';

const names = freshJetStream('restart');
const dirs: string[] = [];
let nats: PrivateNats;
let direct: ShopNode;
let remote: ShopNode;

beforeAll(async () => {
  if (!natsAvailable) return;
  nats = await privateNats();
  const env = jetStreamEnv(nats.url, names);
  direct = await startNode('all', freshDir('all', dirs), { SHOP_ROLE: 'all', ...env });
  remote = await startNode('read', freshDir('read', dirs), { SHOP_ROLE: 'read', ...env });
}, 60_000);
afterAll(async () => {
  await Promise.all([direct?.kill(), remote?.kill()]);
  // The server, its store dir and the stream in it go together.
  await nats?.dispose();
  removeDirs(dirs);
});

describe.skipIf(!natsAvailable)('the NATS server restarting during a run', () => {
  it('twice (SIGKILL, SIGTERM) while commands flow: both sides recover, nothing lost or twice, tables identical', async () => {
    let answered = 0;
    let done = false;
    const outages: Array<{
      signal: string;
      relayState: string;
      readyMeanwhile: number;
      answeredMeanwhile: number;
      noticedMs: number;
      liveAgainMs: number;
    }> = [];
    const chaos = (async () => {
      try {
        for (const signal of ['SIGKILL', 'SIGTERM'] as const) {
          const before = answered;
          await eventually('commands flow', 30_000, async () => (answered >= before + 200 ? true : undefined));
          await nats.stop(signal);
          const stoppedAt = Date.now();
          const from = answered;
          // While the broker is away the relay says so, and the write side stays ready: commands are still stored.
          const relay = await eventually('the relay notices', 20_000, async () => {
            const status = await relayStatus(direct);
            return status?.state === 'reconnecting' ? status : undefined;
          });
          const noticedMs = Date.now() - stoppedAt;
          const ready = await direct.get('/health/ready');
          // Commands go on being stored while the broker is away: a hundred more before it comes back.
          await eventually('commands answered while NATS is down', 30_000, async () =>
            answered >= from + 100 ? true : undefined,
          );
          const answeredMeanwhile = answered - from;
          await nats.start();
          const startedAt = Date.now();
          // Back on its own, publishing what was stored meanwhile.
          await eventually('the relay is live again', 30_000, async () =>
            (await relayStatus(direct))?.state === 'live' ? true : undefined,
          );
          const liveAgainMs = Date.now() - startedAt;
          outages.push({
            signal,
            relayState: relay.state,
            readyMeanwhile: ready.status,
            answeredMeanwhile,
            noticedMs,
            liveAgainMs,
          });
        }
      } finally {
        done = true;
      }
    })();
    // Round after round of the script until both outages are over, so commands flow through each of them.
    const runs: DriveResult[] = [];
    for (let round = 0; !done; round++) {
      const script = shopScript(`nr${round}`, 300);
      runs.push(await drive(() => direct, script.setup, { concurrency: 6 }));
      const before = answered;
      runs.push(
        await drive(() => direct, script.traffic, {
          concurrency: 6,
          onAnswer(n) {
            answered = before + n;
          },
          enough: () => done,
        }),
      );
      answered = before + runs[runs.length - 1].sent;
      runs.push(await drive(() => direct, script.closing));
    }
    await chaos;
    expect(runs.flatMap((r) => r.surprises)).toEqual([]);
    expect(outages.map((o) => [o.signal, o.relayState, o.readyMeanwhile])).toEqual([
      ['SIGKILL', 'reconnecting', 200],
      ['SIGTERM', 'reconnecting', 200],
    ]);
    for (const o of outages)
      expect(o.answeredMeanwhile, `commands answered during the ${o.signal} outage`).toBeGreaterThanOrEqual(100);
    const head = await settleNode(direct, join(direct.dataDir, 'events.db'));
    expect(head).toBeGreaterThanOrEqual(Math.max(...runs.map((r) => r.head)));

    await waitForPosition(direct, head);
    await waitForPosition(remote, head);
    const relay = await eventually('the relay is live at the head', 30_000, async () => {
      const status = await relayStatus(direct);
      return status?.state === 'live' && status.position >= head ? status : undefined;
    });
    expect(relay.lagEvents).toBe(0);
    const consumer = (await remote.get('/health/ready')).body.checks.jetstream;
    expect(consumer).toMatchObject({ ok: true, state: 'running' });

    const fromLog = readModels(join(direct.dataDir, 'read.db'));
    const fromStream = readModels(join(remote.dataDir, 'read.db'));
    expect(Object.keys(fromStream.tables)).toEqual(Object.keys(fromLog.tables));
    for (const [table, rows] of Object.entries(fromLog.tables)) {
      expect(fromStream.tables[table], table).toEqual(rows);
      expect(rows.length, `${table} has rows`).toBeGreaterThan(0);
    }
    expect(fromStream.positions).toEqual(fromLog.positions);

    const nc: NatsConnection = await connect({ servers: nats.url });
    try {
      const counts = expectExactlyOnce(await streamMessages(nc, names.stream), await eventLog(join(direct.dataDir, 'events.db')));
      console.log(
        JSON.stringify({
          test: 'jetstream-nats-restart',
          rounds: runs.length / 3,
          commands: runs.reduce((n, r) => n + r.sent, 0),
          ...counts,
          outages,
          consumerResets: consumer.resets,
        }),
      );
    } finally {
      await nc.close();
    }
  }, 90_000);
});
