// The relay's checkpoint in the event store's own database: a PostgreSQL read store on the event store's database and
// schema, one pool each, written by the relay as it goes; a restart of the relay with new objects resumes from it.

import type { NatsConnection } from '@nats-io/nats-core';
import { storeCheckpoint } from 'chronicle-es';
import { createJetStreamRelay, type JetStreamRelay } from 'chronicle-es/nats';
import { createPostgresEventStore, createPostgresReadStore } from 'chronicle-es/postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deleteStreams, expectExactlyOnce, freshNames, streamMessages, until } from './nats-relay-kit.js';
import { connectNats, natsAvailable } from './support/nats.js';
import { type FreshSchema, freshSchema, pgAvailable } from './support/postgres.js';

let nc: NatsConnection;
const streams: string[] = [];
const schemas: FreshSchema[] = [];

beforeAll(async () => {
  if (natsAvailable) nc = await connectNats();
});
afterAll(async () => {
  if (nc) {
    await deleteStreams(nc, streams);
    await nc.close();
  }
  await Promise.all(schemas.map((s) => s.drop()));
});

describe.skipIf(!natsAvailable || !pgAvailable)('a relay checkpoint in the PostgreSQL event store database', () => {
  it('is saved beside the events, in their schema, and a new relay resumes from it', async () => {
    const fresh = freshSchema('relay_ckpt');
    schemas.push(fresh);
    const { stream, prefix } = freshNames('pg');
    streams.push(stream);
    const open = () => {
      const events = createPostgresEventStore({ connectionString: fresh.connectionString, schema: fresh.schema, poolSize: 3 });
      const read = createPostgresReadStore({ connectionString: fresh.connectionString, schema: fresh.schema, poolSize: 2 });
      const relay = createJetStreamRelay({
        eventStore: events,
        nats: nc,
        stream,
        subjectPrefix: prefix,
        checkpoint: storeCheckpoint({ store: read, name: 'relay_orders' }),
        batchSize: 100,
      });
      return { events, read, relay };
    };
    const append = async (store: ReturnType<typeof open>['events'], n: number) => {
      for (let i = 0; i < n; i += 50) {
        await store.appendMany(
          Array.from({ length: 50 }, (_, s) => ({
            streamId: `order-${i + s}`,
            events: [{ type: 'Placed', data: { i: i + s } }],
          })),
        );
      }
    };
    const reaches = (relay: JetStreamRelay, p: number) =>
      until(async () => (await relay.status()).position >= p, `position ${p}`);

    const first = open();
    await append(first.events, 400);
    await first.relay.start();
    await reaches(first.relay, 400);
    await first.relay.stop();
    // The record sits in the event store's schema, next to its tables.
    expect(await first.read.load('relay_orders')).toMatchObject({ name: 'relay_orders', generation: 1, position: 400 });
    await append(first.events, 200);
    await first.read.close();
    await first.events.close();

    const second = open();
    try {
      await second.relay.start();
      await reaches(second.relay, 600);
      const counts = expectExactlyOnce(await streamMessages(nc, stream), await second.events.readAll());
      expect(counts).toEqual({ messages: 600, distinctIds: 600, events: 600 });
      expect((await second.relay.status()).published).toBe(200);
      await second.relay.stop();
      expect(await second.read.load('relay_orders')).toMatchObject({ position: 600 });
    } finally {
      await second.relay.stop();
      await second.read.close();
      await second.events.close();
    }
  });
});
