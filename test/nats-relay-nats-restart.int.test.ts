// Restart the NATS server under a running relay (a private nats-server: SIGTERM once, SIGKILL once, each time on the
// same port and store dir) while events keep coming: the relay reconnects, resyncs and carries on, and the stream
// ends with every event exactly once, in order.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { createJetStreamRelay, jetStreamKvCheckpoint, type RelayState } from 'chronicle-es/nats';
import { createSqliteEventStore } from 'chronicle-es/sqlite';
import { afterAll, describe, expect, it } from 'vitest';
import { expectExactlyOnce, freshNames, streamMessages, until } from './nats-relay-kit.js';
import { natsAvailable, type PrivateNats, privateNats } from './support/nats.js';

const dir = mkdtempSync(join(tmpdir(), 'chronicle-relay-restart-'));
let server: PrivateNats | undefined;
afterAll(async () => {
  await server?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(!natsAvailable)('relay across NATS server restarts', () => {
  it('recovers from a SIGTERM and a SIGKILL of the server with nothing lost and nothing twice', async () => {
    server = await privateNats();
    const nats = await connect({ servers: server.url, reconnect: true, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
    const store = createSqliteEventStore({ path: join(dir, 'events.db') });
    const { stream, prefix } = freshNames('restart');
    const relay = createJetStreamRelay({
      eventStore: store,
      nats,
      stream,
      subjectPrefix: prefix,
      // The checkpoint on the same server: its saves fail during the outage too.
      checkpoint: jetStreamKvCheckpoint({ nats, bucket: 'relay_checkpoints', key: stream, timeoutMs: 1000 }),
      batchSize: 200,
      maxInFlight: 100,
      timeoutMs: 1000,
    });
    const states = new Set<RelayState>();
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        states.add((await relay.status()).state);
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    let appending = true;
    let appended = 0;
    const appender = (async () => {
      while (appending) {
        const k = appended;
        await store.appendMany(
          Array.from({ length: 50 }, (_, i) => ({
            streamId: `order-${k + i}`,
            events: [{ type: 'Placed', data: { k: k + i } }],
          })),
        );
        appended += 50;
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    const recoveries: { signal: string; positionAtStop: number; recoveredMs: number }[] = [];
    try {
      await relay.start();
      for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
        const base = (await relay.status()).position;
        await until(async () => (await relay.status()).position > base + 1000, 'progress before the restart');
        const positionAtStop = (await relay.status()).position;
        await server.stop(signal);
        await new Promise((r) => setTimeout(r, 1000));
        await server.start();
        const restarted = Date.now();
        await until(async () => (await relay.status()).position > positionAtStop + 500, 'progress after the restart', 60_000);
        recoveries.push({ signal, positionAtStop, recoveredMs: Date.now() - restarted });
      }
    } finally {
      appending = false;
      await appender;
    }
    const head = await store.headPosition();
    await until(
      async () => {
        const { position, state } = await relay.status();
        return position === head && state === 'live';
      },
      `the head ${head}`,
      60_000,
    );
    watching = false;
    await watcher;
    const status = await relay.status();
    await relay.stop();
    const counts = expectExactlyOnce(await streamMessages(nats, stream), await store.readAll());
    console.log(
      `relay across NATS restarts: ${recoveries.map((r) => `${r.signal} at position ${r.positionAtStop}, publishing again ${r.recoveredMs} ms after the restart`).join('; ')}; ` +
        `${counts.events} events, ${counts.messages} messages, ${counts.distinctIds} distinct ids; states seen ${[...states].join(', ')}; ` +
        `last error: ${status.lastError?.message}`,
    );
    expect(states.has('reconnecting')).toBe(true);
    expect(status.state).toBe('live');
    expect(status.lastError?.code).toBe('STORE_ERROR');
    await nats.close();
    await store.close();
  }, 180_000);

  it('goes on after a restart that made the server forget its last message id (idle past the duplicate window)', async () => {
    server ??= await privateNats();
    const nats = await connect({ servers: server.url, reconnect: true, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
    const store = createSqliteEventStore({ path: join(dir, 'idle.db') });
    const append = (n: number, from: number) =>
      store.appendMany(
        Array.from({ length: n }, (_, i) => ({ streamId: `order-${from + i}`, events: [{ type: 'Placed', data: {} }] })),
      );
    const { stream, prefix } = freshNames('forgot');
    const relay = createJetStreamRelay({
      eventStore: store,
      nats,
      stream: { name: stream, duplicateWindowMs: 1000 },
      subjectPrefix: prefix,
      checkpoint: jetStreamKvCheckpoint({ nats, bucket: 'relay_checkpoints', key: stream }),
      timeoutMs: 1000,
    });
    try {
      await append(10, 0);
      await relay.start();
      await until(async () => (await relay.status()).position === 10, 'the first events');
      // Idle past the window: the restarted server no longer knows the stream's last message id.
      await new Promise((r) => setTimeout(r, 1500));
      await server.stop();
      await server.start();
      // Reconnected (a round trip answered) before the next event, so its publish reaches the restarted server.
      await until(
        () =>
          nats.flush().then(
            () => true,
            () => false,
          ),
        'the reconnection',
        30_000,
      );
      await append(10, 10);
      // Live, not only at the position: the status may still say catching_up a moment after the last ack.
      await until(
        async () => {
          const { position, state } = await relay.status();
          return position === 20 && state === 'live';
        },
        'the events after the restart',
        60_000,
      );
      const status = await relay.status();
      expect(status.lastError?.message).toMatch(/wrong last msg ID/);
      expect(status.state).toBe('live');
      const counts = expectExactlyOnce(await streamMessages(nats, stream), await store.readAll());
      console.log(
        `relay after a restart past the duplicate window: ${counts.messages} messages, ${counts.distinctIds} distinct ids for ${counts.events} events; refused with "${status.lastError?.message}"`,
      );
    } finally {
      await relay.stop();
      await nats.close();
      await store.close();
    }
  }, 120_000);
});
