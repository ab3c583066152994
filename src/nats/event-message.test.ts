import type { RecordedEvent } from 'chronicle-es';
import { describe, expect, it } from 'vitest';
import {
  assertSubjectPrefix,
  decodeEvent,
  EventHeaders,
  eventBody,
  eventHeaders,
  MSG_ID,
  positionOf,
  subjectOf,
  subjectToken,
} from './event-message.js';

const event: RecordedEvent = {
  id: 'e-1',
  type: 'OrderCreated',
  streamId: 'order-o1',
  version: 3,
  position: 42,
  tags: ['customer:c1'],
  metadata: { schemaVersion: 2, timestamp: '2026-12-01T00:00:00.000Z', correlationId: 'corr', causationId: 'cause' },
  data: { total: 5, note: 'a.b * >' },
};

describe('event messages', () => {
  it('round-trips a stored event through body and headers', () => {
    expect(decodeEvent(eventBody(event), { subject: 's', seq: 1 })).toEqual(event);
    const h = eventHeaders(event);
    expect(h.get(MSG_ID)).toBe('e-1');
    expect(h.get(EventHeaders.position)).toBe('42');
    expect(h.get(EventHeaders.streamId)).toBe('order-o1');
    expect(h.get(EventHeaders.version)).toBe('3');
    expect(h.get(EventHeaders.correlationId)).toBe('corr');
    expect(h.get(EventHeaders.causationId)).toBe('cause');
    expect(h.get(EventHeaders.schemaVersion)).toBe('2');
    expect(positionOf(h)).toBe(42);
  });

  it('names subjects <prefix>.<category>.<type>, escaping what would split or widen a subject', () => {
    expect(subjectOf('shop.events', event)).toBe('shop.events.order.OrderCreated');
    expect(subjectOf('p', { streamId: 'a.b*c>d e', type: 'T' })).toBe('p.a~2eb~2ac~3ed~20e.T');
    expect(subjectOf('p', { streamId: '-x', type: 'Ü' })).toBe('p.~.~c3~9c');
    expect(subjectToken('~')).toBe('~7e');
    // Distinct values never share a token.
    expect(subjectToken('a.b')).not.toBe(subjectToken('a~2eb'));
  });

  it('refuses a prefix that is not plain subject tokens', () => {
    expect(() => assertSubjectPrefix('shop.events')).not.toThrow();
    for (const bad of ['', 'a..b', 'a.*', 'a.>', 'a b', '.a', 7]) {
      expect(() => assertSubjectPrefix(bad)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    }
  });

  it('refuses a message that is not a Chronicle event, naming where it is', () => {
    const bytes = (s: string) => new TextEncoder().encode(s);
    for (const body of ['nope', '{}', JSON.stringify({ ...event, position: 0 }), 'null']) {
      expect(() => decodeEvent(bytes(body), { subject: 'shop.x', seq: 9 })).toThrow(
        expect.objectContaining({ code: 'INVALID_ARGUMENT', details: { subject: 'shop.x', streamSequence: 9 } }),
      );
    }
    expect(positionOf(undefined)).toBeUndefined();
  });
});
