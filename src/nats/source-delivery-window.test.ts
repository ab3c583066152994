import { ChronicleError, type RecordedEvent } from 'chronicle-es';
import { describe, expect, it } from 'vitest';
import { eventBody } from './event-message.js';
import { type Delivery, DeliveryWindow } from './source-delivery-window.js';

const event = (position: number): RecordedEvent => ({
  id: `e-${position}`,
  type: 'Added',
  streamId: `acc-${position % 3}`,
  version: 1,
  position,
  tags: [],
  metadata: { schemaVersion: 1, timestamp: '2026-12-01T00:00:00.000Z' },
  data: { n: position },
});

// Deliveries of a consumer, with the acks each one received.
function consumer() {
  const acks: number[] = [];
  let dseq = 0;
  const deliver = (streamSeq: number, position: number | undefined, opts: { body?: Uint8Array; dseq?: number } = {}) => {
    dseq = opts.dseq ?? dseq + 1;
    const d: Delivery = {
      deliverySeq: dseq,
      streamSeq,
      subject: 'shop.acc.Added',
      position,
      body: opts.body ?? eventBody(event(position ?? 1)),
      ack: () => acks.push(streamSeq),
    };
    return d;
  };
  return { acks, deliver };
}

const positions = (events: readonly RecordedEvent[]) => events.map((e) => e.position);

describe('delivery window', () => {
  it('holds new deliveries in order and serves reads from any position it covers', () => {
    const w = new DeliveryWindow(10);
    const c = consumer();
    w.rebase({ seq: 0, position: 0, deliverySeq: 0 });
    // Positions rise with stream sequence but need not be consecutive (the relay's filter, PostgreSQL gaps).
    for (const [seq, p] of [
      [1, 2],
      [2, 5],
      [3, 6],
    ])
      expect(w.accept(c.deliver(seq, p))).toBe('held');
    expect(positions(w.read(1, 10))).toEqual([2, 5, 6]);
    expect(positions(w.read(3, 10))).toEqual([5, 6]);
    expect(positions(w.read(5, 1))).toEqual([5]);
    expect(w.read(7, 10)).toEqual([]);
    expect(w.coverStart).toBe(0);
    expect(w).toMatchObject({ held: 3, room: 7, deliveredPosition: 6 });
    expect(c.acks).toEqual([]);
  });

  it('acknowledges once per settle, the last held message at or below it, and frees the room', () => {
    const w = new DeliveryWindow(3);
    const c = consumer();
    w.rebase({ seq: 0, position: 0, deliverySeq: 0 });
    for (let i = 1; i <= 3; i++) w.accept(c.deliver(i, i * 10));
    expect(w.room).toBe(0);
    expect(w.settle(5)).toBe(false);
    expect(c.acks).toEqual([]);
    expect(w.settle(25)).toBe(true);
    expect(c.acks).toEqual([2]);
    expect(w).toMatchObject({ held: 1, room: 2, ackedPosition: 20, ackedStreamSeq: 2, settledPosition: 25, coverStart: 25 });
    expect(positions(w.read(26, 10))).toEqual([30]);
    // A lower settle never moves anything back.
    expect(w.settle(3)).toBe(false);
    expect(w.settledPosition).toBe(25);
  });

  it('sends the last acknowledgement again on request, and has none to send after a rebase', () => {
    const w = new DeliveryWindow(10);
    const c = consumer();
    w.rebase({ seq: 0, position: 0, deliverySeq: 0 });
    expect(w.reack()).toBe(false);
    for (let i = 1; i <= 3; i++) w.accept(c.deliver(i, i));
    w.settle(2);
    expect(w.reack()).toBe(true);
    expect(c.acks).toEqual([2, 2]);
    w.rebase({ seq: 2, position: 2, deliverySeq: 0 });
    expect(w.reack()).toBe(false);
    expect(c.acks).toEqual([2, 2]);
  });

  it('reports a jump in the delivery sequence as a gap, taking nothing from it', () => {
    const w = new DeliveryWindow(10);
    const c = consumer();
    w.rebase({ seq: 4, position: 40, deliverySeq: 7 });
    expect(w.accept(c.deliver(5, 50, { dseq: 8 }))).toBe('held');
    expect(w.accept(c.deliver(7, 70, { dseq: 10 }))).toBe('gap');
    expect(positions(w.read(0, 10))).toEqual([50]);
    expect(w.deliveredPosition).toBe(50);
  });

  it('acknowledges and skips what the settled position covers, new or redelivered; drops a redelivery still held', () => {
    const w = new DeliveryWindow(10);
    const c = consumer();
    w.rebase({ seq: 0, position: 0, deliverySeq: 0 });
    // The projections committed through 20 before the durable delivered it (read from the stream, or a restart).
    w.settle(20);
    expect(w.accept(c.deliver(1, 10))).toBe('covered');
    expect(w.accept(c.deliver(2, 20))).toBe('covered');
    expect(w.accept(c.deliver(3, 30))).toBe('held');
    expect(w.accept(c.deliver(4, 40))).toBe('held');
    expect(c.acks).toEqual([1, 2]);
    expect(w.accept(c.deliver(3, 30))).toBe('duplicate');
    expect(w.accept(c.deliver(2, 20))).toBe('covered');
    expect(c.acks).toEqual([1, 2, 2]);
    expect(positions(w.read(21, 10))).toEqual([30, 40]);
    expect(w.redeliveries).toBe(2);
    expect(w.ackedPosition).toBe(20);
  });

  it('stops at a message that is not the next event of the log, naming its subject and sequence', () => {
    const cases: Array<[string, number | undefined, Uint8Array | undefined, RegExp]> = [
      ['no position header', undefined, undefined, /no Chronicle-Position header/],
      ['a position that does not rise', 15, undefined, /position 15 does not rise above 20/],
      ['a body that is not an event', 30, new TextEncoder().encode('hello'), /not a Chronicle event/],
      ['a body that disagrees with its header', 30, eventBody(event(31)), /body says position 31, its header 30/],
    ];
    for (const [, position, body, message] of cases) {
      const w = new DeliveryWindow(10);
      const c = consumer();
      w.rebase({ seq: 0, position: 0, deliverySeq: 0 });
      w.accept(c.deliver(1, 20));
      expect(w.accept(c.deliver(2, position, { body }))).toBe('foreign');
      expect(w.blocked?.error).toMatchObject({
        code: 'INVALID_ARGUMENT',
        message: expect.stringMatching(message),
        details: expect.objectContaining({ subject: 'shop.acc.Added', streamSequence: 2 }),
      });
      // Everything before it is still served; nothing after it is taken until a rebase.
      expect(w.accept(c.deliver(3, 40))).toBe('foreign');
      expect(positions(w.read(0, 10))).toEqual([20]);
      w.rebase({ seq: 1, position: 20, deliverySeq: 0 });
      expect(w.blocked).toBeUndefined();
    }
  });

  it('starts over on rebase: drops what it held, keeps the settled position, covers from the base', () => {
    const w = new DeliveryWindow(10);
    const c = consumer();
    w.rebase({ seq: 0, position: 0, deliverySeq: 0 });
    for (let i = 1; i <= 4; i++) w.accept(c.deliver(i, i));
    w.settle(2);
    w.rebase({ seq: w.ackedStreamSeq, position: w.ackedPosition, deliverySeq: 0 });
    expect(w).toMatchObject({ held: 0, deliveredPosition: 2, coverStart: 2, settledPosition: 2 });
    const again = consumer();
    expect(w.accept(again.deliver(3, 3))).toBe('held');
    expect(w.accept(again.deliver(4, 4))).toBe('held');
    expect(positions(w.read(3, 10))).toEqual([3, 4]);
  });

  it('tells when a delivery passes over sequences that may have held unsettled events, and stops for good when told', () => {
    const w = new DeliveryWindow(10);
    const c = consumer();
    w.rebase({ seq: 0, position: 0, deliverySeq: 0 });
    w.accept(c.deliver(1, 1));
    // The next sequence, or positions with nothing between them, pass over nothing.
    expect(w.passesOver(c.deliver(2, 2, { dseq: 2 }))).toBe(false);
    expect(w.passesOver(c.deliver(5, 2, { dseq: 2 }))).toBe(false);
    // A redelivery or a lost delivery is the gap rule's, not this one's.
    expect(w.passesOver(c.deliver(5, 5, { dseq: 3 }))).toBe(false);
    expect(w.passesOver(c.deliver(5, 5, { dseq: 2 }))).toBe(true);
    // What every projection settled already cannot be lost.
    w.settle(4);
    expect(w.passesOver(c.deliver(5, 5, { dseq: 2 }))).toBe(false);
    expect(w.passesOver(c.deliver(6, 6, { dseq: 2 }))).toBe(true);

    const d = c.deliver(6, 6, { dseq: 2 });
    w.blockRemoved(d, new ChronicleError('NOT_FOUND', 'removed'));
    expect(w.blocked).toMatchObject({ streamSeq: 6, removed: true, error: { code: 'NOT_FOUND' } });
    expect(w.accept(d)).toBe('foreign');
    expect(w.passesOver(c.deliver(7, 7, { dseq: 3 }))).toBe(false);
    w.rebase({ seq: 1, position: 1, deliverySeq: 0 });
    expect(w.blocked).toBeUndefined();
  });
});
