import { describe, expect, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import { isChronicleError } from '../errors.js';
import type { RecordedEvent } from '../event-store.js';
import { defineEvent, type EventOf } from '../messages.js';
import { CustomerRegistered, catalog, type OrderPlaced } from './fixtures/evolved-orders.js';
import { createUpcaster } from './upcast-event.js';
import { upcasters } from './upcasters.js';

const stored = (type: string, data: unknown, schemaVersion: number, position = 1): RecordedEvent => ({
  id: `e-${position}`,
  type,
  data,
  metadata: { schemaVersion, timestamp: '2025-02-01T09:00:00.000Z' },
  streamId: 'order-o1',
  version: position,
  position,
  tags: [],
});

const caught = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('did not throw');
};

describe('upcaster chains', () => {
  it('runs every step from the stored version to the current one', () => {
    const { upcast } = createUpcaster(catalog);
    const v1 = upcast(stored('OrderPlaced', { orderId: 'o1', customerId: 'c1', total: 12.5 }, 1));
    expect(v1.data).toEqual({ orderId: 'o1', customerId: 'c1', amount: { cents: 1250, currency: 'EUR' } });
    expect(v1.metadata).toMatchObject({ schemaVersion: 3, upcastFrom: { type: 'OrderPlaced', schemaVersion: 1 } });
    const v2 = upcast(stored('OrderPlaced', { orderId: 'o2', customerId: 'c1', total: 8, currency: 'USD' }, 2));
    expect(v2.data).toEqual({ orderId: 'o2', customerId: 'c1', amount: { cents: 800, currency: 'USD' } });
  });

  it('returns a current event as the very same object, and never touches the stored one', () => {
    const { upcast } = createUpcaster(catalog);
    const current = stored('OrderPlaced', { orderId: 'o1', customerId: 'c1', amount: { cents: 1, currency: 'EUR' } }, 3);
    expect(upcast(current)).toBe(current);
    const old = stored('OrderPlaced', { orderId: 'o1', customerId: 'c1', total: 1 }, 1);
    const copy = structuredClone(old);
    upcast(old);
    expect(old).toEqual(copy);
    const unknown = stored('SomethingElse', { x: 1 }, 7);
    expect(upcast(unknown)).toBe(unknown);
  });

  it('reads a former type name as the current type, and finds it when asked for the current one', () => {
    const upcaster = createUpcaster(catalog);
    const event = upcaster.upcast(stored('CustomerSignedUp', { customerId: 'c1', name: 'Ada' }, 1));
    expect(event.type).toBe('CustomerRegistered');
    expect(event.metadata.upcastFrom).toEqual({ type: 'CustomerSignedUp', schemaVersion: 1 });
    expect(upcaster.storedTypes(['CustomerRegistered', 'OrderPlaced'])).toEqual([
      'CustomerRegistered',
      'CustomerSignedUp',
      'OrderPlaced',
    ]);
    expect(upcaster.versionOf('OrderPlaced')).toBe(3);
    expect(upcaster.versionOf('CustomerSignedUp')).toBeUndefined();
  });

  it('fails with UPCAST_FAILED naming the event when an upcaster throws, a step is missing or the version is newer', () => {
    const Broken = defineEvent('Broken', z.object({ n: z.number() }), {
      schemaVersion: 2,
      upcasters: upcasters<{ s: string }>().from(1, (v1) => {
        if (v1.s === 'bad') throw new Error('cannot parse bad');
        return { n: Number(v1.s) };
      }),
    });
    const { upcast } = createUpcaster([Broken]);
    expect(upcast(stored('Broken', { s: '4' }, 1)).data).toEqual({ n: 4 });
    const thrown = caught(() => upcast(stored('Broken', { s: 'bad' }, 1, 9)));
    expect(isChronicleError(thrown, 'UPCAST_FAILED')).toBe(true);
    expect((thrown as Error).message).toContain('event Broken v1 at position 9');
    expect((thrown as Error).message).toContain('cannot parse bad');
    expect((thrown as { details: unknown }).details).toMatchObject({
      eventId: 'e-9',
      type: 'Broken',
      position: 9,
      schemaVersion: 1,
    });
    expect((thrown as Error).cause).toBeInstanceOf(Error);

    const Gap = defineEvent('Gap', z.object({}), { schemaVersion: 3, upcasters: upcasters().from(2, (d) => d as {}) });
    expect((caught(() => createUpcaster([Gap]).upcast(stored('Gap', {}, 1))) as Error).message).toContain(
      'no upcaster from version 1',
    );
    expect((caught(() => upcast(stored('Broken', { n: 1 }, 5))) as Error).message).toContain('newer schema version');
  });

  it('refuses chains that do not lead to the schema version, and two definitions claiming one name', () => {
    const schema = z.object({ n: z.number() });
    const steps = upcasters<{ n: number }>().from(1, (d) => d);
    for (const bad of [
      () => defineEvent('A', schema, { schemaVersion: 3, upcasters: steps }),
      () => defineEvent('A', schema, { schemaVersion: 0 }),
      () => defineEvent('A', schema, { aliases: ['A'] }),
      () => defineEvent('A', schema, { aliases: ['not a name'] }),
      () =>
        upcasters<{ n: number }>()
          .from(1, (d) => d)
          .from(3, (d) => d),
      () => createUpcaster([CustomerRegistered, defineEvent('CustomerSignedUp', schema)]),
    ]) {
      expect(isChronicleError(caught(bad), 'INVALID_ARGUMENT')).toBe(true);
    }
    expect(defineEvent('A', schema, { schemaVersion: 2, upcasters: steps }).upcasters).toHaveLength(1);
  });

  it('types each step by the previous one, and the chain by the schema', () => {
    const schema = z.object({ n: z.number() });
    upcasters<{ s: string }>()
      .from(1, (v1) => {
        expectTypeOf(v1).toEqualTypeOf<{ s: string }>();
        return { s: v1.s, k: 1 };
      })
      .from(2, (v2) => {
        expectTypeOf(v2).toEqualTypeOf<{ s: string; k: number }>();
        return v2;
      });
    // @ts-expect-error the chain ends in { s: string }, the schema wants { n: number }
    defineEvent('T', schema, { schemaVersion: 2, upcasters: upcasters<{ s: string }>().from(1, (v1) => v1) });
    // @ts-expect-error a step reads a field its input does not have
    upcasters<{ s: string }>().from(1, (v1) => ({ n: v1.missing }));
    defineEvent('T', schema, { schemaVersion: 2, upcasters: upcasters<{ s: string }>().from(1, (v1) => ({ n: Number(v1.s) })) });
    expectTypeOf<EventOf<typeof OrderPlaced>['data']['amount']>().toEqualTypeOf<{ cents: number; currency: string }>();
  });
});
