import { afterEach, describe, expect, expectTypeOf, it } from 'vitest';
import { ChronicleError, isChronicleError } from '../errors.js';
import { createInMemoryReadStore, type InMemoryReadStore } from '../projections/in-memory-read-store.js';
import { command, defineProcessManager } from './define-process-manager.js';
import {
  crashingBeforeCommit,
  expiryKey,
  OrderPaid,
  OrderPlaced,
  type OrderProcessState,
  orderProcess,
  orderWorld,
  ReleaseOrder,
  ReserveStock,
} from './fixtures/process-orders.js';
import { COMMAND_REFUSED, type CommandRefusedData, processStreamId } from './process-refusal.js';
import { COMMAND_SCHEDULED, SCHEDULE_CANCELLED } from './schedule-events.js';

const worlds: ReturnType<typeof orderWorld>[] = [];
const world = (options: Parameters<typeof orderWorld>[0] = {}) => {
  const w = orderWorld(options);
  worlds.push(w);
  return w;
};
afterEach(async () => {
  await Promise.all(worlds.splice(0).map((w) => w.stop()));
});

const stateOf = (read: InMemoryReadStore, key: string) => read.reader('order_process').table('state').get(key);

describe('process manager runtime', () => {
  it('sends a command per triggering event with a key from the process, the event and the index', async () => {
    const w = world();
    const placed = await w.place('o1', 5);
    await w.start();
    await w.caughtUp();
    const [event] = await w.ofType('OrderPlaced');
    expect(placed.position).toBe(event.position);
    expect(w.sent).toHaveLength(1);
    expect(w.sent[0]).toMatchObject({
      type: 'ReserveStock',
      data: { orderId: 'o1', amount: 5 },
      context: {
        idempotencyKey: `order_process:${event.id}:0`,
        principal: { id: 'chronicle-workflows' },
        correlationId: event.id,
        causationId: event.id,
      },
    });
    expect(await w.reserved()).toEqual(['o1']);
    // The reservation's own event carries the causation: it is traceable to the order that caused it.
    const [reserved] = await w.ofType('StockReserved');
    expect(reserved.metadata).toMatchObject({ correlationId: event.id, causationId: event.id });
  });

  it('keeps a state per correlation key, and null ends the process (the row is deleted)', async () => {
    const read = createInMemoryReadStore();
    const w = world({ readStore: read });
    await w.place('a', 3);
    await w.place('b', 4);
    await w.pay('a');
    await w.start();
    await w.caughtUp();
    expect(stateOf(read, 'a')).toBeUndefined();
    expect(stateOf(read, 'b')).toEqual({ amount: 4, status: 'placed' });
    // Paying an order whose process ended (or never began) does nothing: the handler sees no state.
    await w.pay('a');
    await w.pay('zzz');
    await w.caughtUp();
    expect(w.writer.calls.filter((c) => c.kind === 'cancel').map((c) => c.key)).toEqual([expiryKey('a')]);
  });

  it('gives each handler the state the earlier events of its key left, within one batch and across batches', async () => {
    const seen: Array<{ key: string; state: unknown }> = [];
    const pm = defineProcessManager<{ n: number }>({
      name: 'tally',
      version: 1,
      correlate: (e) => e.streamId,
      handlers: {
        Tick: (_e, { key, state }) => {
          seen.push({ key, state: structuredClone(state) });
          const n = state?.n ?? 0;
          // Changing the state in place without returning it changes nothing: the next step gets the stored one.
          if (state) state.n = 1000;
          return { state: { n: n + 1 } };
        },
      },
    });
    const read = createInMemoryReadStore();
    const w = world({ pm, readStore: read, batchSize: 3 });
    for (const s of ['x', 'y', 'x', 'x', 'y']) await w.eventStore.append(s, [{ type: 'Tick', data: {} }]);
    await w.start();
    await w.caughtUp();
    expect(read.reader('tally').table('state').get('x')).toEqual({ n: 3 });
    expect(read.reader('tally').table('state').get('y')).toEqual({ n: 2 });
    expect(seen.map((s) => `${s.key}:${JSON.stringify(s.state ?? null)}`)).toEqual([
      'x:null',
      'y:null',
      'x:{"n":1}',
      'x:{"n":2}',
      'y:{"n":1}',
    ]);
  });

  it('skips events that correlate to no key', async () => {
    const w = world();
    await w.eventStore.append('order-none', [{ type: 'OrderPlaced', data: { amount: 1 } }]);
    await w.place('o2');
    await w.start();
    await w.caughtUp();
    expect(w.sent.map((s) => s.data)).toEqual([{ orderId: 'o2', amount: 1 }]);
  });

  it('writes schedules and cancellations with their keys, `after` resolved against the injected clock', async () => {
    const now = Date.parse('2030-01-01T00:00:00Z');
    const w = world({ clock: () => now });
    await w.place('o3');
    await w.pay('o3');
    await w.start();
    await w.caughtUp();
    const [placed, paid] = await w.eventStore.readStream('order-o3');
    const [reserved] = await w.ofType('StockReserved');
    // Both events were in the log before the expiry was written: it counts as made at its cause, the placing, so the
    // payment's cancellation covers it — as it covers what the process's commands wrote before it (the reservation).
    expect(reserved.position).toBeGreaterThan(paid.position);
    expect(w.writer.calls).toEqual([
      {
        kind: 'schedule',
        key: 'expire-o3',
        idempotencyKey: `order_process:${placed.id}:s0`,
        at: '2030-01-01T00:01:00.000Z',
        cause: placed.position,
      },
      { kind: 'cancel', key: 'expire-o3', idempotencyKey: `order_process:${paid.id}:c0`, before: reserved.position + 1 },
    ]);
    const [scheduled, cancelled] = await w.eventStore.readStream('chronicle.schedule-expire-o3');
    expect(scheduled).toMatchObject({ type: COMMAND_SCHEDULED, data: { key: 'expire-o3', at: '2030-01-01T00:01:00.000Z' } });
    expect(cancelled).toMatchObject({ type: SCHEDULE_CANCELLED, data: { key: 'expire-o3' } });
  });

  it('goes through the real schedule writer: a cancellation with nothing pending writes nothing', async () => {
    const pm = orderProcess({ handlers: { OrderPaid: ({ data }) => ({ cancel: [expiryKey(data.orderId)] }) } });
    const w = world({ pm });
    await w.pay('never-placed');
    await w.start();
    await w.caughtUp();
    expect(w.writer.calls.map((c) => c.kind)).toEqual(['cancel']);
    expect(await w.ofType(SCHEDULE_CANCELLED)).toEqual([]);
  });

  it('sends the commands of different keys concurrently, and those of one key in order', async () => {
    let inFlight = 0;
    let most = 0;
    const w = world({
      async before() {
        inFlight++;
        most = Math.max(most, inFlight);
        await new Promise((r) => setTimeout(r, 5));
        inFlight--;
      },
    });
    for (let i = 0; i < 40; i++) await w.place(`c${i}`);
    const started = w.start();
    await started;
    await w.caughtUp();
    expect(most).toBeGreaterThanOrEqual(20);
    expect((await w.reserved()).sort()).toEqual(Array.from({ length: 40 }, (_, i) => `c${i}`).sort());

    // One process's commands: each waits for the one before it.
    const order: number[] = [];
    let concurrentForKey = 0;
    let mostForKey = 0;
    const pm = defineProcessManager({
      name: 'sequence',
      version: 1,
      correlate: () => 'one',
      handlers: {
        Step: (e) => ({ send: [command(ReleaseOrder, { orderId: `s${(e.data as { n: number }).n}`, reason: 'x' })] }),
      },
    });
    const s = world({
      pm,
      async before(sent) {
        concurrentForKey++;
        mostForKey = Math.max(mostForKey, concurrentForKey);
        await new Promise((r) => setTimeout(r, 2));
        order.push(Number((sent.data as { orderId: string }).orderId.slice(1)));
        concurrentForKey--;
      },
    });
    for (let n = 0; n < 10; n++) await s.eventStore.append('steps', [{ type: 'Step', data: { n } }]);
    await s.start();
    await s.caughtUp();
    expect(order).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(mostForKey).toBe(1);
  });

  it('replays a batch that did not commit with the same keys: every command takes effect once', async () => {
    const read = createInMemoryReadStore();
    const w = world({ readStore: crashingBeforeCommit(read, 2) });
    for (let i = 0; i < 5; i++) await w.place(`r${i}`);
    await w.start();
    // Two crashed commits, each after all five commands went out: the projection fails, as a restart would find it.
    for (let attempt = 0; attempt < 2; attempt++) {
      await expect(w.caughtUp()).rejects.toMatchObject({ code: 'PROJECTION_FAILED' });
      await w.projector.retry('order_process');
    }
    await w.caughtUp();
    expect(w.sent.length).toBe(15);
    expect(new Set(w.sent.map((s) => s.context.idempotencyKey)).size).toBe(5);
    expect((await w.reserved()).sort()).toEqual(['r0', 'r1', 'r2', 'r3', 'r4']);
    expect(await w.ofType(COMMAND_SCHEDULED)).toHaveLength(5);
    expect(stateOf(read, 'r3')).toEqual({ amount: 1, status: 'placed' });
  });

  it('records a refused command once, even when its batch is replayed, and applies the onRefused step', async () => {
    const read = createInMemoryReadStore();
    const w = world({ readStore: crashingBeforeCommit(read, 1) });
    await w.place('big', 500);
    await w.start();
    await expect(w.caughtUp()).rejects.toMatchObject({ code: 'PROJECTION_FAILED' });
    await w.projector.retry('order_process');
    await w.caughtUp();
    const [placed] = await w.ofType('OrderPlaced');
    const refusals = await w.eventStore.readStream(processStreamId('order_process', 'big'));
    expect(refusals).toHaveLength(1);
    expect(refusals[0]).toMatchObject({
      type: COMMAND_REFUSED,
      data: {
        process: 'order_process',
        key: 'big',
        command: { type: 'ReserveStock', data: { orderId: 'big', amount: 500 } },
        idempotencyKey: `order_process:${placed.id}:0`,
        code: 'DOMAIN_RULE',
        message: 'cannot reserve 500 units',
        event: { id: placed.id, type: 'OrderPlaced', streamId: 'order-big', position: placed.position },
      } satisfies Partial<CommandRefusedData>,
      metadata: { causationId: placed.id },
    });
    // Its step: state updated, the compensation sent once under its own key.
    expect(stateOf(read, 'big')).toEqual({ amount: 500, status: 'refused', refusals: 1 });
    const releases = await w.ofType('OrderReleased');
    expect(releases.map((e) => e.data)).toEqual([{ orderId: 'big', reason: 'DOMAIN_RULE' }]);
    expect(w.sent.filter((s) => s.type === 'ReleaseOrder').map((s) => s.context.idempotencyKey)).toEqual([
      `order_process:${placed.id}:r0.0`,
      `order_process:${placed.id}:r0.0`,
    ]);
    expect(w.projector && (await w.projector.status())[0].state).toBe('live');
  });

  it('hands refusals of its own compensations back a bounded number of rounds, then only records them', async () => {
    const pm = orderProcess({
      // Compensates by asking again for too much: refused every time.
      onRefused: (_refusal, { key, state }) => ({
        state: { amount: 0, status: 'refused', refusals: (state?.refusals ?? 0) + 1 },
        send: [command(ReserveStock, { orderId: key, amount: 1000 })],
      }),
    });
    const read = createInMemoryReadStore();
    const w = world({ pm, readStore: read });
    await w.place('loop', 200);
    await w.start();
    await w.caughtUp();
    const [placed] = await w.ofType('OrderPlaced');
    const refusals = await w.eventStore.readStream(processStreamId('order_process', 'loop'));
    expect(refusals.map((e) => (e.data as CommandRefusedData).idempotencyKey)).toEqual([
      `order_process:${placed.id}:0`,
      `order_process:${placed.id}:r0.0`,
      `order_process:${placed.id}:r0.0.0`,
      `order_process:${placed.id}:r0.0.0.0`,
    ]);
    expect(stateOf(read, 'loop')).toEqual({ amount: 0, status: 'refused', refusals: 3 });
    expect((await w.projector.status())[0].state).toBe('live');
  });

  it('without onRefused only records the refusal and goes on', async () => {
    const w = world({ pm: orderProcess({ onRefused: undefined }) });
    await w.place('big', 101);
    await w.place('small', 1);
    await w.start();
    await w.caughtUp();
    expect(await w.eventStore.readStream(processStreamId('order_process', 'big'))).toHaveLength(1);
    expect(await w.reserved()).toEqual(['small']);
    expect(await w.ofType('OrderReleased')).toEqual([]);
  });

  it('retries a transient failure with backoff and carries on once it passes', async () => {
    const attempts: number[] = [];
    const w = world({
      retry: { attempts: 4, initialDelayMs: 20, maxDelayMs: 1000 },
      before(sent) {
        if (sent.type !== 'ReserveStock') return;
        attempts.push(performance.now());
        if (attempts.length <= 2) throw new ChronicleError('STORE_ERROR', 'disk hiccup');
      },
    });
    await w.place('t1');
    await w.start();
    await w.caughtUp();
    expect(attempts).toHaveLength(3);
    // Waits of 20 then 40 ms (timers may fire a little early, never much).
    expect(attempts[1] - attempts[0]).toBeGreaterThanOrEqual(18);
    expect(attempts[2] - attempts[1]).toBeGreaterThanOrEqual(38);
    expect(await w.reserved()).toEqual(['t1']);
  });

  it('stops on the triggering event when the attempts run out; retry then resumes from it', async () => {
    let broken = true;
    let tries = 0;
    const w = world({
      retry: { attempts: 3, initialDelayMs: 1, maxDelayMs: 2 },
      before(sent) {
        if ((sent.data as { orderId: string }).orderId !== 'bad') return;
        tries++;
        if (broken) throw new Error('connection reset');
      },
    });
    await w.place('ok1');
    await w.place('bad');
    await w.place('ok2');
    await w.start();
    await expect(w.caughtUp()).rejects.toMatchObject({ code: 'PROJECTION_FAILED' });
    expect(tries).toBe(3);
    const [, bad] = await w.ofType('OrderPlaced');
    const [status] = await w.projector.status();
    expect(status).toMatchObject({
      name: 'order_process',
      state: 'failed',
      position: bad.position - 1,
      lastError: { eventId: bad.id, position: bad.position, type: 'OrderPlaced', message: 'connection reset' },
    });
    // The event before it committed; the one after was sent (a later replay re-sends it under the same key).
    expect((await w.reserved()).sort()).toEqual(['ok1', 'ok2']);
    broken = false;
    await w.projector.retry('order_process');
    await w.caughtUp();
    expect((await w.reserved()).sort()).toEqual(['bad', 'ok1', 'ok2']);
  });

  it('skip passes over the failed event: its commands are never sent, the next ones are', async () => {
    const w = world({
      retry: { attempts: 2, initialDelayMs: 1, maxDelayMs: 1 },
      before(sent) {
        if ((sent.data as { orderId: string }).orderId === 'bad') throw new ChronicleError('TIMEOUT', 'too slow');
      },
    });
    await w.place('bad');
    await w.start();
    await expect(w.caughtUp()).rejects.toMatchObject({ code: 'PROJECTION_FAILED' });
    const [status] = await w.projector.status();
    expect(status.lastError).toMatchObject({ code: 'TIMEOUT', type: 'OrderPlaced' });
    await w.projector.skip('order_process');
    await w.place('after');
    await w.caughtUp();
    expect(await w.reserved()).toEqual(['after']);
    expect((await w.projector.status())[0].state).toBe('live');
  });

  it('fails on the event whose step is malformed or whose state has no JSON form', async () => {
    const pm = defineProcessManager({
      name: 'broken',
      version: 1,
      handlers: {
        Big: () => ({ state: { n: 1n } }),
        Odd: () => ({ send: [{ kind: 'not a command' } as never] }),
      },
    });
    const w = world({ pm });
    await w.eventStore.append('s', [{ type: 'Big', data: {} }]);
    await w.start();
    await expect(w.caughtUp()).rejects.toMatchObject({ code: 'PROJECTION_FAILED' });
    expect((await w.projector.status())[0].lastError).toMatchObject({ code: 'INVALID_ARGUMENT', type: 'Big' });
    await w.projector.skip('broken');
    await w.eventStore.append('s', [{ type: 'Odd', data: {} }]);
    await expect(w.caughtUp()).rejects.toMatchObject({ code: 'PROJECTION_FAILED' });
    expect((await w.projector.status())[0].lastError).toMatchObject({ code: 'INVALID_ARGUMENT', type: 'Odd' });
  });

  it('fails on the event whose step sends a command no handler takes: nothing goes out, nothing recorded as refused', async () => {
    const pm = orderProcess({
      handlers: {
        OrderPlaced: ({ data }) => ({
          send: [command(ReserveStock, { orderId: data.orderId, amount: 1 }), { type: 'ShipOrder', data: {} }],
        }),
      },
    });
    const w = world({ pm });
    await w.place('u1');
    await w.start();
    await expect(w.caughtUp()).rejects.toMatchObject({ code: 'PROJECTION_FAILED' });
    const [status] = await w.projector.status();
    expect(status.lastError).toMatchObject({ code: 'INVALID_ARGUMENT', type: 'OrderPlaced' });
    expect(status.lastError?.message).toMatch(/ShipOrder/);
    expect(w.sent).toEqual([]);
    expect(await w.ofType(COMMAND_REFUSED)).toEqual([]);
    // The same for what onRefused sends.
    const compensating = orderProcess({
      name: 'compensating',
      onRefused: () => ({ send: [{ type: 'NoSuchCommand', data: {} }] }),
    });
    const c = world({ pm: compensating });
    await c.place('big', 500);
    await c.start();
    await expect(c.caughtUp()).rejects.toMatchObject({ code: 'PROJECTION_FAILED' });
    expect((await c.projector.status())[0].lastError).toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it('retries a failure that is not the business answer (forbidden, unknown to the handler) and stops on its event', async () => {
    for (const code of ['FORBIDDEN', 'UNKNOWN_MESSAGE', 'INVALID_ARGUMENT'] as const) {
      let tries = 0;
      const w = world({
        retry: { attempts: 3, initialDelayMs: 1, maxDelayMs: 1 },
        before(sent) {
          if (sent.type !== 'ReserveStock') return;
          tries++;
          throw new ChronicleError(code, 'misconfigured');
        },
      });
      await w.place('f1');
      await w.start();
      await expect(w.caughtUp()).rejects.toMatchObject({ code: 'PROJECTION_FAILED' });
      expect(tries).toBe(3);
      expect((await w.projector.status())[0].lastError).toMatchObject({ code, type: 'OrderPlaced' });
      expect(await w.ofType(COMMAND_REFUSED)).toEqual([]);
      expect(await w.ofType('OrderReleased')).toEqual([]);
      await w.stop();
    }
  });

  it('a handler that throws stops the process on its event, the events before it committed', async () => {
    const pm = orderProcess({
      handlers: {
        OrderPlaced: ({ data }) => {
          if (data.orderId === 'boom') throw new Error('handler bug');
          return { send: [command(ReserveStock, { orderId: data.orderId, amount: data.amount })] };
        },
      },
    });
    const w = world({ pm });
    await w.place('fine');
    await w.place('boom');
    await w.start();
    await expect(w.caughtUp()).rejects.toSatisfy((err) => isChronicleError(err, 'PROJECTION_FAILED'));
    const [fine, boom] = await w.ofType('OrderPlaced');
    expect((await w.projector.status())[0]).toMatchObject({
      position: fine.position,
      lastError: { eventId: boom.id, message: 'handler bug' },
    });
    expect(await w.reserved()).toEqual(['fine']);
  });

  it("with firstRun 'head' acts only on what comes after its first start, not on the history it finds", async () => {
    const w = world({ pm: orderProcess({ firstRun: 'head' }) });
    await w.place('old1');
    await w.place('old2');
    await w.start();
    await w.caughtUp();
    expect(w.sent).toEqual([]);
    await w.place('new1');
    await w.caughtUp();
    expect(await w.reserved()).toEqual(['new1']);
    expect(() => orderProcess({ firstRun: 'middle' as never })).toThrow(/firstRun/);
  });

  it('runs on its own as a projection with handlers, one event per batch', async () => {
    const w = world();
    await w.place('h1', 2);
    const [event] = await w.ofType('OrderPlaced');
    const read = createInMemoryReadStore();
    const generation = await read.beginGeneration('order_process', 1, w.projection.setup);
    await read.swapGeneration('order_process', generation, 0);
    await read.apply('order_process', generation, (tx) => w.projection.handlers.OrderPlaced(event, tx) as Promise<void>, 1, 0);
    expect(stateOf(read, 'h1')).toEqual({ amount: 2, status: 'placed' });
    expect(await w.reserved()).toEqual(['h1']);
  });
});

describe('process manager types', () => {
  it('types each handler by its event and each command by its definition', () => {
    // Type checks only (tsc runs over this file); the runtime refuses the wrong handler below as well.
    const typed = () =>
      defineProcessManager<OrderProcessState, typeof OrderPlaced | typeof OrderPaid>({
        name: 'typed',
        version: 1,
        events: [OrderPlaced, OrderPaid],
        handlers: {
          OrderPlaced: ({ data }, { state }) => {
            expectTypeOf(data).toEqualTypeOf<{ orderId: string; amount: number }>();
            expectTypeOf(state).toEqualTypeOf<OrderProcessState | undefined>();
            // @ts-expect-error OrderPlaced has no customerId
            void data.customerId;
            return { state: { amount: data.amount, status: 'placed' } };
          },
          // @ts-expect-error a handler for a type that is not among its events
          OrderShipped: () => undefined,
        },
      });
    const wrongState = () =>
      defineProcessManager<OrderProcessState, typeof OrderPlaced>({
        name: 'wrong_state',
        version: 1,
        events: [OrderPlaced],
        handlers: {
          // @ts-expect-error the state must be the process's
          OrderPlaced: () => ({ state: { amount: 1, status: 'lost' } }),
        },
      });
    void typed;
    void wrongState;
    // Inferred from `events` alone, without type arguments.
    const inferred = defineProcessManager({
      name: 'inferred',
      version: 1,
      events: [OrderPlaced],
      handlers: {
        OrderPlaced: ({ data }) => {
          expectTypeOf(data.amount).toEqualTypeOf<number>();
          return { send: [command(ReserveStock, { orderId: data.orderId, amount: data.amount })] };
        },
      },
    });
    expect(inferred.eventTypes).toEqual(['OrderPlaced']);
    // Without events, handlers take any stored event.
    defineProcessManager({
      name: 'loose',
      version: 1,
      handlers: {
        Anything: (event) => {
          expectTypeOf(event.data).toEqualTypeOf<unknown>();
          return undefined;
        },
      },
    });
    expect(command(ReserveStock, { orderId: 'o', amount: 1 })).toEqual({
      type: 'ReserveStock',
      data: { orderId: 'o', amount: 1 },
    });
    // @ts-expect-error amount must be a number
    command(ReserveStock, { orderId: 'o', amount: 'one' });
    // @ts-expect-error orderId is required
    command(ReserveStock, { amount: 1 });
    expect(() =>
      defineProcessManager({
        name: 'untyped',
        version: 1,
        events: [OrderPlaced],
        handlers: { OrderPlaced: () => undefined, Other: () => undefined } as never,
      }),
    ).toThrow(/not among its events/);
  });
});
