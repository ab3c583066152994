// SIGKILL the relay process at random points while events keep being appended, restart it, a few rounds: every event
// is in the JetStream stream exactly once (by Nats-Msg-Id), in position order.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { createSqliteEventStore, createSqliteReadStore } from 'chronicle-es/sqlite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deleteStreams, expectExactlyOnce, freshNames, streamMessages } from './nats-relay-kit.js';
import { followChild } from './support/child-lines.js';
import { connectNats, NATS_URL, natsAvailable } from './support/nats.js';

const child = fileURLToPath(new URL('./nats-relay-sigkill-child.ts', import.meta.url));
const root = fileURLToPath(new URL('..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'chronicle-relay-kill-'));
const ROUNDS = 4;
let nc: NatsConnection;
const streams: string[] = [];

beforeAll(async () => {
  if (natsAvailable) nc = await connectNats();
});
afterAll(async () => {
  if (nc) {
    await deleteStreams(nc, streams);
    await nc.close();
  }
  rmSync(dir, { recursive: true, force: true });
});

type Relay = {
  proc: ChildProcess;
  position: number;
  published: number;
  exited: Promise<NodeJS.Signals | null>;
  stderr(): string;
};

function startRelay(args: string[]): Relay {
  const proc = spawn(process.execPath, ['--conditions=chronicle-source', '--import', 'tsx', child, ...args], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const relay: Relay = {
    proc,
    position: 0,
    published: 0,
    exited: new Promise((resolve) => proc.on('exit', (_code, signal) => resolve(signal))),
    stderr: () => out.stderr,
  };
  const out = followChild(proc, ([kind, position, published]) => {
    if (kind !== 'progress') return;
    relay.position = Number(position);
    relay.published = Number(published);
  });
  return relay;
}

async function waitFor(what: () => boolean, label: string, relay: Relay, ms = 60_000) {
  const deadline = Date.now() + ms;
  while (!what()) {
    if (relay.proc.exitCode !== null) throw new Error(`relay exited while waiting for ${label}: ${relay.stderr()}`);
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${label}: ${relay.stderr()}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe.skipIf(!natsAvailable)('relay under SIGKILL', () => {
  it(`publishes every event exactly once, in order, across ${ROUNDS} kills at random points while events keep coming`, async () => {
    const eventsPath = join(dir, 'events.db');
    const { stream, prefix } = freshNames('kill');
    streams.push(stream);
    const args = [eventsPath, join(dir, 'checkpoint.db'), NATS_URL, stream, prefix];
    const writer = createSqliteEventStore({ path: eventsPath });
    let appending = true;
    let appended = 0;
    // Bursts of 50 events every few ms, from this process, for as long as the rounds go on.
    const appender = (async () => {
      while (appending) {
        const k = appended;
        await writer.appendMany(
          Array.from({ length: 50 }, (_, i) => ({
            streamId: `order-${k + i}`,
            events: [{ type: 'Placed', data: { k: k + i } }],
          })),
        );
        appended += 50;
        await new Promise((r) => setTimeout(r, 3));
      }
    })();
    const rounds: { killedAt: number; inStream: number; checkpoint: number; head: number }[] = [];
    const jsm = await jetstreamManager(nc);
    try {
      let previous = 0;
      for (let round = 0; round < ROUNDS; round++) {
        const relay = startRelay(args);
        // Past where the last one was killed, then a random moment later.
        await waitFor(() => relay.position > previous + 200, `progress past ${previous + 200}`, relay);
        await new Promise((r) => setTimeout(r, 20 + Math.floor(Math.random() * 300)));
        relay.proc.kill('SIGKILL');
        expect(await relay.exited).toBe('SIGKILL');
        // What the broker holds against what the checkpoint says: the next relay must go on after the larger.
        const inStream = (await jsm.streams.info(stream)).state.last_seq;
        const saved = createSqliteReadStore({ path: join(dir, 'checkpoint.db') });
        const checkpoint = (await saved.load('relay'))?.position ?? 0;
        await saved.close();
        expect(inStream).toBeGreaterThanOrEqual(checkpoint);
        rounds.push({ killedAt: relay.position, inStream, checkpoint, head: appended });
        previous = relay.position;
      }
    } finally {
      appending = false;
      await appender;
    }
    const head = await writer.headPosition();
    const final = startRelay(args);
    try {
      await waitFor(() => final.position === head, `the head ${head}`, final);
    } finally {
      final.proc.kill('SIGTERM');
      await final.exited;
    }
    const events = await writer.readAll();
    await writer.close();
    const counts = expectExactlyOnce(await streamMessages(nc, stream), events);
    console.log(
      `relay SIGKILL: ${ROUNDS} kills; stream/checkpoint/head at each: ${rounds.map((r) => `${r.inStream}/${r.checkpoint}/${r.head}`).join(', ')}; ` +
        `${counts.events} events, ${counts.messages} messages, ${counts.distinctIds} distinct ids`,
    );
    expect(counts.events).toBe(head);
    expect(rounds.every((r, i) => i === 0 || r.inStream > rounds[i - 1].inStream)).toBe(true);
  }, 180_000);
});
