// A poison message through the JetStream source follows the projector's rules: the projection whose handler throws
// fails on it, its message stays unacknowledged, the other projection on the source goes on up to the flow-control
// bound, and retry (after a fix) or skip carries on, each event applied once.
import { type JetStreamClient, type JetStreamManager, jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { createInMemoryReadStore, createProjector, type Projector } from 'chronicle-es';
import { createJetStreamSource, type JetStreamSource } from 'chronicle-es/nats';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  countingInMemory,
  createStream,
  deleteStreams,
  freshName,
  inMemoryCounts,
  makeEvents,
  publishEvents,
  totalOf,
} from './nats-source-fixture.js';
import { connectNats, natsAvailable } from './support/nats.js';

const POISON = 150;
const BOUND = 60;

describe.skipIf(!natsAvailable)('JetStream source: poison messages', () => {
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  let js: JetStreamClient;
  const streams: string[] = [];
  const running: Array<Projector | JetStreamSource> = [];

  beforeAll(async () => {
    nc = await connectNats();
    jsm = await jetstreamManager(nc);
    js = jetstream(nc);
  });
  afterEach(async () => {
    for (const r of running.splice(0)) await ('stop' in r ? r.stop() : r.close());
  });
  afterAll(async () => {
    await deleteStreams(jsm, streams);
    await nc?.close();
  });

  // 500 events on a fresh stream; `bad` throws on POISON while `broken.now`, `good` applies everything.
  async function poisoned(tag: string) {
    const events = await makeEvents(500);
    const stream = freshName(tag);
    await createStream(jsm, stream);
    streams.push(stream);
    await publishEvents(js, stream, events);
    const broken = { now: true };
    const read = createInMemoryReadStore();
    const source = createJetStreamSource({ nats: nc, stream, durable: 'poison', maxAckPending: BOUND, batchSize: 25 });
    const bad = countingInMemory('bad', {
      gate: (e) => {
        if (broken.now && e.position === POISON) throw new Error(`cannot apply ${e.id}`);
      },
    });
    const projector = createProjector({
      eventStore: source,
      readStore: read,
      projections: [bad, countingInMemory('good')],
      batchSize: 20,
    });
    running.push(projector, source);
    await projector.start();
    const statusOf = async (name: string) => (await projector.status()).find((s) => s.name === name)!;
    await vi.waitFor(async () => expect((await statusOf('bad')).state).toBe('failed'), { timeout: 10_000 });
    // The other projection runs until the source holds BOUND messages past the failed checkpoint, then waits.
    await vi.waitFor(async () => expect((await statusOf('good')).position).toBe(POISON - 1 + BOUND), { timeout: 10_000 });
    return { events, stream, broken, read, source, projector, statusOf };
  }

  it('fails the projection on it, keeps it unacknowledged, stalls the others at the bound; a retry after the fix applies it', async () => {
    const { events, stream, broken, read, source, projector, statusOf } = await poisoned('retry');
    expect(await statusOf('bad')).toMatchObject({
      state: 'failed',
      position: POISON - 1,
      lastError: { eventId: events[POISON - 1].id, position: POISON, message: expect.stringContaining('cannot apply') },
    });
    const info = await jsm.consumers.info(stream, 'poison');
    expect(info.ack_floor.stream_seq).toBe(POISON - 1);
    expect(info.num_ack_pending).toBe(BOUND);
    expect(source.status()).toMatchObject({ ackedPosition: POISON - 1, settledPosition: POISON - 1, pending: BOUND });
    // Stalled, not merely slow: a wait past the bound times out.
    await expect(projector.waitForPosition(POISON + BOUND, { projections: ['good'], timeoutMs: 500 })).rejects.toMatchObject({
      code: 'TIMEOUT',
    });

    broken.now = false;
    await projector.retry('bad');
    await projector.waitForPosition(500, { timeoutMs: 20_000 });
    for (const name of ['bad', 'good']) {
      expect(inMemoryCounts(read.reader(name))).toEqual({ applied: 500, repeated: 0, inOrder: true, sum: totalOf(events) });
    }
    await vi.waitFor(async () => expect((await jsm.consumers.info(stream, 'poison')).ack_floor.stream_seq).toBe(500));
  });

  it('goes on past it when skipped', async () => {
    const { events, stream, read, projector } = await poisoned('skip');
    await projector.skip('bad');
    await projector.waitForPosition(500, { timeoutMs: 20_000 });
    const rest = events.filter((e) => e.position !== POISON);
    expect(inMemoryCounts(read.reader('bad'))).toEqual({ applied: 499, repeated: 0, inOrder: true, sum: totalOf(rest) });
    expect(
      read
        .reader('bad')
        .table('applied')
        .has(events[POISON - 1].id),
    ).toBe(false);
    expect(inMemoryCounts(read.reader('good'))).toEqual({ applied: 500, repeated: 0, inOrder: true, sum: totalOf(events) });
    await vi.waitFor(async () => expect((await jsm.consumers.info(stream, 'poison')).ack_floor.stream_seq).toBe(500));
  });
});
