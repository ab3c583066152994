// The NATS server restarting under a running JetStream source (a private nats-server on a free port, never the shared
// one): killed mid-run, stopped mid-run again, started each time on the same store; events published after each
// restart too. The consumer recovers; nothing lost, nothing applied twice, order kept.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { createProjector } from 'chronicle-es';
import { createJetStreamSource } from 'chronicle-es/nats';
import { createSqliteReadStore } from 'chronicle-es/sqlite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countingSqlite, createStream, makeEvents, publishEvents, sqliteCounts, totalOf } from './nats-source-fixture.js';
import { natsAvailable, type PrivateNats, privateNats } from './support/nats.js';

const spin = (us: number) => {
  const until = process.hrtime.bigint() + BigInt(us) * 1000n;
  while (process.hrtime.bigint() < until) {}
};

// Retries `call` until it succeeds (a client reconnecting, JetStream recovering its streams), for up to 20 s.
async function untilAnswering(call: () => Promise<unknown>): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      await call();
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

describe.skipIf(!natsAvailable)('JetStream source across NATS server restarts', () => {
  let server: PrivateNats;
  let dir: string;
  const connections: NatsConnection[] = [];

  beforeAll(async () => {
    server = await privateNats();
    dir = await mkdtemp(join(tmpdir(), 'chronicle-nats-restart-'));
  });
  afterAll(async () => {
    for (const c of connections) await c.close().catch(() => {});
    await server?.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  // Connections that keep trying while the server is away.
  async function connectPrivate() {
    const c = await connect({ servers: server.url, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
    connections.push(c);
    return c;
  }

  it('recovers from a kill and a stop of the server mid-run with every event applied once', async () => {
    const events = await makeEvents(3000, { orderEvery: 4 });
    const publisher = await connectPrivate();
    const jsm = await jetstreamManager(publisher);
    const js = jetstream(publisher);
    const stream = 'restarts';
    await createStream(jsm, stream);
    let lastId = await publishEvents(js, stream, events.slice(0, 1000));

    const nats = await connectPrivate();
    const source = createJetStreamSource({ nats, stream, durable: 'survivor', maxAckPending: 500, batchSize: 100 });
    const readStore = createSqliteReadStore({ path: join(dir, 'read.db') });
    const projector = createProjector({
      eventStore: source,
      readStore,
      projections: [countingSqlite('all', { gate: () => spin(200) }), countingSqlite('orders', { types: ['OrderPlaced'] })],
      batchSize: 50,
      pollIntervalMs: 50,
    });
    await projector.start();
    const restarts: Array<{ signal: string; at: number }> = [];
    try {
      for (const [signal, at, upTo] of [
        ['SIGKILL', 400, 2000],
        ['SIGTERM', 1400, 3000],
      ] as const) {
        await projector.waitForPosition(at, { projections: ['all'], timeoutMs: 30_000 });
        const checkpoint = (await readStore.load('all'))!.position;
        expect(checkpoint).toBeLessThan(upTo - 1000);
        restarts.push({ signal, at: checkpoint });
        await server.stop(signal);
        await server.start();
        // Published after the restart, once the publisher's connection is back and the stream is loaded again.
        await untilAnswering(() => jsm.streams.info(stream));
        lastId = await publishEvents(js, stream, events.slice(upTo - 1000, upTo), lastId);
      }
      await projector.waitForPosition(3000, { timeoutMs: 60_000 });
    } finally {
      await projector.stop();
    }
    const status = source.status();
    await source.close();
    expect(sqliteCounts(readStore.reader('all'))).toEqual({
      applied: 3000,
      repeated: 0,
      disorder: 0,
      last: 3000,
      sum: totalOf(events),
    });
    expect(sqliteCounts(readStore.reader('orders'))).toMatchObject({ applied: 750, repeated: 0, disorder: 0 });
    expect(status).toMatchObject({ deliveredPosition: 3000, settledPosition: 3000, pending: 0, state: 'running' });
    await readStore.close();
    console.log(
      `nats-source-server-restart: 3000 events, restarts at ${JSON.stringify(restarts)}, resets ${status.resets}, redeliveries ${status.redeliveries}, last error ${status.lastError?.message}`,
    );
  }, 120_000);
});
