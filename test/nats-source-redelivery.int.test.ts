// Deliveries that do not simply continue the log: redeliveries after a short ack_wait, deliveries taken by a second
// client (a lost delivery, so the source resets the durable), deliveries left pending by a process that died, a
// durable whose config differs, and foreign messages on the stream's subjects. Each time: nothing skipped, nothing
// applied twice, order kept.
import {
  AckPolicy,
  DeliverPolicy,
  type JetStreamClient,
  type JetStreamManager,
  jetstream,
  jetstreamManager,
} from '@nats-io/jetstream';
import { nanos } from '@nats-io/nats-core';
import type { NatsConnection } from '@nats-io/transport-node';
import { createInMemoryReadStore, createProjector, type Projector, type RecordedEvent } from 'chronicle-es';
import {
  createJetStreamSource,
  eventBody,
  eventHeaders,
  type JetStreamSource,
  type JetStreamSourceOptions,
  subjectOf,
} from 'chronicle-es/nats';
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

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

describe.skipIf(!natsAvailable)('JetStream source: redeliveries, lost deliveries and foreign messages', () => {
  let nc: NatsConnection;
  let other: NatsConnection;
  let jsm: JetStreamManager;
  let js: JetStreamClient;
  const streams: string[] = [];
  const running: Array<Projector | JetStreamSource> = [];

  beforeAll(async () => {
    nc = await connectNats();
    other = await connectNats();
    jsm = await jetstreamManager(nc);
    js = jetstream(nc);
  });
  afterEach(async () => {
    for (const r of running.splice(0)) await ('stop' in r ? r.stop() : r.close());
  });
  afterAll(async () => {
    await deleteStreams(jsm, streams);
    await other?.close();
    await nc?.close();
  });

  async function newStream(tag: string) {
    const name = freshName(tag);
    await createStream(jsm, name);
    streams.push(name);
    return name;
  }

  // A source and a projector over it with one counting projection; the projector is stopped before the source.
  function run(options: JetStreamSourceOptions, projection = countingInMemory('all'), batchSize = 25) {
    const read = createInMemoryReadStore();
    const source = createJetStreamSource(options);
    const projector = createProjector({ eventStore: source, readStore: read, projections: [projection], batchSize });
    running.push(projector, source);
    return { read, source, projector };
  }

  it('drops redeliveries of what it holds after a short ack_wait, and acknowledges again what is covered', async () => {
    const events = await makeEvents(400);
    const stream = await newStream('redeliver');
    await publishEvents(js, stream, events);
    // Each event takes a few ms and the window holds 100, so held messages outlive the 200 ms ack_wait many times.
    const { read, source, projector } = run(
      { nats: nc, stream, durable: 'short', ackWaitMs: 200, maxAckPending: 100, batchSize: 50 },
      countingInMemory('all', { gate: () => sleep(2) }),
    );
    await projector.start();
    await projector.waitForPosition(400, { timeoutMs: 25_000 });
    expect(inMemoryCounts(read.reader('all'))).toEqual({ applied: 400, repeated: 0, inOrder: true, sum: totalOf(events) });
    expect(source.status().redeliveries).toBeGreaterThan(0);
    await vi.waitFor(async () => expect((await jsm.consumers.info(stream, 'short')).ack_floor.stream_seq).toBe(400));
  }, 30_000);

  it('resets the durable when a second client takes deliveries (a gap), skipping nothing and repeating nothing', async () => {
    const events = await makeEvents(600);
    const stream = await newStream('stolen');
    await publishEvents(js, stream, events);
    const { read, source, projector } = run(
      { nats: nc, stream, durable: 'shared', maxAckPending: 40, batchSize: 20 },
      countingInMemory('all', { gate: () => sleep(1) }),
      10,
    );
    await projector.start();
    await projector.waitForPosition(50, { timeoutMs: 20_000 });
    // Another client pulls from the same durable and gives the messages back: to the source, deliveries went missing.
    const thief = await jetstream(other).consumers.get(stream, 'shared');
    const stolen = await thief.fetch({ max_messages: 5, expires: 3000 });
    let taken = 0;
    for await (const m of stolen) {
      taken++;
      m.nak();
    }
    expect(taken).toBeGreaterThan(0);
    await projector.waitForPosition(600, { timeoutMs: 25_000 });
    expect(inMemoryCounts(read.reader('all'))).toEqual({ applied: 600, repeated: 0, inOrder: true, sum: totalOf(events) });
    expect(source.status().resets).toBeGreaterThanOrEqual(1);
    expect(source.status().lastReset?.reason).toMatch(/came out of turn: a delivery was lost/);
  }, 30_000);

  it('re-creates a durable left holding deliveries by a dead process at once, without waiting for its ack_wait', async () => {
    const events = await makeEvents(200);
    const stream = await newStream('pending');
    await publishEvents(js, stream, events);
    const options = { nats: nc, stream, durable: 'dead', ackWaitMs: 120_000 };
    // What the source creates, as a process that then died left it: 30 delivered, none acknowledged.
    await jsm.consumers.add(stream, {
      durable_name: 'dead',
      ack_policy: AckPolicy.All,
      deliver_policy: DeliverPolicy.All,
      ack_wait: nanos(120_000),
      max_ack_pending: 10_000,
      max_deliver: -1,
    });
    const dying = await jetstream(other).consumers.get(stream, 'dead');
    for await (const _ of await dying.fetch({ max_messages: 30, expires: 3000 })) {
      // Taken and never acknowledged.
    }
    expect((await jsm.consumers.info(stream, 'dead')).num_ack_pending).toBe(30);
    const { read, source, projector } = run(options);
    await projector.start();
    // Far sooner than the two minutes a redelivery would take.
    await projector.waitForPosition(200, { timeoutMs: 15_000 });
    expect(inMemoryCounts(read.reader('all'))).toMatchObject({ applied: 200, repeated: 0, inOrder: true });
    expect(source.status()).toMatchObject({ resets: 1, lastReset: { reason: '30 deliveries were pending acknowledgement' } });
  });

  it('re-creates a durable whose config differs from its ack floor', async () => {
    const events = await makeEvents(100);
    const stream = await newStream('config');
    await publishEvents(js, stream, events.slice(0, 60));
    {
      const { projector, source } = run({ nats: nc, stream, durable: 'cfg', ackWaitMs: 5000 });
      await projector.start();
      await projector.waitForPosition(60, { timeoutMs: 10_000 });
      await vi.waitFor(async () => expect((await jsm.consumers.info(stream, 'cfg')).ack_floor.stream_seq).toBe(60));
      await projector.stop();
      await source.close();
    }
    await publishEvents(js, stream, events.slice(60), events[59].id);
    const read = createInMemoryReadStore();
    const source = createJetStreamSource({ nats: nc, stream, durable: 'cfg', ackWaitMs: 7000, maxAckPending: 33 });
    // The read store is new: its projection starts at 0, below the durable's ack floor, and reads the stream itself.
    const projector = createProjector({ eventStore: source, readStore: read, projections: [countingInMemory('all')] });
    running.push(projector, source);
    await projector.start();
    await projector.waitForPosition(100, { timeoutMs: 10_000 });
    expect(inMemoryCounts(read.reader('all'))).toMatchObject({ applied: 100, repeated: 0, inOrder: true });
    expect(source.status().lastReset?.reason).toMatch(/config differs \(ack_wait 5000000000ns, max_ack_pending 10000\)/);
    const info = await jsm.consumers.info(stream, 'cfg');
    expect(info.config).toMatchObject({ ack_wait: nanos(7000), max_ack_pending: 33, opt_start_seq: 61 });
  });

  it('stops at a foreign message naming its subject and sequence, and goes on once it is removed from the stream', async () => {
    const events = await makeEvents(300);
    const stream = await newStream('foreign');
    await publishEvents(js, stream, events.slice(0, 100));
    // A message without a position, then a relay's event published twice under another id (its position goes back).
    await js.publish(`${stream}.acc.Added`, new TextEncoder().encode('{"hello":1}'));
    const copy: RecordedEvent = { ...events[49], id: 'copy-of-50' };
    await js.publish(subjectOf(stream, copy), eventBody(copy), { msgID: copy.id, headers: eventHeaders(copy) });
    await publishEvents(js, stream, events.slice(100));
    const { read, source, projector } = run({ nats: nc, stream, durable: 'foreign' });
    await projector.start();
    await vi.waitFor(async () => expect((await projector.status())[0].state).toBe('failed'), { timeout: 10_000 });
    const [status] = await projector.status();
    expect(status).toMatchObject({
      position: 100,
      lastError: { code: 'INVALID_ARGUMENT', message: expect.stringContaining(`JetStream message 101 on ${stream}.acc.Added`) },
    });
    expect(status.lastError?.message).toMatch(/no Chronicle-Position header/);
    expect((await jsm.consumers.info(stream, 'foreign')).ack_floor.stream_seq).toBe(100);
    // A read of the stream itself across it fails the same way.
    await expect(source.readAll({ from: 95 })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      details: { subject: `${stream}.acc.Added`, streamSequence: 101 },
    });

    await jsm.streams.deleteMessage(stream, 101);
    await projector.retry('all');
    await vi.waitFor(async () => expect((await projector.status())[0]).toMatchObject({ state: 'failed' }), { timeout: 10_000 });
    expect((await projector.status())[0].lastError?.message).toMatch(
      /JetStream message 102 on .* its position 50 does not rise above 100/,
    );
    await jsm.streams.deleteMessage(stream, 102);
    await projector.retry('all');
    await projector.waitForPosition(300, { timeoutMs: 10_000 });
    expect(inMemoryCounts(read.reader('all'))).toEqual({ applied: 300, repeated: 0, inOrder: true, sum: totalOf(events) });
    expect(source.status().resets).toBe(2);
  });

  it('refuses bad options, a missing stream, and a push consumer under the durable name', async () => {
    for (const bad of [
      { stream: 'a.b' },
      { durable: 'x y' },
      { durable: '' },
      { filterSubjects: [''] },
      { batchSize: 0 },
      { ackWaitMs: 10 },
      { maxAckPending: 1.5 },
    ]) {
      expect(() => createJetStreamSource({ nats: nc, stream: 's', durable: 'd', ...bad })).toThrow(
        expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
      );
    }
    // A stream not there yet is waited for (the read side started before the relay), and says so in status.
    const later = freshName('missing');
    const missing = createJetStreamSource({ nats: nc, stream: later, durable: 'd' });
    running.push(missing);
    expect(await missing.readAll()).toEqual([]);
    expect(missing.status()).toMatchObject({
      state: 'retrying',
      lastError: { code: 'NOT_FOUND', message: expect.stringMatching(/does not exist/) },
    });
    expect(await missing.headPosition()).toBe(0);
    // Looking up the head of a missing stream says the same, not a server failure (readiness reads the code).
    expect(missing.status().lastError).toMatchObject({ code: 'NOT_FOUND' });
    // Once the relay creates it, the waiting source delivers from its start.
    await createStream(jsm, later);
    streams.push(later);
    const first = await makeEvents(5);
    await publishEvents(js, later, first);
    await vi.waitFor(
      async () => expect((await missing.readAll({ from: 1, limit: 10 })).map((e) => e.id)).toEqual(first.map((e) => e.id)),
      {
        timeout: 10_000,
      },
    );
    expect(missing.status().state).toBe('running');

    const stream = await newStream('push');
    await jsm.consumers.add(stream, { durable_name: 'pushy', ack_policy: AckPolicy.Explicit, deliver_subject: 'somewhere' });
    const push = createJetStreamSource({ nats: nc, stream, durable: 'pushy' });
    running.push(push);
    await expect(push.readAll()).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringMatching(/push consumer/),
    });
    expect(push.status().lastError?.message).toMatch(/push consumer/);

    const several = createJetStreamSource({ nats: nc, stream, durable: 'several', filterSubjects: ['a.>', 'b.>'] });
    running.push(several);
    const version = nc.info?.version ?? '0';
    if (version.startsWith('2.9.')) {
      await expect(several.readAll()).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
        message: expect.stringMatching(/2\.10/),
      });
    }
    await push.close();
    await expect(push.readAll()).rejects.toMatchObject({ code: 'CLOSED' });
  });
});
