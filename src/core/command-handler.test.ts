import { describe, expect, it } from 'vitest';
import { createCommandHandler, createMultiStreamHandler } from './command-handler.js';
import { isChronicleError } from './errors.js';
import { type CounterCommand, counter } from './fixtures/counter.js';
import { createInMemoryEventStore } from './in-memory-event-store.js';

const inc = (counterId: string, by = 1): CounterCommand => ({ type: 'Increment', data: { counterId, by } });

describe('createCommandHandler', () => {
  it('loads, decides and appends, returning only a status', async () => {
    const store = createInMemoryEventStore();
    const handle = createCommandHandler({ store, decider: counter, streamId: (c) => `counter-${c.data.counterId}` });
    expect(await handle(inc('a', 2), {})).toEqual({ streamId: 'counter-a', version: 1, position: 1 });
    expect(await handle(inc('a', 3), {})).toEqual({ streamId: 'counter-a', version: 2, position: 2 });
    const events = await store.readStream('counter-a');
    expect(events.map((e) => e.data)).toEqual([{ by: 2 }, { by: 3 }]);
  });

  it('refuses with DOMAIN_RULE and writes nothing', async () => {
    const store = createInMemoryEventStore();
    const handle = createCommandHandler({ store, decider: counter, streamId: (c) => `counter-${c.data.counterId}` });
    await handle(inc('a', 100), {});
    const err = await handle(inc('a', 1), {}).catch((e) => e);
    expect(isChronicleError(err, 'DOMAIN_RULE')).toBe(true);
    expect(err.message).toContain('would pass 100');
    expect(await store.headPosition()).toBe(1);
  });

  it('catches up and decides again on conflict, so concurrent commands all land when retries allow', async () => {
    const store = createInMemoryEventStore();
    const handle = createCommandHandler({
      store,
      decider: counter,
      streamId: (c) => `counter-${c.data.counterId}`,
      maxRetries: 20,
    });
    const results = await Promise.all(Array.from({ length: 10 }, () => handle(inc('c'), {})));
    expect(results.map((r) => r.version).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  it('re-decides on the caught-up state, so a rule still holds under contention', async () => {
    const store = createInMemoryEventStore();
    const handle = createCommandHandler({
      store,
      decider: counter,
      streamId: (c) => `counter-${c.data.counterId}`,
      maxRetries: 50,
    });
    const settled = await Promise.allSettled(Array.from({ length: 30 }, () => handle(inc('d', 10), {})));
    const ok = settled.filter((s) => s.status === 'fulfilled').length;
    const refused = settled.filter((s) => s.status === 'rejected' && isChronicleError(s.reason, 'DOMAIN_RULE')).length;
    expect(ok).toBe(10);
    expect(refused).toBe(20);
  });

  it('gives up with CONCURRENCY_CONFLICT after the bounded retries', async () => {
    const store = createInMemoryEventStore();
    const handle = createCommandHandler({
      store,
      decider: counter,
      streamId: (c) => `counter-${c.data.counterId}`,
      maxRetries: 0,
    });
    const settled = await Promise.allSettled(Array.from({ length: 5 }, () => handle(inc('e'), {})));
    expect(settled.filter((s) => s.status === 'fulfilled')).toHaveLength(1);
    for (const s of settled) if (s.status === 'rejected') expect(isChronicleError(s.reason, 'CONCURRENCY_CONFLICT')).toBe(true);
  });

  it('returns the first result for a repeated idempotency key and writes nothing', async () => {
    const store = createInMemoryEventStore();
    const handle = createCommandHandler({ store, decider: counter, streamId: (c) => `counter-${c.data.counterId}` });
    const first = await handle(inc('f'), { idempotencyKey: 'k1' });
    const again = await handle(inc('f'), { idempotencyKey: 'k1' });
    expect(again).toEqual(first);
    expect(await store.headPosition()).toBe(1);
    // Concurrent repeats of one key also write once.
    const burst = await Promise.all(Array.from({ length: 5 }, () => handle(inc('g'), { idempotencyKey: 'k2' })));
    expect(new Set(burst.map((r) => r.position)).size).toBe(1);
    expect((await store.readStream('counter-g')).length).toBe(1);
  });

  it('records correlation, causation and actor in event metadata', async () => {
    const store = createInMemoryEventStore();
    const handle = createCommandHandler({ store, decider: counter, streamId: (c) => `counter-${c.data.counterId}` });
    await handle(inc('m'), { correlationId: 'corr-1', causationId: 'cause-1', principal: { id: 'u1', roles: [] } });
    const [event] = await store.readStream('counter-m');
    expect(event.metadata).toMatchObject({ correlationId: 'corr-1', causationId: 'cause-1', actor: 'u1', command: 'Increment' });
  });
});

describe('createMultiStreamHandler', () => {
  // Moves units between two counters: both streams change together or neither does.
  const transfer = createMultiStreamHandler<{ type: 'Move'; data: { from: string; to: string; n: number } }>({
    store: createInMemoryEventStore(),
    streams: (c) => [
      { streamId: `counter-${c.data.from}`, model: counter },
      { streamId: `counter-${c.data.to}`, model: counter },
    ],
    decide: () => [],
  });

  it('writes every stream atomically and reports the first', async () => {
    const store = createInMemoryEventStore();
    await store.append('counter-x', [{ type: 'Incremented', data: { by: 5 } }]);
    const move = createMultiStreamHandler<{ type: 'Move'; data: { n: number } }>({
      store,
      streams: () => [
        { streamId: 'counter-x', model: counter },
        { streamId: 'counter-y', model: counter },
      ],
      decide: (c, states) => {
        const x = states.get('counter-x') as { value: number };
        if (x.value < c.data.n) throw new Error('unreachable in this test');
        return [
          { streamId: 'counter-x', events: [{ type: 'Incremented', data: { by: -c.data.n } }] },
          { streamId: 'counter-y', events: [{ type: 'Incremented', data: { by: c.data.n } }] },
        ];
      },
    });
    const result = await move({ type: 'Move', data: { n: 2 } }, {});
    // Status names the first stream but carries the last position written across all of them.
    expect(result).toEqual({ streamId: 'counter-x', version: 2, position: 3 });
    expect((await store.readStream('counter-y')).map((e) => e.data)).toEqual([{ by: 2 }]);
  });

  it('returns the current status without writing when nothing is decided', async () => {
    expect(await transfer({ type: 'Move', data: { from: 'p', to: 'q', n: 1 } }, {})).toEqual({
      streamId: 'counter-p',
      version: 0,
      position: 0,
    });
  });
});
