import { ChronicleError } from 'chronicle-es';
import { describe, expect, it } from 'vitest';
import { backoffMs, isTransient } from './source-retry.js';

const named = (name: string, extra: Record<string, unknown> = {}) => Object.assign(new Error(name), { name, ...extra });

describe('source retry', () => {
  it('waits out a server or connection that is away, not a refusal', () => {
    for (const err of [
      named('TimeoutError'),
      named('NoResponders'),
      named('ConnectionError'),
      named('RequestError', { cause: named('NoResponders') }),
      named('JetStreamError', { message: 'heartbeats missed' }),
      named('JetStreamApiError', { status: 503 }),
      new ChronicleError('STORE_ERROR', 'nats: x', { cause: named('TimeoutError') }),
    ]) {
      expect(isTransient(err), err.name).toBe(true);
    }
    for (const err of [
      named('StreamNotFoundError', { status: 404, code: 10059 }),
      named('ConsumerNotFoundError', { status: 404 }),
      named('JetStreamApiError', { status: 400 }),
      named('InvalidArgumentError'),
      named('ClosedConnectionError'),
      new ChronicleError('INVALID_ARGUMENT', 'foreign message'),
      new ChronicleError('STORE_ERROR', 'nats: x', { cause: named('StreamNotFoundError') }),
      'boom',
      null,
    ]) {
      expect(isTransient(err)).toBe(false);
    }
  });

  it('backs off from 100 ms, doubling to 5 s, with jitter', () => {
    for (let i = 0; i < 20; i++) {
      expect(backoffMs(0)).toBeGreaterThanOrEqual(80);
      expect(backoffMs(0)).toBeLessThanOrEqual(120);
      expect(backoffMs(3)).toBeGreaterThanOrEqual(640);
      expect(backoffMs(3)).toBeLessThanOrEqual(960);
      expect(backoffMs(40)).toBeLessThanOrEqual(6000);
      expect(backoffMs(40)).toBeGreaterThanOrEqual(4000);
    }
  });
});
