// SIGKILL the relaying process while commands flow, twice, and restart it: the stream ends holding every event of the
// log exactly once (counted by Nats-Msg-Id), in position order. The Shop is split on one host: a write node takes the
// commands the whole time, the `project` node (projector and relay, checkpoint in events.db) is the one killed, and a
// read node fed through JetStream ends with the same tables as the directly fed read store.
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import Database from 'better-sqlite3';
import { positionOf } from 'chronicle-es/nats';
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
  relayStatus,
  removeDirs,
  type ShopNode,
  settleNode,
  shopScript,
  startNode,
  waitForPosition,
} from './jetstream-kit.js';

const names = freshJetStream('relaykill');
const dirs: string[] = [];
let nc: NatsConnection;
let writer: ShopNode;
let relayer: ShopNode;
let reader: ShopNode;

beforeAll(async () => {
  if (!natsAvailable) return;
  nc = await connectNats();
  const env = jetStreamEnv(NATS_URL, names);
  const shared = freshDir('split', dirs);
  writer = await startNode('write', shared, { SHOP_ROLE: 'write', ...env });
  relayer = await startNode('project', shared, { SHOP_ROLE: 'project', ...env });
  reader = await startNode('read', freshDir('read', dirs), { SHOP_ROLE: 'read', ...env });
}, 60_000);
afterAll(async () => {
  await Promise.all([writer?.kill(), relayer?.kill(), reader?.kill()]);
  if (nc) {
    await deleteStreams(nc, [names.stream]);
    await nc.close();
  }
  removeDirs(dirs);
});

/** Where the relay's checkpoint (in events.db) and the stream's last message stand right now. */
async function standing(dataDir: string): Promise<{ checkpoint: number; streamLast: number }> {
  const db = new Database(join(dataDir, 'events.db'), { readonly: true });
  const checkpoint =
    (db.prepare('SELECT position FROM chronicle_checkpoints WHERE name = ?').pluck().get(`relay:${names.stream}`) as
      | number
      | undefined) ?? 0;
  db.close();
  const jsm = await jetstreamManager(nc);
  const { last_seq } = (await jsm.streams.info(names.stream)).state;
  const last = last_seq > 0 ? await jsm.streams.getMessage(names.stream, { seq: last_seq }) : null;
  return { checkpoint, streamLast: last ? (positionOf(last.header) ?? 0) : 0 };
}

describe.skipIf(!natsAvailable)('SIGKILL the relaying process mid-run', () => {
  it('twice, while commands flow: the stream holds every event of the log exactly once, in position order', async () => {
    const script = shopScript('kill', 500);
    const setup = await drive(() => writer, script.setup, { concurrency: 6 });
    // Two kills at random points of the traffic, each restarted at once while the commands go on.
    const total = script.traffic.reduce((n, t) => n + t.length, 0);
    const killAt = [0.2 + Math.random() * 0.2, 0.55 + Math.random() * 0.25].map((f) => Math.floor(f * total));
    const kills: Array<{ at: number; checkpoint: number; streamLast: number }> = [];
    let restarted: Promise<void> = Promise.resolve();
    const traffic = await drive(() => writer, script.traffic, {
      concurrency: 12,
      onAnswer(answered) {
        if (!killAt.includes(answered)) return;
        restarted = restarted.then(async () => {
          await relayer.kill();
          kills.push({ at: answered, ...(await standing(relayer.dataDir)) });
          await relayer.start();
        });
      },
    });
    const closing = await drive(() => writer, script.closing);
    await restarted;
    expect([...setup.surprises, ...traffic.surprises, ...closing.surprises]).toEqual([]);
    expect(kills.map((k) => k.at)).toEqual(killAt);
    // The project process's workflows write too (allocations, notifications, alerts): the head is where they stop.
    const head = await settleNode(relayer, join(writer.dataDir, 'events.db'));
    expect(head).toBeGreaterThanOrEqual(Math.max(setup.head, traffic.head, closing.head));

    // The restarted relay catches up with the log on its own.
    const relay = await eventually('the relay reaches the head', 30_000, async () => {
      const status = await relayStatus(relayer);
      return status && status.position >= head && status.state === 'live' ? status : undefined;
    });
    expect(relay.lagEvents).toBe(0);

    const events = await eventLog(join(writer.dataDir, 'events.db'));
    expect(events.at(-1)?.position).toBe(head);
    const counts = expectExactlyOnce(await streamMessages(nc, names.stream), events);

    // And what it carried builds the same read models as the log itself.
    await waitForPosition(relayer, head);
    await waitForPosition(reader, head);
    const direct = readModels(join(relayer.dataDir, 'read.db'));
    const remote = readModels(join(reader.dataDir, 'read.db'));
    expect(remote.tables).toEqual(direct.tables);
    expect(Object.values(direct.tables).every((rows) => rows.length > 0)).toBe(true);
    console.log(
      JSON.stringify({ test: 'jetstream-relay-sigkill', commands: setup.sent + traffic.sent + closing.sent, ...counts, kills }),
    );
  }, 60_000);
});
