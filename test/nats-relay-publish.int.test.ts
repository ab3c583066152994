// The relay against the real NATS server: the stream it creates or refuses, what it publishes, and restarts of the
// relay that must neither repeat nor skip an event.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstream, jetstreamManager, RetentionPolicy, StorageType } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { createInMemoryReadStore, type EventStore, type RelayCheckpoint, storeCheckpoint } from 'chronicle-es';
import {
  createJetStreamRelay,
  decodeEvent,
  EventHeaders,
  type JetStreamRelay,
  type JetStreamRelayOptions,
  jetStreamKvCheckpoint,
  subjectOf,
} from 'chronicle-es/nats';
import { createSqliteCheckpoint, createSqliteEventStore, createSqliteReadStore } from 'chronicle-es/sqlite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deleteStreams, expectExactlyOnce, freshNames, streamMessages, until } from './nats-relay-kit.js';
import { connectNats, natsAvailable } from './support/nats.js';

const dir = mkdtempSync(join(tmpdir(), 'chronicle-relay-'));
let nc: NatsConnection;
const streams: string[] = [];
const relays: JetStreamRelay[] = [];
const stores: EventStore[] = [];

beforeAll(async () => {
  if (natsAvailable) nc = await connectNats();
});
afterAll(async () => {
  await Promise.all(relays.map((r) => r.stop()));
  await Promise.all(stores.map((s) => s.close()));
  if (nc) {
    await deleteStreams(nc, streams);
    await nc.close();
  }
  rmSync(dir, { recursive: true, force: true });
});

let files = 0;
function eventStore(): EventStore {
  const store = createSqliteEventStore({ path: join(dir, `events-${++files}.db`) });
  stores.push(store);
  return store;
}

function names(label: string) {
  const fresh = freshNames(label);
  streams.push(fresh.stream);
  return fresh;
}

const memoryCheckpoint = (): RelayCheckpoint => storeCheckpoint({ store: createInMemoryReadStore(), name: 'relay' });

function relay(options: Omit<JetStreamRelayOptions, 'nats' | 'checkpoint'> & Partial<JetStreamRelayOptions>) {
  const r = createJetStreamRelay({ nats: nc, checkpoint: memoryCheckpoint(), ...options });
  relays.push(r);
  return r;
}

// `n` events over three categories and two types, each with correlation and causation ids.
async function appendEvents(store: EventStore, n: number, from = 0) {
  const perBatch = 100;
  for (let done = 0; done < n; done += perBatch) {
    const writes = Array.from({ length: Math.min(perBatch, n - done) }, (_, i) => {
      const k = from + done + i;
      const category = ['order', 'stock', 'customer'][k % 3];
      return {
        streamId: `${category}-${k}`,
        events: [
          {
            type: k % 2 === 0 ? 'Placed' : 'Changed',
            data: { k },
            metadata: { correlationId: `corr-${k}`, causationId: `cause-${k}` },
          },
        ],
      };
    });
    await store.appendMany(writes);
  }
}

const reaches = (r: JetStreamRelay, position: number) =>
  until(async () => (await r.status()).position >= position, `position ${position}`);

describe.skipIf(!natsAvailable)('JetStream relay', () => {
  it('creates the stream and publishes every event in order, with its subject, headers and body', async () => {
    const store = eventStore();
    await appendEvents(store, 2000);
    const { stream, prefix } = names('all');
    const r = relay({ eventStore: store, stream, subjectPrefix: prefix, batchSize: 300, maxInFlight: 64 });
    await r.start();
    await reaches(r, 2000);
    const events = await store.readAll();
    const messages = await streamMessages(nc, stream);
    expect(expectExactlyOnce(messages, events)).toEqual({ messages: 2000, distinctIds: 2000, events: 2000 });
    for (const i of [0, 1, 999, 1999]) {
      const [m, e] = [messages[i], events[i]];
      expect(m.subject).toBe(subjectOf(prefix, e));
      expect(m.headers?.get(EventHeaders.streamId)).toBe(e.streamId);
      expect(m.headers?.get(EventHeaders.version)).toBe(String(e.version));
      expect(m.headers?.get(EventHeaders.type)).toBe(e.type);
      expect(m.headers?.get(EventHeaders.correlationId)).toBe(`corr-${i}`);
      expect(m.headers?.get(EventHeaders.causationId)).toBe(`cause-${i}`);
      expect(m.headers?.get(EventHeaders.schemaVersion)).toBe('1');
      expect(decodeEvent(m.data, { subject: m.subject, seq: m.seq })).toEqual(e);
    }
    const info = await (await jetstreamManager(nc)).streams.info(stream);
    expect(info.config).toMatchObject({
      subjects: [`${prefix}.>`],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
    });
    expect(await r.status()).toMatchObject({
      name: stream,
      state: 'live',
      position: 2000,
      head: 2000,
      lagEvents: 0,
      lagSeconds: 0,
      published: 2000,
      streamSequence: 2000,
    });
    // Live: new events go out promptly, without a restart.
    await appendEvents(store, 10, 2000);
    await reaches(r, 2010);
    expect((await streamMessages(nc, stream)).length).toBe(2010);
  });

  it('restarts (stop/start mid-run, then a new relay object) with no duplicate and no gap', async () => {
    const store = eventStore();
    await appendEvents(store, 3000);
    const { stream, prefix } = names('restart');
    const checkpoint = memoryCheckpoint();
    const first = relay({ eventStore: store, stream, subjectPrefix: prefix, checkpoint, batchSize: 200, maxInFlight: 50 });
    await first.start();
    await until(async () => (await first.status()).position > 0, 'some progress');
    await first.stop();
    const stoppedAt = (await first.status()).position;
    await first.stop();
    await appendEvents(store, 500, 3000);
    await first.start();
    await until(async () => (await first.status()).position > stoppedAt, 'more progress');
    await first.stop();
    await appendEvents(store, 500, 3500);
    // A new object with a fresh checkpoint: the stream alone says where to go on.
    const second = relay({ eventStore: store, stream, subjectPrefix: prefix });
    await second.start();
    await reaches(second, 4000);
    const counts = expectExactlyOnce(await streamMessages(nc, stream), await store.readAll());
    expect(counts).toEqual({ messages: 4000, distinctIds: 4000, events: 4000 });
    // The first stop fell mid-run: it saved what the broker had acknowledged.
    expect(stoppedAt).toBeLessThan(3000);
    expect(await checkpoint.load()).toBeGreaterThan(stoppedAt);
    expect((await second.status()).published).toBe(4000 - (await checkpoint.load()));
  });

  it('resumes (a new relay object, no checkpoint) after the stream it last published was tombstoned in the store', async () => {
    const store = createSqliteEventStore({ path: join(dir, `events-${++files}.db`) });
    stores.push(store);
    await appendEvents(store, 20);
    await store.append('gone-1', [{ type: 'Placed', data: { k: -1 } }]);
    const { stream, prefix } = names('tombstoned');
    const first = relay({ eventStore: store, stream, subjectPrefix: prefix });
    await first.start();
    await reaches(first, 21);
    await first.stop();
    // The stream's last message is an event the log no longer holds: its position is a gap now.
    await store.lifecycle.tombstone('gone-1');
    await appendEvents(store, 5, 100);
    const second = relay({ eventStore: store, stream, subjectPrefix: prefix });
    await second.start();
    await reaches(second, 26);
    const messages = await streamMessages(nc, stream);
    expect(messages.map((m) => m.position)).toEqual(Array.from({ length: 26 }, (_, i) => i + 1));
    expect((await second.status()).lastError).toBeUndefined();
  });

  it('starts again when start() is called while stop() is in progress, going on with no duplicate and no gap', async () => {
    const store = eventStore();
    await appendEvents(store, 2000);
    const { stream, prefix } = names('stopstart');
    const r = relay({ eventStore: store, stream, subjectPrefix: prefix, batchSize: 100, maxInFlight: 20 });
    await r.start();
    await until(async () => (await r.status()).position > 0, 'some progress');
    const stopping = r.stop();
    const restarting = r.start();
    await stopping;
    await restarting;
    await appendEvents(store, 100, 2000);
    await reaches(r, 2100);
    expect((await r.status()).state).toBe('live');
    expectExactlyOnce(await streamMessages(nc, stream), await store.readAll());
  });

  it('publishes only what passes the filter, and saves a checkpoint past what it drops', async () => {
    const store = eventStore();
    await appendEvents(store, 600);
    const { stream, prefix } = names('filter');
    const checkpoint = memoryCheckpoint();
    const r = relay({
      eventStore: store,
      stream,
      subjectPrefix: prefix,
      checkpoint,
      filter: { categories: ['order'], types: ['Placed'] },
    });
    await r.start();
    await reaches(r, 600);
    const wanted = (await store.readAll()).filter((e) => e.streamId.startsWith('order-') && e.type === 'Placed');
    expect(wanted.length).toBe(100);
    expectExactlyOnce(await streamMessages(nc, stream), wanted);
    expect(await checkpoint.load()).toBe(600);
    await r.stop();
    // A restart goes on from the checkpoint, past the stream's last message (a dropped event followed it).
    await appendEvents(store, 6, 600);
    await r.start();
    await reaches(r, 606);
    const more = (await store.readAll()).filter((e) => e.streamId.startsWith('order-') && e.type === 'Placed');
    expectExactlyOnce(await streamMessages(nc, stream), more);
  });

  it('refuses a stream whose last message another publisher sent, and says so in status', async () => {
    const store = eventStore();
    await appendEvents(store, 5);
    const { stream, prefix } = names('foreign');
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: stream, subjects: [`${prefix}.>`] });
    await jetstream(nc).publish(`${prefix}.order.Placed`, 'not an event');
    const r = relay({ eventStore: store, stream, subjectPrefix: prefix });
    const error = await r.start().then(
      () => undefined,
      (err) => err,
    );
    expect(error).toMatchObject({ name: 'ChronicleError', code: 'INVALID_ARGUMENT' });
    expect(error.message).toContain(stream);
    expect(error.message).toContain('no Chronicle-Position');
    expect(await r.status()).toMatchObject({ state: 'failed', lastError: { code: 'INVALID_ARGUMENT' } });
    expect((await jsm.streams.info(stream)).state.messages).toBe(1);
  });

  it('refuses an existing stream whose subjects do not cover the prefix, naming stream, subjects and prefix, unchanged', async () => {
    const store = eventStore();
    await appendEvents(store, 5);
    const { stream, prefix } = names('cover');
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: stream, subjects: [`${prefix}.order.*`] });
    const r = relay({ eventStore: store, stream, subjectPrefix: prefix });
    const error = await r.start().then(
      () => undefined,
      (err) => err,
    );
    expect(error).toMatchObject({
      code: 'INVALID_ARGUMENT',
      details: { stream, subjects: [`${prefix}.order.*`], subjectPrefix: prefix },
    });
    expect(error.message).toContain(stream);
    expect(error.message).toContain(`${prefix}.order.*`);
    expect((await r.status()).state).toBe('failed');
    const info = await jsm.streams.info(stream);
    expect(info.config.subjects).toEqual([`${prefix}.order.*`]);
    expect(info.state.messages).toBe(0);
  });

  it("fails when JetStream refuses the stream's configuration: subjects overlapping another stream's, replicas on one server", async () => {
    const store = eventStore();
    await appendEvents(store, 3);
    const { stream, prefix } = names('overlap');
    const other = names('overlapped').stream;
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: other, subjects: [`${prefix}.order.>`] });
    const overlapping = relay({ eventStore: store, stream, subjectPrefix: prefix });
    await expect(overlapping.start()).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringMatching(/refused to create stream .*subjects overlap/),
      details: { stream, jetStreamCode: 10065 },
    });
    expect((await overlapping.status()).state).toBe('failed');

    const replicated = names('replicas');
    const r = relay({ eventStore: store, stream: { name: replicated.stream, replicas: 3 }, subjectPrefix: replicated.prefix });
    await expect(r.start()).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringContaining('replicas > 1 not supported'),
      details: { jetStreamCode: 10074 },
    });
    expect((await r.status()).lastError).toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it('uses an existing stream whose subjects cover the prefix as it is', async () => {
    const store = eventStore();
    await appendEvents(store, 30);
    const { stream, prefix } = names('wide');
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: stream, subjects: [`${prefix}.*.*`], max_msgs: 1000 });
    const r = relay({ eventStore: store, stream: { name: stream, maxMsgs: 5 }, subjectPrefix: prefix });
    await r.start();
    await reaches(r, 30);
    const info = await jsm.streams.info(stream);
    expect(info.config).toMatchObject({ subjects: [`${prefix}.*.*`], max_msgs: 1000 });
    expectExactlyOnce(await streamMessages(nc, stream), await store.readAll());
  });

  it.each([
    ['workqueue', 'memory'],
    ['interest', 'file'],
  ] as const)('creates the stream with %s retention and the given settings (%s storage)', async (retention, storage) => {
    const store = eventStore();
    await appendEvents(store, 50);
    const { stream, prefix } = names(retention);
    const r = relay({
      eventStore: store,
      stream: {
        name: stream,
        retention,
        storage,
        maxAgeMs: 3_600_000,
        maxMsgs: 10_000,
        maxBytes: 10_000_000,
        duplicateWindowMs: 30_000,
      },
      subjectPrefix: prefix,
    });
    await r.start();
    await reaches(r, 50);
    const info = await (await jetstreamManager(nc)).streams.info(stream);
    expect(info.config).toMatchObject({
      subjects: [`${prefix}.>`],
      retention: retention === 'workqueue' ? RetentionPolicy.Workqueue : RetentionPolicy.Interest,
      storage: storage === 'memory' ? StorageType.Memory : StorageType.File,
      max_age: 3_600_000 * 1_000_000,
      max_msgs: 10_000,
      max_bytes: 10_000_000,
      duplicate_window: 30_000 * 1_000_000,
    });
    expect(info.state.last_seq).toBe(50);
    // Interest retention with no consumer keeps nothing; a work queue keeps all until consumed.
    expect(info.state.messages).toBe(retention === 'workqueue' ? 50 : 0);
    await r.stop();
    // Without the last message, a restart goes on from the checkpoint (the relay's own, kept in memory here).
    await appendEvents(store, 5, 50);
    await r.start();
    await reaches(r, 55);
    expect((await (await jetstreamManager(nc)).streams.info(stream)).state.last_seq).toBe(55);
  });

  it('keeps its checkpoint in a JetStream KV bucket, compare-and-set, and resumes from it', async () => {
    const store = eventStore();
    await appendEvents(store, 200);
    const { stream, prefix } = names('kv');
    const bucket = `${stream}_ckpt`;
    streams.push(`KV_${bucket}`);
    const checkpoint = jetStreamKvCheckpoint({ nats: nc, bucket, key: 'orders.relay' });
    expect(await checkpoint.load()).toBe(0);
    const r = relay({ eventStore: store, stream, subjectPrefix: prefix, checkpoint });
    await r.start();
    await reaches(r, 200);
    await r.stop();
    const other = jetStreamKvCheckpoint({ nats: nc, bucket, key: 'orders.relay' });
    expect(await other.load()).toBe(200);
    await other.save(150);
    expect(await other.load()).toBe(200);
    await checkpoint.save(250);
    // `other` last saw 200: its compare-and-set fails, it reads 250 and leaves it.
    await other.save(240);
    expect(await jetStreamKvCheckpoint({ nats: nc, bucket, key: 'orders.relay' }).load()).toBe(250);
    await expect(checkpoint.save(-1)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(() => jetStreamKvCheckpoint({ nats: nc, bucket: 'a.b', key: 'k' })).toThrow(/bucket/);
    expect(() => jetStreamKvCheckpoint({ nats: nc, bucket, key: '.k' })).toThrow(/key/);
  });

  it('keeps its checkpoint in a SQLite read store beside the event store', async () => {
    const store = eventStore();
    await appendEvents(store, 120);
    const { stream, prefix } = names('sqlite');
    const readStore = createSqliteReadStore({ path: join(dir, 'relay-read.db') });
    try {
      const r = relay({
        eventStore: store,
        stream,
        subjectPrefix: prefix,
        checkpoint: storeCheckpoint({ store: readStore, name: 'relay_orders' }),
      });
      await r.start();
      await reaches(r, 120);
      await r.stop();
      expect(await readStore.load('relay_orders')).toMatchObject({ generation: 1, position: 120 });
    } finally {
      await readStore.close();
    }
  });

  it("keeps its checkpoint in the SQLite event store's own file, while the event store goes on writing", async () => {
    const path = join(dir, 'own-file.db');
    const store = createSqliteEventStore({ path });
    stores.push(store);
    await appendEvents(store, 150);
    const { stream, prefix } = names('ownfile');
    const checkpoint = createSqliteCheckpoint({ path, name: 'relay-orders' });
    try {
      const r = relay({ eventStore: store, stream, subjectPrefix: prefix, checkpoint });
      await r.start();
      await reaches(r, 150);
      // Appends and checkpoint saves share the file: neither blocks the other.
      await appendEvents(store, 50);
      await reaches(r, 200);
      await r.stop();
      expect(await checkpoint.load()).toBe(200);
      // Never moved back, and kept across a reopen.
      await checkpoint.save(10);
      await checkpoint.close();
      const again = createSqliteCheckpoint({ path, name: 'relay-orders' });
      expect(await again.load()).toBe(200);
      const another = createSqliteCheckpoint({ path, name: 'another' });
      expect(await another.load()).toBe(0);
      await another.close();
      await again.close();
      await expect(again.load()).rejects.toMatchObject({ code: 'CLOSED' });
      expect((await store.readAll({ from: 1, limit: 1000 })).length).toBe(200);
    } finally {
      await checkpoint.close();
    }
  });

  it('runs two relays on one stream at once: each event exactly once, in order', async () => {
    const path = join(dir, 'two-relays.db');
    const writer = createSqliteEventStore({ path });
    stores.push(writer);
    await appendEvents(writer, 500);
    const { stream, prefix } = names('two');
    // Each with a store object and a NATS connection of its own, polling the file at its own pace (no in-process
    // wake-up from the writer), so either may reach a new event first: they leapfrog.
    const [storeA, storeB] = [createSqliteEventStore({ path }), createSqliteEventStore({ path })];
    stores.push(storeA, storeB);
    const other = await connectNats();
    const a = relay({
      eventStore: storeA,
      stream,
      subjectPrefix: prefix,
      name: 'a',
      batchSize: 40,
      maxInFlight: 10,
      pollIntervalMs: 7,
    });
    const b = relay({
      eventStore: storeB,
      nats: other,
      stream,
      subjectPrefix: prefix,
      name: 'b',
      batchSize: 40,
      maxInFlight: 10,
      pollIntervalMs: 11,
    });
    await Promise.all([a.start(), b.start()]);
    for (let k = 500; k < 3000; k += 25) {
      await appendEvents(writer, 25, k);
      await new Promise((resolve) => setTimeout(resolve, 3));
    }
    await Promise.all([reaches(a, 3000), reaches(b, 3000)]);
    const counts = expectExactlyOnce(await streamMessages(nc, stream), await writer.readAll());
    const [sa, sb] = [await a.status(), await b.status()];
    console.log(
      `two relays on one stream: ${counts.messages} messages, ${counts.distinctIds} distinct ids for ${counts.events} events; ` +
        `stored by a ${sa.published}, by b ${sb.published}; last refusals: a ${sa.lastError?.message ?? 'none'}, b ${sb.lastError?.message ?? 'none'}`,
    );
    expect(sa.published + sb.published).toBe(3000);
    await Promise.all([a.stop(), b.stop()]);
    await other.close();
  });

  it('creates the stream again when it is deleted under the running relay, going on from the checkpoint', async () => {
    const store = eventStore();
    await appendEvents(store, 40);
    const { stream, prefix } = names('deleted');
    const r = relay({ eventStore: store, stream, subjectPrefix: prefix, timeoutMs: 1000 });
    await r.start();
    await reaches(r, 40);
    await (await jetstreamManager(nc)).streams.delete(stream);
    await appendEvents(store, 7, 40);
    await reaches(r, 47);
    const messages = await streamMessages(nc, stream);
    expectExactlyOnce(messages, (await store.readAll()).slice(40));
    expect((await r.status()).lastError?.message).toMatch(/no responders/i);
  });

  it('fails, naming the event, on one too large for the server, after publishing everything before it', async () => {
    const store = eventStore();
    await appendEvents(store, 20);
    const big = await store.append('order-big', [{ type: 'Placed', data: { blob: 'x'.repeat(nc.info!.max_payload) } }]);
    await appendEvents(store, 5, 21);
    const { stream, prefix } = names('big');
    const r = relay({ eventStore: store, stream, subjectPrefix: prefix });
    await r.start();
    await until(async () => (await r.status()).state === 'failed', 'the failure');
    const status = await r.status();
    expect(status).toMatchObject({ position: 20, lastError: { code: 'INVALID_ARGUMENT' } });
    expect(status.lastError?.message).toContain(`position ${big.position}`);
    expect(status.lastError?.message).toContain('max_payload');
    expectExactlyOnce(await streamMessages(nc, stream), (await store.readAll()).slice(0, 20));
  });

  it('reports lag in events and seconds while stopped behind the head', async () => {
    const store = eventStore();
    await appendEvents(store, 10);
    const { stream, prefix } = names('lag');
    const r = relay({ eventStore: store, stream, subjectPrefix: prefix });
    await r.start();
    await reaches(r, 10);
    await r.stop();
    await appendEvents(store, 4, 10);
    await new Promise((resolve) => setTimeout(resolve, 30));
    const status = await r.status();
    expect(status).toMatchObject({ state: 'stopped', position: 10, head: 14, lagEvents: 4 });
    expect(status.lagSeconds).toBeGreaterThan(0);
  });
});
