// Last year's log, imported as exported, read by today's code: deciders, decisions, projections and process managers
// all see OrderPlaced v3 and CustomerRegistered, and the stored events stay as they were written.
import { processManagerSpec, projectionSpec } from 'chronicle-es/testing';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { createCommandBus } from '../command-bus.js';
import { createCommandHandler } from '../command-handler.js';
import { createDecisionHandler } from '../decision-handler.js';
import { isChronicleError } from '../errors.js';
import type { EventStore, RecordedEvent } from '../event-store.js';
import { createInMemoryEventStore } from '../in-memory-event-store.js';
import { importLog } from '../log-transfer/import-log.js';
import { defineCommand, defineEvent } from '../messages.js';
import { defineProjection } from '../projections/define-projection.js';
import { createInMemoryReadStore, type InMemoryReadTx } from '../projections/in-memory-read-store.js';
import { createProjector, type Projector } from '../projections/projector.js';
import { createWorkflows } from '../workflows/create-workflows.js';
import { command, defineProcessManager } from '../workflows/define-process-manager.js';
import { CustomerRegistered, catalog, OrderPlaced, order } from './fixtures/evolved-orders.js';
import { LAST_YEAR_LOG } from './fixtures/last-year-log.js';
import { upcasters } from './upcasters.js';
import { withUpcasting } from './upcasting-store.js';

const projectors: Projector[] = [];
afterEach(async () => {
  await Promise.all(projectors.splice(0).map((p) => p.stop()));
});

// #region wiring
// Command and decision handlers read through it; the projector reads the log as stored (each projection upcasts).
const upcastingStore = (raw: EventStore) => withUpcasting(raw, catalog);
// #endregion wiring

async function lastYear(): Promise<{ raw: EventStore; store: EventStore }> {
  const raw = createInMemoryEventStore();
  await importLog(raw, LAST_YEAR_LOG);
  return { raw, store: upcastingStore(raw) };
}

const refund = (store: EventStore) =>
  createCommandHandler({ store, decider: order, streamId: (c) => `order-${c.data.orderId}`, cacheSize: 0 });

describe("reading last year's log with today's definitions", () => {
  it('a decider loads v1 and v2 orders as v3, and the stored events keep their bytes', async () => {
    const { raw, store } = await lastYear();
    const before = JSON.stringify(await raw.readAll());
    const [o1] = await store.readStream('order-o1');
    expect(o1.data).toEqual({ orderId: 'o1', customerId: 'c1', amount: { cents: 1250, currency: 'EUR' } });
    expect(o1.metadata).toMatchObject({ schemaVersion: 3, upcastFrom: { type: 'OrderPlaced', schemaVersion: 1 } });

    const handle = refund(store);
    // 12.50 EUR from v1 data: a refund of 12.51 is over it, 12.50 is not.
    await expect(handle({ type: 'RefundOrder', data: { orderId: 'o1', cents: 1251 } }, {})).rejects.toThrow(
      'refund over 1250 EUR',
    );
    await handle({ type: 'RefundOrder', data: { orderId: 'o1', cents: 1250 } }, {});
    await expect(handle({ type: 'RefundOrder', data: { orderId: 'o2', cents: 801 } }, {})).rejects.toThrow('refund over 800 USD');

    const after = await raw.readAll();
    expect(JSON.stringify(after.slice(0, 4))).toBe(before);
    expect(after[1]).toMatchObject({ type: 'OrderPlaced', data: { total: 12.5 }, metadata: { schemaVersion: 1 } });
  });

  it('new appends of a defined type are stamped with its current version; a given version is kept', async () => {
    const { raw, store } = await lastYear();
    const shared = { actor: 'ada' };
    await store.append('order-o9', [
      { type: 'OrderPlaced', data: { orderId: 'o9', customerId: 'c1', amount: { cents: 5, currency: 'EUR' } }, metadata: shared },
      { type: 'OrderShipped', data: { orderId: 'o9' }, metadata: shared },
      { type: 'OrderPlaced', data: { orderId: 'o9', customerId: 'c1', total: 1 }, metadata: { schemaVersion: 1 } },
    ]);
    await store.append([{ streamId: 'order-o8', type: 'OrderPlaced', data: {} }]);
    await store.appendMany([{ streamId: 'order-o7', events: [{ type: 'OrderPlaced', data: {} }] }]);
    const versions = async (id: string) => (await raw.readStream(id)).map((e) => e.metadata.schemaVersion);
    expect(await versions('order-o9')).toEqual([3, 1, 1]);
    expect(await versions('order-o8')).toEqual([3]);
    expect(await versions('order-o7')).toEqual([3]);
    expect((await raw.readStream('order-o9'))[0].metadata.actor).toBe('ada');
    // What was stamped 3 is read as is; the explicit v1 is upcast.
    const read = await store.readStream('order-o9');
    expect(read[0].metadata.upcastFrom).toBeUndefined();
    expect(read[2].data).toEqual({ orderId: 'o9', customerId: 'c1', amount: { cents: 100, currency: 'EUR' } });
  });

  it('a decision querying the current type finds events stored under its former name, read as the current type', async () => {
    const { store } = await lastYear();
    const Rename = defineCommand('RenameCustomer', z.object({ customerId: z.string(), name: z.string() }));
    const handle = createDecisionHandler({
      store,
      query: (c: { type: 'RenameCustomer'; data: { customerId: string; name: string } }) => [
        { types: ['CustomerRegistered'], tags: [`customer-${c.data.customerId}`] },
      ],
      model: {
        initialState: [] as RecordedEvent[],
        evolve: (seen: RecordedEvent[], event: RecordedEvent) => [...seen, event],
      },
      decide: (c, seen) => {
        if (seen.length === 0) throw new Error('no such customer');
        expect(seen.map((e) => [e.type, e.data])).toEqual([['CustomerRegistered', { customerId: 'c1', name: 'Ada' }]]);
        return [{ streamId: `customer-${c.data.customerId}`, type: 'CustomerRenamed', data: c.data }];
      },
    });
    const bus = createCommandBus();
    bus.register(Rename, handle);
    await expect(bus.dispatch(Rename, { customerId: 'c1', name: 'Ada L.' })).resolves.toMatchObject({ version: 2 });
  });

  it("projections and process managers see today's shapes, under the current type names", async () => {
    const { raw, store } = await lastYear();
    const totals = defineProjection<InMemoryReadTx, (typeof catalog)[number]>({
      name: 'order_totals',
      version: 1,
      events: catalog,
      handlers: {
        OrderPlaced: (event, tx) => {
          tx.table<{ cents: number; currency: string }>('orders').set(event.data.orderId, event.data.amount);
        },
        CustomerRegistered: (event, tx) => {
          tx.table<string>('customers').set(event.data.customerId, `${event.type}:${event.data.name}`);
        },
      },
    });
    expect(totals.eventTypes).toEqual(['OrderPlaced', 'CustomerRegistered', 'CustomerSignedUp']);
    const Welcome = defineCommand('Welcome', z.object({ customerId: z.string(), cents: z.number() }));
    const welcomed: unknown[] = [];
    const bus = createCommandBus();
    bus.register(Welcome, async (c) => {
      welcomed.push(c.data);
      return { streamId: 'w', version: 0, position: 0 };
    });
    const welcome = defineProcessManager<null, typeof OrderPlaced | typeof CustomerRegistered>({
      name: 'welcome',
      version: 1,
      events: [OrderPlaced, CustomerRegistered],
      correlate: (event) => (event.data as { customerId: string }).customerId,
      handlers: {
        OrderPlaced: ({ data }) => ({ send: [command(Welcome, { customerId: data.customerId, cents: data.amount.cents })] }),
      },
    });
    const readStore = createInMemoryReadStore();
    const workflows = createWorkflows({ commandBus: bus, eventStore: store, readStore, processManagers: [welcome] });
    const projector = createProjector({
      eventStore: raw,
      readStore,
      projections: [totals, ...workflows.projections],
      pollIntervalMs: 5,
    });
    projectors.push(projector);
    await projector.start();
    await projector.waitForPosition(4, { timeoutMs: 5000 });
    const reader = readStore.reader('order_totals');
    expect(reader.table('orders').get('o1')).toEqual({ cents: 1250, currency: 'EUR' });
    expect(reader.table('orders').get('o2')).toEqual({ cents: 800, currency: 'USD' });
    expect(reader.table('customers').get('c1')).toBe('CustomerRegistered:Ada');
    expect(welcomed).toEqual([
      { customerId: 'c1', cents: 1250 },
      { customerId: 'c1', cents: 800 },
    ]);
  });

  it('an upcaster that throws fails the reading projection on that event, and a command on its stream with UPCAST_FAILED', async () => {
    const raw = createInMemoryEventStore();
    await raw.append('meter-m1', [
      { type: 'Reading', data: { value: '4' } },
      { type: 'Reading', data: { value: 'garbled' } },
      { type: 'Reading', data: { value: '5' } },
    ]);
    const Reading = defineEvent('Reading', z.object({ value: z.number() }), {
      schemaVersion: 2,
      upcasters: upcasters<{ value: string }>().from(1, (v1) => {
        const value = Number(v1.value);
        if (Number.isNaN(value)) throw new Error(`not a number: ${v1.value}`);
        return { value };
      }),
    });
    const sum = defineProjection<InMemoryReadTx, typeof Reading>({
      name: 'meter_sum',
      version: 1,
      events: [Reading],
      handlers: {
        Reading: (event, tx) => {
          const t = tx.table<number>('sum');
          t.set('all', (t.get('all') ?? 0) + event.data.value);
        },
      },
    });
    const other = defineProjection<InMemoryReadTx>({
      name: 'meter_count',
      version: 1,
      handlers: { Reading: (_e, tx) => tx.table<number>('n').set('all', (tx.table<number>('n').get('all') ?? 0) + 1) },
    });
    const readStore = createInMemoryReadStore();
    const projector = createProjector({ eventStore: raw, readStore, projections: [sum, other], pollIntervalMs: 5 });
    projectors.push(projector);
    await projector.start();
    await vi.waitFor(async () => expect((await projector.status())[0].state).toBe('failed'));
    const [failed, counting] = await projector.status();
    const garbled = (await raw.readStream('meter-m1'))[1];
    expect(failed.position).toBe(garbled.position - 1);
    expect(failed.lastError).toMatchObject({
      code: 'UPCAST_FAILED',
      eventId: garbled.id,
      type: 'Reading',
      position: garbled.position,
    });
    expect(failed.lastError?.message).toContain('not a number: garbled');
    expect(readStore.reader('meter_sum').table('sum').get('all')).toBe(4);
    // A projection without the definitions reads events as stored and goes on.
    await vi.waitFor(async () => expect((await projector.status())[1].position).toBe(3));
    expect(counting.state).not.toBe('failed');

    const meter = createCommandHandler({
      store: withUpcasting(raw, [Reading]),
      streamId: () => 'meter-m1',
      decider: {
        initialState: 0,
        evolve: (s: number, e: { type: string; data: unknown }) => s + (e.data as { value: number }).value,
        decide: () => [{ type: 'Reading', data: { value: 1 } }],
      },
    });
    const error = await meter({ type: 'Read', data: {} }, {}).catch((err: unknown) => err);
    expect(isChronicleError(error, 'UPCAST_FAILED')).toBe(true);
    expect((error as Error).message).toContain(`event Reading v1 at position ${garbled.position} (stream meter-m1, version 2)`);
    expect((await raw.readStream('meter-m1')).length).toBe(3);
  });
});

describe('the testing specs read events as the runtime does', () => {
  const totals = defineProjection<InMemoryReadTx, (typeof catalog)[number]>({
    name: 'spec_totals',
    version: 1,
    events: catalog,
    handlers: {
      OrderPlaced: (event, tx) => {
        tx.table<number>('cents').set(event.data.orderId, event.data.amount.cents);
      },
    },
  });

  it('projectionSpec stamps given events with their current version, and upcasts one given at an older one', async () => {
    await projectionSpec(totals, { readStore: () => createInMemoryReadStore() })
      .given([
        { type: 'OrderPlaced', data: { orderId: 'now', customerId: 'c1', amount: { cents: 7, currency: 'EUR' } } },
        { type: 'OrderPlaced', data: { orderId: 'then', customerId: 'c1', total: 2.5 }, metadata: { schemaVersion: 1 } },
      ])
      .expectRows('cents', [7, 250]);
  });

  it('processManagerSpec does the same for a process', async () => {
    const Thank = defineCommand('Thank', z.object({ orderId: z.string(), cents: z.number() }));
    const thanks = defineProcessManager<null, typeof OrderPlaced>({
      name: 'thanks',
      version: 1,
      events: [OrderPlaced],
      handlers: { OrderPlaced: ({ data }) => ({ send: [command(Thank, { orderId: data.orderId, cents: data.amount.cents })] }) },
    });
    await processManagerSpec(thanks)
      .given()
      .when({ type: 'OrderPlaced', data: { orderId: 'o1', customerId: 'c1', amount: { cents: 9, currency: 'EUR' } } })
      .then({ send: [command(Thank, { orderId: 'o1', cents: 9 })] });
    await processManagerSpec(thanks)
      .given()
      .when({ type: 'OrderPlaced', data: { orderId: 'o2', customerId: 'c1', total: 1 } as never, metadata: { schemaVersion: 1 } })
      .then({ send: [command(Thank, { orderId: 'o2', cents: 100 })] });
  });
});
