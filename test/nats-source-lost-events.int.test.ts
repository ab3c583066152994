// The JetStream source never takes what the stream removed as skippable: events its limits removed before a running
// durable delivered them, or before a read behind the live point reached them, fail the projection with NOT_FOUND;
// messages deleted one by one in the middle are taken as they are; with filter subjects (where it cannot tell) the
// removal is noted in status; and a stream whose retention deletes on acknowledgement is refused.
import {
  type JetStreamClient,
  type JetStreamManager,
  jetstream,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
} from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { createInMemoryReadStore, createProjector, type Projector } from 'chronicle-es';
import { createJetStreamSource, type JetStreamSource } from 'chronicle-es/nats';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  countingInMemory,
  createStream,
  deleteStreams,
  freshName,
  holdAt,
  inMemoryCounts,
  makeEvents,
  publishEvents,
  totalOf,
} from './nats-source-fixture.js';
import { connectNats, natsAvailable } from './support/nats.js';

describe.skipIf(!natsAvailable)('JetStream source: events the stream removed', () => {
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

  async function limitedStream(tag: string, maxMsgs: number) {
    const name = freshName(tag);
    await jsm.streams.add({
      name,
      subjects: [`${name}.>`],
      storage: StorageType.File,
      retention: RetentionPolicy.Limits,
      max_msgs: maxMsgs,
    });
    streams.push(name);
    return name;
  }

  function source(options: Parameters<typeof createJetStreamSource>[0]) {
    const s = createJetStreamSource(options);
    running.push(s);
    return s;
  }

  function projector(p: Projector) {
    running.unshift(p);
    return p;
  }

  const positionsOf = (read: ReturnType<typeof createInMemoryReadStore>, name: string) =>
    read.reader(name).table<number[]>('order').get('positions') ?? [];

  it('fails the projection where the limits removed events a running durable had not delivered, and keeps failing on retry', async () => {
    const events = await makeEvents(120);
    const stream = await limitedStream('overtaken', 50);
    const last = await publishEvents(js, stream, events.slice(0, 20));
    const read = createInMemoryReadStore();
    const gate = holdAt(5);
    const s = source({ nats: nc, stream, durable: 'd', maxAckPending: 10, batchSize: 10 });
    const p = projector(
      createProjector({
        eventStore: s,
        readStore: read,
        projections: [countingInMemory('p', { gate: gate.gate })],
        batchSize: 1,
      }),
    );
    await p.start();
    await gate.reached;
    // The projection is busy on 5 with the window full: the relay goes on and the limits keep only the last 50.
    await publishEvents(js, stream, events.slice(20), last);
    expect((await jsm.streams.info(stream)).state.first_seq).toBe(71);
    gate.release();

    await vi.waitFor(async () => expect((await p.status())[0].state).toBe('failed'), { timeout: 10_000 });
    const [st] = await p.status();
    const reached = st.position;
    // Everything up to the removal is applied once and in order; nothing after it.
    expect(reached).toBeGreaterThanOrEqual(10);
    expect(reached).toBeLessThan(71);
    expect(positionsOf(read, 'p')).toEqual(Array.from({ length: reached }, (_, i) => i + 1));
    expect(st.lastError).toMatchObject({
      code: 'NOT_FOUND',
      message: expect.stringMatching(
        new RegExp(`no longer holds the events from position ${reached + 1}: .*\\(sequence 71\\) is at position 71`),
      ),
    });
    expect(s.status()).toMatchObject({ state: 'running', ackedPosition: reached, lastError: { code: 'NOT_FOUND' } });
    await expect(s.readAll({ from: reached + 1, limit: 5 })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    // A retry meets the same hole: what is gone is gone.
    await p.retry('p');
    await vi.waitFor(async () => expect((await p.status())[0]).toMatchObject({ state: 'failed', position: reached }), {
      timeout: 10_000,
    });
    expect(read.reader('p').table('applied').size).toBe(reached);
  });

  it('takes messages deleted one by one in the middle of what a running durable has yet to deliver', async () => {
    const events = await makeEvents(40);
    const stream = freshName('holes');
    await createStream(jsm, stream);
    streams.push(stream);
    const last = await publishEvents(js, stream, events.slice(0, 20));
    const read = createInMemoryReadStore();
    const gate = holdAt(5);
    const s = source({ nats: nc, stream, durable: 'd', maxAckPending: 10, batchSize: 10 });
    const p = projector(
      createProjector({
        eventStore: s,
        readStore: read,
        projections: [countingInMemory('p', { gate: gate.gate })],
        batchSize: 1,
      }),
    );
    await p.start();
    await gate.reached;
    await publishEvents(js, stream, events.slice(20), last);
    // Past what the full window can hold (at most 4 settled + 10): an operator removes these.
    for (const seq of [22, 23, 35]) await jsm.streams.deleteMessage(stream, seq);
    gate.release();
    await p.waitForPosition(40, { timeoutMs: 10_000 });
    const kept = events.filter((e) => ![22, 23, 35].includes(e.position));
    expect(inMemoryCounts(read.reader('p'))).toEqual({ applied: 37, repeated: 0, inOrder: true, sum: totalOf(kept) });
    expect((await p.status())[0].state).toBe('live');
    expect(s.status()).toMatchObject({ resets: 0, ackedPosition: 40 });
    expect(s.status().lastError).toBeUndefined();
  });

  it('with filter subjects, notes a removal it cannot judge in status and goes on', async () => {
    const events = await makeEvents(120, { orderEvery: 2 });
    const stream = await limitedStream('filtered', 50);
    const last = await publishEvents(js, stream, events.slice(0, 20));
    const read = createInMemoryReadStore();
    // Orders are at even positions; hold at the third.
    const gate = holdAt(6);
    const s = source({
      nats: nc,
      stream,
      durable: 'd',
      maxAckPending: 4,
      batchSize: 4,
      filterSubjects: [`${stream}.order.>`],
    });
    const p = projector(
      createProjector({
        eventStore: s,
        readStore: read,
        projections: [countingInMemory('orders', { gate: gate.gate, types: ['OrderPlaced'] })],
        batchSize: 1,
      }),
    );
    await p.start();
    await gate.reached;
    await publishEvents(js, stream, events.slice(20), last);
    gate.release();
    await p.waitForPosition(120, { timeoutMs: 10_000 });
    expect((await p.status())[0].state).toBe('live');
    expect(s.status().lastError).toMatchObject({
      code: 'NOT_FOUND',
      message: expect.stringMatching(/no longer holds the events from position \d+: .*cannot tell whether any of them matched/),
    });
    // What it delivered is in order and each once; the orders the limits removed (positions 10-70) never came.
    const applied = positionsOf(read, 'orders');
    expect(applied.slice(0, 4)).toEqual([2, 4, 6, 8]);
    expect(applied.filter((x) => x > 70)).toEqual(Array.from({ length: 25 }, (_, i) => 72 + 2 * i));
    expect(inMemoryCounts(read.reader('orders'))).toMatchObject({ repeated: 0, inOrder: true });
  });

  it('fails a read behind the live point that the limits overtook between two of its fetches', async () => {
    const events = await makeEvents(3100);
    const stream = await limitedStream('reader', 2000);
    const last = await publishEvents(js, stream, events.slice(0, 1500));
    const s = source({ nats: nc, stream, durable: 'd' });
    // The projections are said to be through 1500: reads from 1 come from the stream itself.
    s.settled(1500);
    const first = await s.readAll({ from: 1, limit: 1000 });
    expect(first.map((e) => e.position)).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1));
    // The limits now drop 1-1100: the reader's cursor, parked after 1000, has 1001-1100 taken from under it.
    await publishEvents(js, stream, events.slice(1500), last);
    expect((await jsm.streams.info(stream)).state.first_seq).toBe(1101);
    await expect(s.readAll({ from: 1001, limit: 100 })).rejects.toMatchObject({
      code: 'NOT_FOUND',
      message: expect.stringMatching(/no longer holds the events from position 1001: .*\(sequence 1101\) is at position 1101/),
    });
    // From what it holds, reads go on.
    expect((await s.readAll({ from: 1101, limit: 3 })).map((e) => e.position)).toEqual([1101, 1102, 1103]);
  });

  it.each([
    ['interest', RetentionPolicy.Interest],
    ['workqueue', RetentionPolicy.Workqueue],
  ])('refuses a stream with %s retention, whose acks would delete what rebuilds read', async (name, retention) => {
    const stream = freshName(name);
    await jsm.streams.add({ name: stream, subjects: [`${stream}.>`], storage: StorageType.File, retention });
    streams.push(stream);
    const s = source({ nats: nc, stream, durable: 'd' });
    await expect(s.readAll({ from: 1 })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringMatching(new RegExp(`${name} retention, .*needs limits retention`)),
    });
    expect(s.status()).toMatchObject({ state: 'retrying', lastError: { code: 'INVALID_ARGUMENT' } });
    // It never created its durable there.
    await expect(jsm.consumers.info(stream, 'd')).rejects.toMatchObject({ code: 10014 });
  });
});
