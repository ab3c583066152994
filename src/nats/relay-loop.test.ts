import {
  createInMemoryEventStore,
  createInMemoryReadStore,
  type EventStore,
  type RelayCheckpoint,
  storeCheckpoint,
} from 'chronicle-es';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeRelayBroker } from './fixtures/fake-relay-broker.js';
import { RelayLoop, type RelayLoopOptions } from './relay-loop.js';
import type { RelayState } from './relay-status.js';

const loops: RelayLoop[] = [];
afterEach(async () => {
  await Promise.all(loops.splice(0).map((l) => l.stop()));
});

function relay(eventStore: EventStore, broker: FakeRelayBroker, over: Partial<RelayLoopOptions> = {}) {
  const loop = new RelayLoop({
    name: 'orders',
    stream: 'ORDERS',
    subjectPrefix: 'test',
    eventStore,
    broker,
    checkpoint: over.checkpoint ?? storeCheckpoint({ store: createInMemoryReadStore(), name: 'relay' }),
    batchSize: 10,
    maxInFlight: 4,
    retryDelayMs: { initial: 1, max: 5 },
    ...over,
  });
  loops.push(loop);
  return loop;
}

async function appendEvents(store: EventStore, n: number, type = 'Placed', category = 'order') {
  for (let i = 0; i < n; i++) await store.append(`${category}-${i % 3}`, [{ type, data: { i } }]);
}

async function until(what: () => boolean | Promise<boolean>, label: string) {
  for (let i = 0; i < 2000; i++) {
    if (await what()) return;
    await new Promise((r) => setTimeout(r, 2));
  }
  throw new Error(`timed out waiting for ${label}`);
}

// Every event of the log, once each and in order, is exactly what the stream holds.
async function expectExactlyOnce(store: EventStore, broker: FakeRelayBroker) {
  const all = await store.readAll();
  expect(broker.positions()).toEqual(all.map((e) => e.position));
  expect(broker.messages.map((m) => m.id)).toEqual(all.map((e) => e.id));
}

describe('RelayLoop', () => {
  it('publishes the log in order, then follows it live, reporting starting → catching_up → live', async () => {
    const store = createInMemoryEventStore();
    await appendEvents(store, 25);
    const broker = new FakeRelayBroker();
    broker.hold();
    const loop = relay(store, broker);
    const states: RelayState[] = [(await loop.status()).state];
    const started = loop.start();
    states.push((await loop.status()).state);
    await started;
    await until(() => broker.attempts.length > 0, 'a publish');
    states.push((await loop.status()).state);
    broker.release();
    await until(async () => (await loop.status()).position === 25, 'the head');
    states.push((await loop.status()).state);
    expect(states).toEqual(['stopped', 'starting', 'catching_up', 'live']);
    // The first publish into the empty stream expects sequence 0, each later one its predecessor's id.
    expect(broker.attempts[0]).toEqual({ id: broker.messages[0].id, lastSequence: 0 });
    expect(broker.attempts[1]).toEqual({ id: broker.messages[1].id, lastId: broker.messages[0].id });
    await appendEvents(store, 5);
    await until(async () => (await loop.status()).position === 30, 'live events');
    await expectExactlyOnce(store, broker);
    expect(await loop.status()).toMatchObject({ state: 'live', head: 30, lagEvents: 0, lagSeconds: 0, published: 30 });
    await loop.stop();
    expect((await loop.status()).state).toBe('stopped');
  });

  it('loses one publish of a pipelined batch: every later one is refused, it resyncs, and nothing is missing or twice', async () => {
    const store = createInMemoryEventStore();
    await appendEvents(store, 40);
    const broker = new FakeRelayBroker();
    broker.losePublish(6);
    const loop = relay(store, broker);
    await loop.start();
    await until(async () => (await loop.status()).position === 40, 'the head');
    await expectExactlyOnce(store, broker);
    // Three in flight after the lost one were refused, not stored out of order; the relay synced again.
    expect(broker.syncs).toBe(2);
    expect(broker.attempts.length).toBeGreaterThan(40);
    const status = await loop.status();
    expect(status.lastError?.code).toBe('STORE_ERROR');
    expect(status.state).toBe('live');
  });

  it('resumes where the stream ends after a restart, with a new relay object, without repeating an event', async () => {
    const store = createInMemoryEventStore();
    const checkpoint = storeCheckpoint({ store: createInMemoryReadStore(), name: 'relay' });
    await appendEvents(store, 12);
    const broker = new FakeRelayBroker();
    const first = relay(store, broker, { checkpoint });
    await first.start();
    await until(async () => (await first.status()).position === 12, 'the head');
    await first.stop();
    await first.stop();
    await appendEvents(store, 8);
    const second = relay(store, broker, { checkpoint });
    await second.start();
    await until(async () => (await second.status()).position === 20, 'the new head');
    await expectExactlyOnce(store, broker);
    // It went on from the stream's last sequence, and never tried an event the stream held.
    expect(broker.attempts.filter((a) => a.lastSequence !== undefined)).toEqual([
      { id: broker.messages[0].id, lastSequence: 0 },
      { id: broker.messages[12].id, lastSequence: 12 },
    ]);
    expect(broker.attempts).toHaveLength(20);
  });

  it('carries on after the broker when the checkpoint is behind it (a crash between ack and save), and saves it', async () => {
    const store = createInMemoryEventStore();
    await appendEvents(store, 10);
    const broker = new FakeRelayBroker();
    const stale: RelayCheckpoint & { value: number } = {
      value: 0,
      async load() {
        return this.value;
      },
      async save(p) {
        this.value = p;
      },
    };
    const first = relay(store, broker, { checkpoint: { load: async () => 0, save: async () => {} } });
    await first.start();
    await until(async () => (await first.status()).position === 10, 'the head');
    await first.stop();
    await appendEvents(store, 2);
    const second = relay(store, broker, { checkpoint: stale });
    await second.start();
    await until(async () => (await second.status()).position === 12, 'the new head');
    await expectExactlyOnce(store, broker);
    expect(stale.value).toBe(12);
  });

  it('resumes after its checkpoint when the stream no longer holds its last message (retention removed it)', async () => {
    const store = createInMemoryEventStore();
    const checkpoint = storeCheckpoint({ store: createInMemoryReadStore(), name: 'relay' });
    await appendEvents(store, 6);
    const broker = new FakeRelayBroker();
    const first = relay(store, broker, { checkpoint });
    await first.start();
    await until(async () => (await first.status()).position === 6, 'the head');
    await first.stop();
    broker.tailRemoved = true;
    await appendEvents(store, 3);
    const second = relay(store, broker, { checkpoint });
    await second.start();
    await until(async () => (await second.status()).position === 9, 'the new head');
    await expectExactlyOnce(store, broker);
  });

  it('republishes what the stream lost when it ends behind the checkpoint (a host crash before its fsync), saying so', async () => {
    const store = createInMemoryEventStore();
    const checkpoint = storeCheckpoint({ store: createInMemoryReadStore(), name: 'relay' });
    await appendEvents(store, 10);
    const broker = new FakeRelayBroker();
    const first = relay(store, broker, { checkpoint });
    await first.start();
    await until(async () => (await first.status()).position === 10, 'the head');
    await first.stop();
    broker.truncate(4);
    expect(await checkpoint.load()).toBe(10);
    const second = relay(store, broker, { checkpoint });
    await second.start();
    await until(() => broker.messages.length === 10, 'the lost messages published again');
    await expectExactlyOnce(store, broker);
    // It went on from the stream's end, expecting the sequence it ends at, and told why.
    expect(broker.attempts.slice(10)).toHaveLength(4);
    expect(broker.attempts[10]).toEqual({ id: broker.messages[6].id, lastSequence: 6 });
    const status = await second.status();
    expect(status).toMatchObject({ state: 'live', position: 10, published: 4, lastError: { code: 'STORE_ERROR' } });
    expect(status.lastError?.message).toMatch(/ends at position 6.*checkpoint is at 10.*position 7.*lost/);
  });

  it('with a filter, goes on after the checkpoint when what follows the stream end was only dropped by the filter', async () => {
    const store = createInMemoryEventStore();
    const checkpoint = storeCheckpoint({ store: createInMemoryReadStore(), name: 'relay' });
    await appendEvents(store, 4, 'Placed', 'order');
    await appendEvents(store, 6, 'Moved', 'stock');
    const broker = new FakeRelayBroker();
    const options = { checkpoint, filter: { categories: ['order'] } };
    const first = relay(store, broker, options);
    await first.start();
    await until(async () => (await first.status()).position === 10, 'the head');
    await first.stop();
    expect(await checkpoint.load()).toBe(10);
    await appendEvents(store, 2, 'Shipped', 'order');
    const second = relay(store, broker, options);
    await second.start();
    await until(async () => (await second.status()).position === 12, 'the new head');
    const orders = (await store.readAll()).filter((e) => e.streamId.startsWith('order-'));
    expect(broker.positions()).toEqual(orders.map((e) => e.position));
    expect(broker.attempts).toHaveLength(6);
    expect((await second.status()).lastError).toBeUndefined();
  });

  it('with a filter, republishes only the lost events that pass it when the stream ends behind the checkpoint', async () => {
    const store = createInMemoryEventStore();
    const checkpoint = storeCheckpoint({ store: createInMemoryReadStore(), name: 'relay' });
    await appendEvents(store, 4, 'Placed', 'order');
    await appendEvents(store, 3, 'Moved', 'stock');
    await appendEvents(store, 3, 'Shipped', 'order');
    await appendEvents(store, 3, 'Moved', 'stock');
    const broker = new FakeRelayBroker();
    const options = { checkpoint, filter: { categories: ['order'] } };
    const first = relay(store, broker, options);
    await first.start();
    await until(async () => (await first.status()).position === 13, 'the head');
    await first.stop();
    // The stream now ends with the fourth order event (position 4), the three Shipped ones lost.
    broker.truncate(3);
    const second = relay(store, broker, options);
    await second.start();
    await until(() => broker.messages.length === 7, 'the lost order events published again');
    const orders = (await store.readAll()).filter((e) => e.streamId.startsWith('order-'));
    expect(broker.positions()).toEqual(orders.map((e) => e.position));
    expect(broker.messages.map((m) => m.id)).toEqual(orders.map((e) => e.id));
    await until(async () => (await second.status()).position === 13, 'the head again');
    expect(await second.status()).toMatchObject({ published: 3, lastError: { message: /lost/ } });
  });

  it('publishes only what passes the filter, its checkpoint moving past what the filter drops', async () => {
    const store = createInMemoryEventStore();
    await appendEvents(store, 6, 'Placed', 'order');
    await appendEvents(store, 6, 'Moved', 'stock');
    await appendEvents(store, 3, 'Shipped', 'order');
    const broker = new FakeRelayBroker();
    const loop = relay(store, broker, { filter: { categories: ['order'] } });
    await loop.start();
    await until(async () => (await loop.status()).position === 15, 'the head');
    const orders = (await store.readAll()).filter((e) => e.streamId.startsWith('order-'));
    expect(broker.positions()).toEqual(orders.map((e) => e.position));
    expect(await loop.status()).toMatchObject({ state: 'live', lagEvents: 0, published: 9 });
  });

  it('mends a server that forgot its last message id (a restart past the duplicate window) by resyncing', async () => {
    const store = createInMemoryEventStore();
    await appendEvents(store, 5);
    const broker = new FakeRelayBroker();
    const loop = relay(store, broker);
    await loop.start();
    await until(async () => (await loop.status()).position === 5, 'the head');
    broker.lastMsgId = '';
    await appendEvents(store, 5);
    await until(async () => (await loop.status()).position === 10, 'the new head');
    await expectExactlyOnce(store, broker);
    expect((await loop.status()).lastError?.message).toMatch(/wrong last msg ID/);
  });

  it('retries while NATS does not answer: start resolves, the state is reconnecting, then it recovers', async () => {
    const store = createInMemoryEventStore();
    // Events written ten minutes ago, the oldest first: the lag in seconds is at least their age.
    const written = Date.now() - 600_000;
    for (let i = 0; i < 3; i++) {
      const timestamp = new Date(written + i * 1000).toISOString();
      await store.append(`order-${i}`, [{ type: 'Placed', data: { i }, metadata: { timestamp } }]);
    }
    const broker = new FakeRelayBroker();
    broker.failSyncs(3);
    const loop = relay(store, broker, { retryDelayMs: { initial: 20, max: 40 } });
    await loop.start();
    const during = await loop.status();
    expect(during.state).toBe('reconnecting');
    expect(during.lastError).toMatchObject({ code: 'STORE_ERROR' });
    expect(during.lagEvents).toBe(3);
    expect(during.lagSeconds).toBeGreaterThanOrEqual(600);
    expect(during.lagSeconds).toBeLessThan(3600);
    await until(async () => (await loop.status()).position === 3, 'the head');
    expect(broker.syncs).toBe(4);
    expect(await loop.status()).toMatchObject({ state: 'live', lagEvents: 0, lagSeconds: 0 });
  });

  it('fails on a stream whose last message no relay published: start rejects, status says why', async () => {
    const store = createInMemoryEventStore();
    await appendEvents(store, 2);
    const broker = new FakeRelayBroker();
    broker.appendForeign('test.order.Placed');
    const loop = relay(store, broker);
    await expect(loop.start()).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: /no Chronicle-Position/ });
    const status = await loop.status();
    expect(status.state).toBe('failed');
    expect(status.lastError?.message).toMatch(/ORDERS/);
    expect(broker.attempts).toHaveLength(0);
    await loop.stop();
    expect((await loop.status()).state).toBe('stopped');
  });

  it('fails on a stream fed from another event store (its last event is not the one at that position)', async () => {
    const store = createInMemoryEventStore();
    const other = createInMemoryEventStore();
    await appendEvents(store, 4);
    await appendEvents(other, 4);
    const broker = new FakeRelayBroker();
    const feeder = relay(other, broker);
    await feeder.start();
    await until(async () => (await feeder.status()).position === 4, 'the other head');
    await feeder.stop();
    const loop = relay(store, broker);
    await expect(loop.start()).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: /another event store/ });
  });

  it('waits, reporting it, while the stream is ahead of the event store, and goes on once the store gets there', async () => {
    const store = createInMemoryEventStore();
    const ahead = createInMemoryEventStore();
    await appendEvents(ahead, 3);
    const broker = new FakeRelayBroker();
    const feeder = relay(ahead, broker);
    await feeder.start();
    await until(async () => (await feeder.status()).position === 3, 'the other head');
    await feeder.stop();
    const loop = relay(store, broker);
    await loop.start();
    expect(await loop.status()).toMatchObject({
      state: 'reconnecting',
      lastError: { message: /past what the event store holds/ },
    });
    // The same events (same ids) reach this store: it is the one the stream was fed from, and the relay goes on.
    for (const e of await ahead.readAll()) {
      await store.append(e.streamId, [{ id: e.id, type: e.type, data: e.data }]);
    }
    await appendEvents(store, 2);
    await until(async () => (await loop.status()).position === 5, 'the head');
    await expectExactlyOnce(store, broker);
  });

  it('stops cleanly mid-batch: the acks in flight land, the checkpoint is saved, no publish follows', async () => {
    const store = createInMemoryEventStore();
    const checkpoint = storeCheckpoint({ store: createInMemoryReadStore(), name: 'relay' });
    await appendEvents(store, 30);
    const broker = new FakeRelayBroker();
    broker.hold();
    const loop = relay(store, broker, { checkpoint });
    await loop.start();
    await until(() => broker.attempts.length === 4, 'a full window');
    const stopping = loop.stop();
    broker.release();
    await stopping;
    await stopping;
    expect(broker.attempts).toHaveLength(4);
    expect(await checkpoint.load()).toBe(broker.messages[3].position);
    expect((await loop.status()).state).toBe('stopped');
    await loop.stop();
  });

  it('start() while stop() is in progress waits for the stop, then starts again and goes on from where it stopped', async () => {
    const store = createInMemoryEventStore();
    await appendEvents(store, 30);
    const broker = new FakeRelayBroker();
    broker.hold();
    const loop = relay(store, broker);
    await loop.start();
    await until(() => broker.attempts.length === 4, 'a full window');
    const stopping = loop.stop();
    const restarting = loop.start();
    broker.release();
    await stopping;
    await restarting;
    await until(async () => (await loop.status()).position === 30, 'the head after the restart');
    await expectExactlyOnce(store, broker);
    expect(await loop.status()).toMatchObject({ state: 'live' });
    // The restart found where the stream ends again, as any start does.
    expect(broker.syncs).toBe(2);
  });

  it('stop() after a start() that waits for an earlier stop wins: the relay ends stopped, and every call settles', async () => {
    const store = createInMemoryEventStore();
    await appendEvents(store, 30);
    const broker = new FakeRelayBroker();
    broker.hold();
    const loop = relay(store, broker);
    await loop.start();
    await until(() => broker.attempts.length === 4, 'a full window');
    const first = loop.stop();
    const restarting = loop.start();
    const second = loop.stop();
    broker.release();
    await Promise.all([first, restarting, second]);
    expect((await loop.status()).state).toBe('stopped');
    expect(broker.syncs).toBe(1);
    expect(broker.attempts).toHaveLength(4);
  });

  it('fails with CLOSED when the NATS connection is closed for good', async () => {
    const store = createInMemoryEventStore();
    await appendEvents(store, 2);
    const broker = new FakeRelayBroker();
    broker.isClosed = true;
    broker.failSyncs(1);
    const loop = relay(store, broker);
    await expect(loop.start()).rejects.toMatchObject({ code: 'CLOSED' });
    expect((await loop.status()).state).toBe('failed');
  });

  it('two relays on one stream: each event once, in order', async () => {
    const store = createInMemoryEventStore();
    await appendEvents(store, 50);
    const broker = new FakeRelayBroker();
    const a = relay(store, broker);
    const b = relay(store, broker);
    await Promise.all([a.start(), b.start()]);
    await appendEvents(store, 50);
    await until(async () => (await a.status()).position === 100 && (await b.status()).position === 100, 'both at the head');
    await expectExactlyOnce(store, broker);
  });
});
