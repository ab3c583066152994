// A JetStream stream that lost its newest acknowledged messages (a file store a host crash caught before its fsync, a
// restore from an older backup) while the relay's checkpoint is past them: the relay publishes them again instead of
// leaving a gap for good, says so in its status, and with a filter still trusts a checkpoint past filtered-out events.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { createInMemoryReadStore, type EventStore, type RelayCheckpoint, storeCheckpoint } from 'chronicle-es';
import { createJetStreamRelay, type JetStreamRelay, type JetStreamRelayOptions } from 'chronicle-es/nats';
import { createSqliteEventStore } from 'chronicle-es/sqlite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deleteStreams, expectExactlyOnce, freshNames, streamMessages, until } from './nats-relay-kit.js';
import { connectNats, natsAvailable } from './support/nats.js';

const dir = mkdtempSync(join(tmpdir(), 'chronicle-relay-lost-'));
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

function relay(options: Omit<JetStreamRelayOptions, 'nats'>) {
  const r = createJetStreamRelay({ nats: nc, ...options });
  relays.push(r);
  return r;
}

async function append(store: EventStore, category: string, n: number) {
  for (let i = 0; i < n; i++) await store.append(`${category}-${i % 3}`, [{ type: 'Happened', data: { i } }]);
}

// The stream as the broker has it after losing its newest messages: deleted, created again with the same settings,
// and given back its first `keep` messages as they were (subject, headers with Nats-Msg-Id, body).
async function loseNewest(stream: string, keep: number) {
  const jsm = await jetstreamManager(nc);
  const { config } = await jsm.streams.info(stream);
  const kept = (await streamMessages(nc, stream)).slice(0, keep);
  await jsm.streams.delete(stream);
  await jsm.streams.add(config);
  const js = jetstream(nc);
  for (const m of kept) await js.publish(m.subject, m.data, { headers: m.headers! });
  expect((await jsm.streams.info(stream)).state).toMatchObject({ messages: keep, last_seq: keep });
}

describe.skipIf(!natsAvailable)('JetStream relay, the stream behind its checkpoint', () => {
  it('publishes again what the broker lost after acknowledging it, and says so in status', async () => {
    const store = eventStore();
    await append(store, 'order', 30);
    const { stream, prefix } = freshNames('lost');
    streams.push(stream);
    const checkpoint: RelayCheckpoint = storeCheckpoint({ store: createInMemoryReadStore(), name: 'relay' });
    const first = relay({ eventStore: store, stream, subjectPrefix: prefix, checkpoint });
    await first.start();
    await until(async () => (await first.status()).position === 30, 'the head');
    await first.stop();
    await loseNewest(stream, 21);
    expect(await checkpoint.load()).toBe(30);

    const second = relay({ eventStore: store, stream, subjectPrefix: prefix, checkpoint });
    await second.start();
    await until(async () => (await streamMessages(nc, stream)).length === 30, 'the lost messages published again', 10_000);
    const counts = expectExactlyOnce(await streamMessages(nc, stream), await store.readAll());
    expect(counts).toEqual({ messages: 30, distinctIds: 30, events: 30 });
    const status = await second.status();
    expect(status).toMatchObject({ state: 'live', position: 30, published: 9, lastError: { code: 'STORE_ERROR' } });
    expect(status.lastError?.message).toMatch(/ends at position 21 \(sequence 21\) but the checkpoint is at 30/);
  });

  it('with a filter, goes on after a checkpoint past the stream end when only filtered-out events lie between', async () => {
    const store = eventStore();
    await append(store, 'order', 5);
    await append(store, 'stock', 5);
    const { stream, prefix } = freshNames('lostfilter');
    streams.push(stream);
    const checkpoint: RelayCheckpoint = storeCheckpoint({ store: createInMemoryReadStore(), name: 'relay' });
    const options = { eventStore: store, stream, subjectPrefix: prefix, checkpoint, filter: { categories: ['order'] } };
    const first = relay(options);
    await first.start();
    await until(async () => (await first.status()).position === 10, 'the head');
    await first.stop();
    expect(await checkpoint.load()).toBe(10);
    await append(store, 'order', 2);

    const second = relay(options);
    await second.start();
    await until(async () => (await second.status()).position === 12, 'the new head');
    const orders = (await store.readAll()).filter((e) => e.streamId.startsWith('order-'));
    expectExactlyOnce(await streamMessages(nc, stream), orders);
    expect(await second.status()).toMatchObject({ published: 2 });
    expect((await second.status()).lastError).toBeUndefined();
  });
});
