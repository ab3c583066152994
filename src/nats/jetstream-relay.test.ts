import type { NatsConnection } from '@nats-io/nats-core';
import { createInMemoryEventStore, createInMemoryReadStore, isChronicleError, storeCheckpoint } from 'chronicle-es';
import { describe, expect, it } from 'vitest';
import { createJetStreamRelay, type JetStreamRelayOptions } from './jetstream-relay.js';

// Only its shape is checked when a relay is created: nothing is sent until start().
const nats = { request: () => Promise.reject(new Error('not connected')), isClosed: () => false } as unknown as NatsConnection;
const valid = (): JetStreamRelayOptions => ({
  eventStore: createInMemoryEventStore(),
  nats,
  stream: 'ORDERS',
  subjectPrefix: 'shop.events',
  checkpoint: storeCheckpoint({ store: createInMemoryReadStore(), name: 'relay' }),
});

function refusal(over: Record<string, unknown>): { code: string; message: string; option?: unknown } {
  try {
    createJetStreamRelay({ ...valid(), ...over } as JetStreamRelayOptions);
  } catch (err) {
    if (!isChronicleError(err)) throw err;
    return { code: err.code, message: err.message, option: err.details.option };
  }
  throw new Error(`accepted ${JSON.stringify(Object.keys(over))}`);
}

describe('createJetStreamRelay', () => {
  it('is named after its stream unless named, and starts stopped', async () => {
    const relay = createJetStreamRelay(valid());
    expect(relay.name).toBe('ORDERS');
    expect(
      createJetStreamRelay({ ...valid(), name: 'orders-out', stream: { name: 'ORDERS', retention: 'workqueue' } }).name,
    ).toBe('orders-out');
    expect(await relay.status()).toEqual({
      name: 'ORDERS',
      stream: 'ORDERS',
      subjectPrefix: 'shop.events',
      state: 'stopped',
      position: 0,
      head: 0,
      lagEvents: 0,
      lagSeconds: 0,
      published: 0,
      streamSequence: 0,
    });
    await relay.stop();
  });

  it.each([
    [{ eventStore: undefined }, 'eventStore'],
    [{ eventStore: { readAll() {} } }, 'eventStore'],
    [{ nats: undefined }, 'nats'],
    [{ nats: {} }, 'nats'],
    [{ checkpoint: undefined }, 'checkpoint'],
    [{ checkpoint: { load() {} } }, 'checkpoint'],
    [{ filter: { types: 'OrderPlaced' } }, 'filter'],
    [{ batchSize: 0 }, 'batchSize'],
    [{ batchSize: 10_001 }, 'batchSize'],
    [{ maxInFlight: 1.5 }, 'maxInFlight'],
    [{ timeoutMs: 0 }, 'timeoutMs'],
    [{ pollIntervalMs: -5 }, 'pollIntervalMs'],
    [{ name: '' }, 'name'],
    [{ stream: { name: 'ORDERS', retention: 'forever' } }, 'stream'],
  ])('refuses %j as INVALID_ARGUMENT naming the option', (over, option) => {
    expect(refusal(over)).toMatchObject({ code: 'INVALID_ARGUMENT', option });
  });

  it.each([undefined, '', 'shop.', 'shop..events', 'shop.*', 'shop.>', 'shop events'])(
    'refuses subjectPrefix %j',
    (subjectPrefix) => {
      expect(refusal({ subjectPrefix })).toMatchObject({ code: 'INVALID_ARGUMENT', message: /subjectPrefix/ });
    },
  );

  it('refuses a bad stream name', () => {
    expect(refusal({ stream: 'a.b' })).toMatchObject({ code: 'INVALID_ARGUMENT', message: /name/ });
  });
});
