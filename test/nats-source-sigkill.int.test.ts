// SIGKILL a read side fed by the JetStream source at random points, restart it: its SQLite tables end up equal to the
// same projections fed directly from the event store, every event applied once.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type JetStreamManager, jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import Database from 'better-sqlite3';
import { createProjector } from 'chronicle-es';
import { createSqliteEventStore, createSqliteReadStore } from 'chronicle-es/sqlite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countingSqlite, createStream, deleteStreams, freshName, publishEvents } from './nats-source-fixture.js';
import { followChild } from './support/child-lines.js';
import { connectNats, NATS_URL, natsAvailable } from './support/nats.js';

const EVENTS = 8000;
const child = fileURLToPath(new URL('./nats-source-sigkill-child.ts', import.meta.url));
const root = fileURLToPath(new URL('..', import.meta.url));

type Run = { proc: ChildProcess; exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>; stderr: () => string };

// Rows of a projection's tables in its served generation, and its checkpoint.
function tablesOf(path: string, name: string) {
  const db = new Database(path, { readonly: true });
  try {
    const { generation, position } = db
      .prepare('SELECT generation, position FROM chronicle_projections WHERE name = ?')
      .get(name) as { generation: number; position: number };
    const applied = db
      .prepare(`SELECT event_id, position, times FROM "${name}__applied__g${generation}" ORDER BY position`)
      .all() as Array<{ event_id: string; position: number; times: number }>;
    const state = db.prepare(`SELECT key, value FROM "${name}__state__g${generation}" ORDER BY key`).all();
    return { position, applied, state };
  } finally {
    db.close();
  }
}

describe.skipIf(!natsAvailable)('a JetStream-fed read side under SIGKILL', () => {
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  let dir: string;
  let stream: string;

  beforeAll(async () => {
    nc = await connectNats();
    jsm = await jetstreamManager(nc);
    dir = await mkdtemp(join(tmpdir(), 'chronicle-nats-sigkill-'));
    stream = freshName('sigkill');
    await createStream(jsm, stream);
  });
  afterAll(async () => {
    await deleteStreams(jsm, [stream]);
    await nc?.close();
    await rm(dir, { recursive: true, force: true });
  });

  function startChild(readPath: string, throttleUs: number): Run {
    const proc = spawn(
      process.execPath,
      ['--conditions=chronicle-source', '--import', 'tsx', child, NATS_URL, stream, 'killed', readPath, String(EVENTS)],
      { cwd: root, env: { ...process.env, THROTTLE_US: String(throttleUs) }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const followed = followChild(proc, () => {});
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      proc.on('exit', (code, signal) => resolve({ code, signal })),
    );
    return { proc, exited, stderr: () => followed.stderr };
  }

  // The first progress line at or past `atLeast`, or 'done' when the child got to the end (or exited) first.
  function progressReaching(proc: ChildProcess, atLeast: number): Promise<number | 'done'> {
    return new Promise((resolve) => {
      followChild(proc, ([kind, value]) => {
        if (kind === 'done') resolve('done');
        if (kind === 'progress' && Number(value) >= atLeast) resolve(Number(value));
      });
      proc.on('exit', () => resolve('done'));
    });
  }

  it('leaves tables equal to the directly fed ones, each event applied once, across two kills at random points', async () => {
    const eventsPath = join(dir, 'events.db');
    const events = createSqliteEventStore({ path: eventsPath });
    for (let batch = 0; batch < EVENTS / 1000; batch++) {
      await events.appendMany(
        Array.from({ length: 100 }, (_, s) => ({
          streamId: s % 5 === 4 ? `order-${batch}-${s}` : `acc-${batch}-${s}`,
          events: Array.from({ length: 10 }, (_, i) =>
            s % 5 === 4
              ? { type: 'OrderPlaced', data: { amount: batch * 1000 + s * 10 + i } }
              : { type: 'Added', data: { amount: batch * 1000 + s * 10 + i } },
          ),
        })),
      );
    }
    const all = await events.readAll();
    expect(all).toHaveLength(EVENTS);
    await publishEvents(jetstream(nc), stream, all);

    // The same projections fed directly from the event store: what the JetStream-fed side must end up with.
    const directPath = join(dir, 'direct.db');
    const direct = createSqliteReadStore({ path: directPath });
    const fed = createProjector({
      eventStore: events,
      readStore: direct,
      projections: [countingSqlite('all'), countingSqlite('orders', { types: ['OrderPlaced'] })],
    });
    await fed.start();
    await fed.waitForPosition(EVENTS, { timeoutMs: 60_000 });
    await fed.stop();
    await direct.close();
    await events.close();

    const readPath = join(dir, 'read.db');
    const first = 1000 + Math.floor(Math.random() * 2000);
    const kills = [first, first + 1000 + Math.floor(Math.random() * 2500)];
    const seen: Array<{ killAt: number; reached: number; checkpoint: number }> = [];
    for (const killAt of kills) {
      const run = startChild(readPath, 150);
      const reached = await progressReaching(run.proc, killAt);
      expect(reached, run.stderr()).not.toBe('done');
      run.proc.kill('SIGKILL');
      expect((await run.exited).signal).toBe('SIGKILL');
      const { position, applied, state } = tablesOf(readPath, 'all');
      seen.push({ killAt, reached: reached as number, checkpoint: position });
      expect(position).toBeGreaterThanOrEqual(killAt);
      expect(position).toBeLessThan(EVENTS);
      // What committed is exactly the events up to the checkpoint, each once, in order.
      expect(applied).toHaveLength(position);
      expect(applied.every((row, i) => row.times === 1 && row.position === i + 1)).toBe(true);
      expect(state).toContainEqual({ key: 'disorder', value: 0 });
    }
    const final = startChild(readPath, 0);
    let status: { resets: number; lastReset?: { reason: string } } | undefined;
    followChild(final.proc, ([kind, ...json]) => {
      if (kind === 'status') status = JSON.parse(json.join(' '));
    });
    const { code } = await final.exited;
    expect(code, final.stderr()).toBe(0);
    // The killed process held deliveries: the restarted one had them again at once.
    expect(status).toMatchObject({ resets: 1, lastReset: { reason: expect.stringMatching(/pending acknowledgement/) } });

    for (const name of ['all', 'orders']) {
      const got = tablesOf(readPath, name);
      const want = tablesOf(directPath, name);
      expect(got.position).toBe(EVENTS);
      expect(got.applied).toEqual(want.applied);
      expect(got.state).toEqual(want.state);
      expect(got.applied.every((row) => row.times === 1)).toBe(true);
    }
    expect(tablesOf(readPath, 'all').applied).toHaveLength(EVENTS);
    expect(tablesOf(readPath, 'orders').applied).toHaveLength(EVENTS / 5);
    const info = await jsm.consumers.info(stream, 'killed');
    expect(info.ack_floor.stream_seq).toBe(EVENTS);
    console.log(`nats-source-sigkill: ${EVENTS} events, kills ${JSON.stringify(seen)}, final run ${JSON.stringify(status)}`);
  }, 180_000);
});
