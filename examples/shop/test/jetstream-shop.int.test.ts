// createShop with JetStream, in process: what stops it at startup (NATS not answering, a stream that cannot take the
// relay, Redis where nothing fills it), a read node started before its relay, and the PostgreSQL wiring — the relay's
// checkpoint in the event store's own schema, a read node on a PostgreSQL read store of its own fed from the stream.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { createPostgresReadStore } from 'chronicle-es/postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deleteStreams } from '../../../test/nats-relay-kit.js';
import { connectNats, freePort, NATS_URL, natsAvailable } from '../../../test/support/nats.js';
import { type FreshSchema, freshSchema, pgAvailable } from '../../../test/support/postgres.js';
import { createShop } from '../app.js';
import { createShopAuth } from '../auth.js';
import { createShopServer } from '../server.js';
import { relayCheckpointName } from '../shop-relay.js';
import { eventually, freshJetStream } from './jetstream-kit.js';
import { settle } from './support.js';

const admin = { principal: { id: 'root', roles: ['admin'] } };
const KEY = 'jetstream-inproc-admin-key-0123:admin';
const dirs: string[] = [];
const streams: string[] = [];
const schemas: FreshSchema[] = [];
let nc: NatsConnection;

const dir = () => {
  const d = mkdtempSync(join(tmpdir(), 'shop-js-inproc-'));
  dirs.push(d);
  return d;
};
const fresh = (label: string) => {
  const names = freshJetStream(label);
  streams.push(names.stream);
  return { servers: [NATS_URL], stream: names.stream, subjectPrefix: names.subjects };
};

beforeAll(async () => {
  if (natsAvailable) nc = await connectNats();
});
afterAll(async () => {
  if (nc) {
    await deleteStreams(nc, streams);
    await nc.close();
  }
  await Promise.all(schemas.map((s) => s.drop()));
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe.skipIf(!natsAvailable)('createShop with JetStream: what stops it at startup', () => {
  it('NATS not answering: STORE_ERROR naming the server, and the event store is closed again', async () => {
    const port = await freePort();
    const dataDir = dir();
    const jetStream = { servers: [`nats://127.0.0.1:${port}`] };
    const failure = await createShop({ dataDir, jetStream }).catch((err) => err);
    expect(failure).toMatchObject({
      code: 'STORE_ERROR',
      message: expect.stringContaining(`cannot reach NATS at nats://127.0.0.1:${port}`),
    });
    // Nothing left holding the files: the same data dir opens at once without JetStream.
    const shop = await createShop({ dataDir });
    await shop.close();
  });

  it('a read node may start before its relay made the stream: not ready until the stream appears, then it serves', async () => {
    const jetStream = fresh('later');
    const reader = await createShop({ dataDir: dir(), role: 'read', jetStream, pollIntervalMs: 20 });
    const server = await createShopServer(reader, {
      authenticate: createShopAuth({ SHOP_API_KEYS: KEY }, { dataDir: dir() }).authenticate,
      logger: false,
    });
    let writer: Awaited<ReturnType<typeof createShop<'all'>>> | undefined;
    try {
      const waiting = await eventually('the read node notices there is no stream', 10_000, async () => {
        const res = await server.inject({ url: '/health/ready' });
        return res.json().checks?.jetstream?.error === 'NOT_FOUND' ? res : undefined;
      });
      expect(waiting.statusCode).toBe(503);
      expect(waiting.json().checks.jetstream).toMatchObject({ ok: false, state: 'retrying', stream: jetStream.stream });

      const all = await createShop({ dataDir: dir(), jetStream, pollIntervalMs: 20 });
      writer = all;
      const { position } = await all.commandBus.dispatch(
        'CreateProduct',
        { productId: 'late', sku: 'LATE', name: 'Late', priceCents: 1, currency: 'EUR' },
        admin,
      );
      const seen = await server.inject({
        url: `/queries/GetInventory?productId=late&minPosition=${position}`,
        headers: { 'x-api-key': KEY.split(':')[0] },
      });
      expect([seen.statusCode, seen.json()]).toEqual([
        200,
        { productId: 'late', onHand: 0, reserved: 0, available: 0, lowStock: null },
      ]);
      const ready = await eventually('the read node is ready', 10_000, async () => {
        const res = await server.inject({ url: '/health/ready' });
        return res.statusCode === 200 ? res : undefined;
      });
      expect(ready.json().checks.jetstream).toMatchObject({ ok: true, state: 'running', deliveredPosition: position });
    } finally {
      await server.close();
      await reader.close();
      await writer?.close();
    }
  });

  it('a stream whose subjects do not cover the prefix: INVALID_ARGUMENT, and the stream is left as it was', async () => {
    const jetStream = fresh('narrow');
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: jetStream.stream, subjects: [`${jetStream.subjectPrefix}.order.*`] });
    const failure = await createShop({ dataDir: dir(), jetStream }).catch((err) => err);
    expect(failure).toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('do not cover') });
    expect((await jsm.streams.info(jetStream.stream)).config.subjects).toEqual([`${jetStream.subjectPrefix}.order.*`]);
  });

  it('a Redis read store anywhere but a read node fed through JetStream', async () => {
    const redisReadStore = { url: 'redis://127.0.0.1:6379', prefix: 'never-used' };
    for (const options of [{ role: 'all' as const, jetStream: fresh('redisall') }, { role: 'read' as const }]) {
      await expect(createShop({ dataDir: dir(), redisReadStore, ...options })).rejects.toThrow(
        /a Redis read store is filled only by a read process fed through JetStream/,
      );
    }
  });
});

describe.skipIf(!natsAvailable || !pgAvailable)('createShop with JetStream on PostgreSQL', () => {
  it("relays with its checkpoint in the event store's schema; a read node on its own PostgreSQL store answers from the stream", async () => {
    const events = freshSchema('shop_js_events');
    const read = freshSchema('shop_js_read');
    schemas.push(events, read);
    const eventStore = { connectionString: events.connectionString, schema: events.schema, poolSize: 3 };
    const readStore = { connectionString: read.connectionString, schema: read.schema, poolSize: 3 };
    const jetStream = fresh('pg');
    const writer = await createShop({ dataDir: dir(), eventStore, readStore: eventStore, jetStream, pollIntervalMs: 20 });
    let reader: Awaited<ReturnType<typeof createShop<'read'>>> | undefined;
    try {
      const send = async (name: string, payload: unknown) => (await writer.commandBus.dispatch(name, payload, admin)).position;
      await send('CreateProduct', { productId: 'pg-p', sku: 'PG-P', name: 'PG product', priceCents: 250, currency: 'EUR' });
      await send('RestockProduct', { productId: 'pg-p', quantity: 40 });
      await send('RegisterCustomer', { customerId: 'pg-c', name: 'PG Customer', email: 'pg@example.com' });
      reader = await createShop({
        dataDir: dir(),
        role: 'read',
        readStore,
        jetStream: { ...jetStream, durable: 'pg-read' },
        pollIntervalMs: 20,
      });
      let head = 0;
      for (let i = 0; i < 20; i++) {
        head = await send('CreateOrder', {
          orderId: `pg-o${i}`,
          customerId: 'pg-c',
          lines: [{ productId: 'pg-p', quantity: 1 }],
        });
        if (i % 2) head = await send('PayOrder', { orderId: `pg-o${i}` });
      }
      // The writer's fulfilment process allocates the paid orders: the head is where it stops.
      head = await settle(writer, 20_000);
      const asOf = { ...admin, minPosition: head };
      const [fromLog, fromStream] = await Promise.all(
        [writer, reader].map((shop) =>
          Promise.all([
            shop.queryBus.run('GetInventory', { productId: 'pg-p' }, asOf),
            shop.queryBus.run('GetSalesSummary', {}, asOf),
            shop.queryBus.run('ListOrdersByCustomer', { customerId: 'pg-c', limit: 50 }, asOf),
          ]),
        ),
      );
      expect(fromStream).toEqual(fromLog);
      expect(fromStream[0]).toMatchObject({ onHand: 40, reserved: 20 });

      // The relay's checkpoint is a record in the event store's schema, not in the read store's.
      const checkpointName = relayCheckpointName(jetStream.stream);
      const inEvents = createPostgresReadStore({ ...eventStore, poolSize: 1 });
      const inRead = createPostgresReadStore({ ...readStore, poolSize: 1 });
      try {
        const record = await eventually('the relay checkpoint reaches the head', 15_000, async () => {
          const r = await inEvents.load(checkpointName);
          return r && r.position >= head ? r : undefined;
        });
        expect(record.position).toBe(head);
        expect(await inRead.load(checkpointName)).toBeFalsy();
      } finally {
        await Promise.all([inEvents.close(), inRead.close()]);
      }
      expect(reader.jetStreamSource?.status()).toMatchObject({ durable: 'pg-read', stream: jetStream.stream });
      expect(reader.eventStore).toBeUndefined();
    } finally {
      await reader?.close();
      await writer.close();
    }
  }, 60_000);
});
