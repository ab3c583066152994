// The JetStream source recovers what is deleted under it while it runs: its durable (re-created from the last
// acknowledged message), its stream deleted and created again at once or some time later (the new stream numbers from
// 1: it goes on from the acknowledged position, skipping none of the new stream's first events), and a raised-version
// rebuild further behind than maxAckPending (which once held the source at the bound for good).
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

describe.skipIf(!natsAvailable)('JetStream source: recovering what is deleted under it', () => {
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

  async function newStream(tag: string) {
    const name = freshName(tag);
    await createStream(jsm, name);
    streams.push(name);
    return name;
  }

  // A projector on a fresh source, caught up with the first 30 of 70 events.
  async function runningAt30(tag: string, options: { maxAckPending?: number } = {}) {
    const events = await makeEvents(70);
    const stream = await newStream(tag);
    const last = await publishEvents(js, stream, events.slice(0, 30));
    const read = createInMemoryReadStore();
    const source = createJetStreamSource({ nats: nc, stream, durable: 'd', ...options });
    const projector = createProjector({ eventStore: source, readStore: read, projections: [countingInMemory('p')] });
    running.push(projector, source);
    await projector.start();
    await projector.waitForPosition(30, { timeoutMs: 10_000 });
    // Acknowledged through 30 on the server, so what follows starts from a known floor.
    await vi.waitFor(async () => expect((await jsm.consumers.info(stream, 'd')).ack_floor.stream_seq).toBe(30));
    return { events, stream, last, read, source, projector };
  }

  it('re-creates its durable deleted under it, from the last acknowledged message', async () => {
    const { events, stream, last, read, source, projector } = await runningAt30('durable');
    await jsm.consumers.delete(stream, 'd');
    await publishEvents(js, stream, events.slice(30), last);
    await projector.waitForPosition(70, { timeoutMs: 15_000 });
    expect(inMemoryCounts(read.reader('p'))).toEqual({ applied: 70, repeated: 0, inOrder: true, sum: totalOf(events) });
    expect(source.status()).toMatchObject({
      resets: 1,
      lastReset: { reason: expect.stringMatching(/durable consumer was deleted/) },
    });
    await vi.waitFor(async () => expect((await jsm.consumers.info(stream, 'd')).ack_floor.stream_seq).toBe(70));
  });

  it('goes on from the acknowledged position in a stream deleted and created again at once, which numbers from 1', async () => {
    const { events, stream, read, source, projector } = await runningAt30('recreated');
    await jsm.streams.delete(stream);
    await createStream(jsm, stream);
    // The relay carries on after its checkpoint: 31-70 are sequences 1-40 of the new stream.
    await publishEvents(js, stream, events.slice(30));
    await projector.waitForPosition(70, { timeoutMs: 15_000 });
    expect(inMemoryCounts(read.reader('p'))).toEqual({ applied: 70, repeated: 0, inOrder: true, sum: totalOf(events) });
    expect(source.status()).toMatchObject({ ackedPosition: 70, lastReset: { reason: expect.stringMatching(/stream/) } });
    expect(source.status().resets).toBeGreaterThanOrEqual(1);
    await vi.waitFor(async () => expect((await jsm.consumers.info(stream, 'd')).ack_floor.stream_seq).toBe(40));
  });

  it('waits for a deleted stream (retrying, NOT_FOUND) and goes on from the acknowledged position once it is back', async () => {
    const { events, stream, read, source, projector } = await runningAt30('gone');
    await jsm.streams.delete(stream);
    await vi.waitFor(
      () =>
        expect(source.status()).toMatchObject({
          state: 'retrying',
          lastError: { code: 'NOT_FOUND', message: expect.stringMatching(/does not exist/) },
        }),
      { timeout: 15_000 },
    );
    expect(source.status().lastReset?.reason).toMatch(/was deleted/);
    // Reads meanwhile return nothing rather than fail the projection.
    expect(await source.readAll({ from: 31 })).toEqual([]);
    expect((await projector.status())[0]).toMatchObject({ state: 'live', position: 30 });
    await createStream(jsm, stream);
    await publishEvents(js, stream, events.slice(30));
    await projector.waitForPosition(70, { timeoutMs: 15_000 });
    expect(inMemoryCounts(read.reader('p'))).toEqual({ applied: 70, repeated: 0, inOrder: true, sum: totalOf(events) });
    expect(source.status()).toMatchObject({ state: 'running', ackedPosition: 70 });
    await vi.waitFor(async () => expect((await jsm.consumers.info(stream, 'd')).ack_floor.stream_seq).toBe(40));
  });

  it('swaps a raised-version rebuild in that started further behind than maxAckPending', async () => {
    const events = await makeEvents(2000);
    const stream = await newStream('stall');
    const last = await publishEvents(js, stream, events.slice(0, 200));
    const read = createInMemoryReadStore();
    const first = createJetStreamSource({ nats: nc, stream, durable: 'd', maxAckPending: 300 });
    const v1 = createProjector({ eventStore: first, readStore: read, projections: [countingInMemory('p', { version: 1 })] });
    await v1.start();
    await v1.waitForPosition(200, { timeoutMs: 10_000 });
    await v1.stop();
    await first.close();
    // The read side is down while 1800 more arrive, far more than maxAckPending; then a deploy raises the version.
    await publishEvents(js, stream, events.slice(200), last);
    const source = createJetStreamSource({ nats: nc, stream, durable: 'd', maxAckPending: 300 });
    const v2 = createProjector({ eventStore: source, readStore: read, projections: [countingInMemory('p', { version: 2 })] });
    running.push(v2, source);
    await v2.start();
    await v2.waitForPosition(2000, { timeoutMs: 20_000 });
    await vi.waitFor(async () => expect((await v2.status())[0]).toMatchObject({ state: 'live', position: 2000, version: 2 }));
    expect(inMemoryCounts(read.reader('p'))).toEqual({ applied: 2000, repeated: 0, inOrder: true, sum: totalOf(events) });
    await vi.waitFor(async () => expect((await jsm.consumers.info(stream, 'd')).ack_floor.stream_seq).toBe(2000));
  });
});
