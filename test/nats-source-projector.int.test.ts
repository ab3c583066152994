// The JetStream source under a projector, on the shared nats-server: every event applied once and in order into
// SQLite and in-memory read stores, acknowledgements never ahead of the committed checkpoints, a restart of the
// consuming side, projections behind the durable (a new one, a rebuild) read from the stream itself, and filters.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type JetStreamClient, type JetStreamManager, jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { createInMemoryReadStore, createProjector, type Projector } from 'chronicle-es';
import { createJetStreamSource, type JetStreamSource } from 'chronicle-es/nats';
import { createSqliteReadStore } from 'chronicle-es/sqlite';
import { afterAll, afterEach, beforeAll, describe, expect, it, onTestFinished, vi } from 'vitest';
import {
  countingInMemory,
  countingSqlite,
  createStream,
  deleteStreams,
  freshName,
  holdAt,
  inMemoryCounts,
  makeEvents,
  publishEvents,
  sqliteCounts,
  totalOf,
} from './nats-source-fixture.js';
import { connectNats, natsAvailable } from './support/nats.js';

describe.skipIf(!natsAvailable)('JetStream source under a projector', () => {
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  let js: JetStreamClient;
  let dir: string;
  const streams: string[] = [];
  const running: Array<Projector | JetStreamSource | { close(): Promise<void> }> = [];

  beforeAll(async () => {
    nc = await connectNats();
    jsm = await jetstreamManager(nc);
    js = jetstream(nc);
    dir = await mkdtemp(join(tmpdir(), 'chronicle-nats-source-'));
  });
  afterEach(async () => {
    // Projectors first, then their sources, then the read stores.
    for (const r of running.splice(0)) await ('stop' in r ? r.stop() : r.close());
  });
  afterAll(async () => {
    await deleteStreams(jsm, streams);
    await nc?.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function newStream(tag: string) {
    const name = freshName(tag);
    await createStream(jsm, name);
    streams.push(name);
    return name;
  }

  function source(stream: string, durable: string, options: Partial<Parameters<typeof createJetStreamSource>[0]> = {}) {
    const s = createJetStreamSource({ nats: nc, stream, durable, ...options });
    running.push(s);
    return s;
  }

  function projector(p: Projector) {
    // Stopped before the sources (afterEach closes in order of registration, so put it at the front).
    running.unshift(p);
    return p;
  }

  it('applies every event once and in order, into a SQLite file and in memory, and acknowledges all of it', async () => {
    const events = await makeEvents(3000, { orderEvery: 5 });
    const stream = await newStream('once');
    const lastId = await publishEvents(js, stream, events.slice(0, 2000));
    const sqlite = createSqliteReadStore({ path: join(dir, `${stream}.db`) });
    running.push(sqlite);
    const memory = createInMemoryReadStore();
    const toSqlite = source(stream, 'sqlite');
    const toMemory = source(stream, 'memory', { batchSize: 64, maxAckPending: 300 });
    const p1 = projector(
      createProjector({
        eventStore: toSqlite,
        readStore: sqlite,
        projections: [countingSqlite('all'), countingSqlite('orders', { types: ['OrderPlaced'] })],
        batchSize: 250,
      }),
    );
    const p2 = projector(createProjector({ eventStore: toMemory, readStore: memory, projections: [countingInMemory('all')] }));
    await Promise.all([p1.start(), p2.start()]);
    // The rest arrives while they run.
    await publishEvents(js, stream, events.slice(2000), lastId);
    const head = events.at(-1)!.position;
    await Promise.all([p1.waitForPosition(head, { timeoutMs: 20_000 }), p2.waitForPosition(head, { timeoutMs: 20_000 })]);

    expect(sqliteCounts(sqlite.reader('all'))).toEqual({
      applied: 3000,
      repeated: 0,
      disorder: 0,
      last: head,
      sum: totalOf(events),
    });
    expect(sqliteCounts(sqlite.reader('orders'))).toMatchObject({ applied: 600, repeated: 0, disorder: 0 });
    expect(inMemoryCounts(memory.reader('all'))).toEqual({ applied: 3000, repeated: 0, inOrder: true, sum: totalOf(events) });
    expect(await toSqlite.headPosition()).toBe(head);
    for (const [s, durable] of [
      [toSqlite, 'sqlite'],
      [toMemory, 'memory'],
    ] as const) {
      await vi.waitFor(async () => {
        const info = await jsm.consumers.info(stream, durable);
        expect(info.ack_floor.stream_seq).toBe(3000);
        expect(info.num_ack_pending).toBe(0);
      });
      expect(s.status()).toMatchObject({
        durable,
        state: 'running',
        deliveredPosition: head,
        ackedPosition: head,
        settledPosition: head,
        pending: 0,
        resets: 0,
      });
    }
  });

  it('never acknowledges past the committed checkpoint: a held batch keeps its messages unacknowledged', async () => {
    const events = await makeEvents(400);
    const stream = await newStream('floor');
    await publishEvents(js, stream, events);
    const read = createInMemoryReadStore();
    const holds = [holdAt(120), holdAt(290)];
    const s = source(stream, 'floor', { maxAckPending: 100 });
    const p = projector(
      createProjector({
        eventStore: s,
        readStore: read,
        projections: [countingInMemory('slow', { gate: (e) => Promise.all(holds.map((h) => h.gate(e))).then(() => {}) })],
        batchSize: 25,
      }),
    );
    await p.start();
    // A failed assertion must not leave a batch held, or stopping the projector would wait for it.
    onTestFinished(() => {
      for (const hold of holds) hold.release();
    });
    for (const hold of holds) {
      await hold.reached;
      // Frozen: the batch holding this event is open, everything before it committed.
      const committed = (await read.load('slow'))!.position;
      expect(committed).toBeLessThan(hold === holds[0] ? 120 : 290);
      await vi.waitFor(async () => expect(s.status().ackedPosition).toBe(committed));
      const info = await jsm.consumers.info(stream, 'floor');
      // Positions are stream sequences here (one relay, from 1).
      expect(info.ack_floor.stream_seq).toBeLessThanOrEqual(committed);
      expect(info.num_ack_pending).toBeGreaterThan(0);
      // Never more held than the flow-control bound.
      expect(info.num_ack_pending).toBeLessThanOrEqual(100);
      expect(s.status().pending).toBeLessThanOrEqual(100);
      hold.release();
    }
    await p.waitForPosition(400, { timeoutMs: 20_000 });
    expect(inMemoryCounts(read.reader('slow'))).toMatchObject({ applied: 400, repeated: 0, inOrder: true });
    await vi.waitFor(async () => expect((await jsm.consumers.info(stream, 'floor')).ack_floor.stream_seq).toBe(400));
  });

  it('applies each event once across a restart of the consuming side on the same read store and durable', async () => {
    const events = await makeEvents(1500);
    const stream = await newStream('restart');
    const lastId = await publishEvents(js, stream, events.slice(0, 1000));
    const path = join(dir, `${stream}.db`);
    const hold = holdAt(600);
    {
      const sqlite = createSqliteReadStore({ path });
      const s = createJetStreamSource({ nats: nc, stream, durable: 'restart' });
      const p = createProjector({
        eventStore: s,
        readStore: sqlite,
        projections: [countingSqlite('all', { gate: hold.gate })],
        batchSize: 50,
      });
      await p.start();
      await hold.reached;
      await vi.waitFor(() => expect(s.status().deliveredPosition).toBe(1000));
      // Stopping lets the held batch finish; the messages delivered past it stay unacknowledged.
      const stopping = p.stop();
      hold.release();
      await stopping;
      await s.close();
      expect((await sqlite.load('all'))!.position).toBeLessThan(1000);
      await sqlite.close();
    }
    await publishEvents(js, stream, events.slice(1000), lastId);
    const sqlite = createSqliteReadStore({ path });
    running.push(sqlite);
    const s = source(stream, 'restart');
    const p = projector(createProjector({ eventStore: s, readStore: sqlite, projections: [countingSqlite('all')] }));
    await p.start();
    await p.waitForPosition(1500, { timeoutMs: 20_000 });
    expect(sqliteCounts(sqlite.reader('all'))).toEqual({
      applied: 1500,
      repeated: 0,
      disorder: 0,
      last: 1500,
      sum: totalOf(events),
    });
    // The first process died (here: stopped) holding deliveries: the durable was reset from its ack floor at once.
    expect(s.status()).toMatchObject({ resets: 1, lastReset: { reason: expect.stringMatching(/pending acknowledgement/) } });
  });

  it('serves projections behind the durable from the stream: a new projection from 0 and a rebuild that swaps', async () => {
    const events = await makeEvents(1200);
    const stream = await newStream('behind');
    const lastId = await publishEvents(js, stream, events.slice(0, 1000));
    const read = createInMemoryReadStore();
    {
      const s = createJetStreamSource({ nats: nc, stream, durable: 'behind' });
      const p = createProjector({ eventStore: s, readStore: read, projections: [countingInMemory('first')] });
      await p.start();
      await p.waitForPosition(1000, { timeoutMs: 20_000 });
      await p.stop();
      await s.close();
    }
    const s = source(stream, 'behind', { maxAckPending: 150 });
    const p = projector(
      createProjector({
        eventStore: s,
        readStore: read,
        projections: [countingInMemory('first'), countingInMemory('second')],
        batchSize: 100,
      }),
    );
    await p.start();
    // `second` starts at 0, below everything the durable acknowledged.
    await p.waitForPosition(1000, { timeoutMs: 20_000 });
    expect(inMemoryCounts(read.reader('second'))).toEqual({
      applied: 1000,
      repeated: 0,
      inOrder: true,
      sum: totalOf(events.slice(0, 1000)),
    });
    await publishEvents(js, stream, events.slice(1000, 1100), lastId);
    await p.waitForPosition(1100, { timeoutMs: 20_000 });
    const gen = (await read.load('first'))!.generation;
    await p.rebuild('first');
    expect((await read.load('first'))!.generation).toBeGreaterThan(gen);
    expect(inMemoryCounts(read.reader('first'))).toMatchObject({ applied: 1100, repeated: 0, inOrder: true });
    await publishEvents(js, stream, events.slice(1100), events[1099].id);
    await p.waitForPosition(1200, { timeoutMs: 20_000 });
    for (const name of ['first', 'second']) {
      expect(inMemoryCounts(read.reader(name))).toEqual({ applied: 1200, repeated: 0, inOrder: true, sum: totalOf(events) });
    }
    await vi.waitFor(async () => expect((await jsm.consumers.info(stream, 'behind')).ack_floor.stream_seq).toBe(1200));
  });

  it('reads any position from the stream, paging on with one reader, across deleted messages', async () => {
    const events = await makeEvents(1000);
    const stream = await newStream('pages');
    await publishEvents(js, stream, events);
    for (const seq of [2, 3, 300, 301, 302, 777]) await jsm.streams.deleteMessage(stream, seq);
    const kept = events.filter((e) => ![2, 3, 300, 301, 302, 777].includes(e.position));
    const s = source(stream, 'pages');
    // Settled by a read side that committed everything: every read is below the durable.
    s.settled(1000);
    const at = async (from: number, limit: number) => (await s.readAll({ from, limit })).map((e) => e.position);
    expect(await at(0, 3)).toEqual([1, 4, 5]);
    expect(await at(2, 2)).toEqual([4, 5]);
    expect(await at(299, 3)).toEqual([299, 303, 304]);
    expect(await at(776, 2)).toEqual([776, 778]);
    expect(await at(1000, 5)).toEqual([1000]);
    expect(await at(1001, 5)).toEqual([]);
    const paged: number[] = [];
    for (let from = 1; ; ) {
      const page = await s.readAll({ from, limit: 97 });
      if (page.length === 0) break;
      paged.push(...page.map((e) => e.position));
      from = page.at(-1)!.position + 1;
    }
    expect(paged).toEqual(kept.map((e) => e.position));
    // Ten pages in a row went through one ordered consumer (beside the durable and the ones left by the seeks above).
    const consumers = await jsm.consumers.list(stream).next();
    expect(consumers.length).toBeLessThanOrEqual(5);
    expect((await s.readAll({ from: 500, limit: 2, filter: { types: ['Added'] } })).map((e) => e.position)).toEqual([500, 501]);
    expect(await s.readAll({ from: 500, limit: 2, filter: { types: ['Nothing'] } })).toEqual([]);
  });

  it('skips a new durable ahead to where the read store already is, instead of redelivering everything', async () => {
    const events = await makeEvents(3100);
    const stream = await newStream('ahead');
    const lastId = await publishEvents(js, stream, events.slice(0, 3000));
    const read = createInMemoryReadStore();
    {
      const s = createJetStreamSource({ nats: nc, stream, durable: 'old' });
      const p = createProjector({ eventStore: s, readStore: read, projections: [countingInMemory('all')] });
      await p.start();
      await p.waitForPosition(3000, { timeoutMs: 20_000 });
      await p.stop();
      await s.close();
    }
    // Another durable name (renamed, or the old one lost) on the same read store.
    const s = source(stream, 'renamed', { maxAckPending: 100 });
    const p = projector(createProjector({ eventStore: s, readStore: read, projections: [countingInMemory('all')] }));
    await p.start();
    await vi.waitFor(() => expect(s.status().resets).toBe(1));
    expect(s.status().lastReset?.reason).toMatch(/settled through 3000, far past its deliveries/);
    expect((await jsm.consumers.info(stream, 'renamed')).config.opt_start_seq).toBe(3001);
    await publishEvents(js, stream, events.slice(3000), lastId);
    await p.waitForPosition(3100, { timeoutMs: 20_000 });
    expect(inMemoryCounts(read.reader('all'))).toEqual({ applied: 3100, repeated: 0, inOrder: true, sum: totalOf(events) });
    await vi.waitFor(async () => expect((await jsm.consumers.info(stream, 'renamed')).ack_floor.stream_seq).toBe(3100));
  });

  it('refuses to read where the stream lost its start, rather than skip what it no longer holds', async () => {
    const events = await makeEvents(300);
    const stream = await newStream('truncated');
    await publishEvents(js, stream, events);
    // Retention, a purge or a delete took the first 100.
    await jsm.streams.purge(stream, { seq: 101 });
    const read = createInMemoryReadStore();
    const s = source(stream, 'fresh');
    const p = projector(createProjector({ eventStore: s, readStore: read, projections: [countingInMemory('all')] }));
    await p.start();
    await vi.waitFor(async () => expect((await p.status())[0].state).toBe('failed'), { timeout: 10_000 });
    expect((await p.status())[0]).toMatchObject({
      position: 0,
      lastError: {
        code: 'NOT_FOUND',
        message: expect.stringMatching(/no longer holds the events from position 1: .* at position 101/),
      },
    });
    expect(read.reader('all').table('applied').size).toBe(0);
    // From where it still holds everything, reads go on.
    expect((await s.readAll({ from: 101, limit: 3 })).map((e) => e.position)).toEqual([101, 102, 103]);
    await expect(s.readAll({ from: 100, limit: 3 })).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('keeps to its filter subjects: the head is the last matching event, and a wait outside it ends with the next', async () => {
    const events = await makeEvents(1002, { orderEvery: 3 });
    const stream = await newStream('filter');
    // The last event published is an Added, outside the filter.
    const lastId = await publishEvents(js, stream, events.slice(0, 1001));
    const orders = events.slice(0, 1001).filter((e) => e.type === 'OrderPlaced');
    const read = createInMemoryReadStore();
    const s = source(stream, 'orders', { filterSubjects: [`${stream}.order.>`] });
    const p = projector(
      createProjector({
        eventStore: s,
        readStore: read,
        projections: [countingInMemory('orders'), countingInMemory('added', { types: ['Added'] })],
      }),
    );
    await p.start();
    const lastOrder = orders.at(-1)!.position;
    await p.waitForPosition(lastOrder, { timeoutMs: 20_000 });
    expect(await s.headPosition()).toBe(lastOrder);
    expect(inMemoryCounts(read.reader('orders'))).toEqual({
      applied: orders.length,
      repeated: 0,
      inOrder: true,
      sum: totalOf(orders),
    });
    // Nothing outside the filter is delivered.
    expect(read.reader('added').table('applied').size).toBe(0);
    await expect(p.waitForPosition(1001, { timeoutMs: 300 })).rejects.toMatchObject({ code: 'TIMEOUT' });
    const waiting = p.waitForPosition(1001, { timeoutMs: 20_000 });
    expect(events[1001].type).toBe('OrderPlaced');
    await publishEvents(js, stream, events.slice(1001), lastId);
    await waiting;
    expect(await s.headPosition()).toBe(1002);
  });
});
