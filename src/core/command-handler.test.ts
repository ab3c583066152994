import { describe, expect, it } from 'vitest';
import { createCommandHandler, createMultiStreamHandler, type StreamSpec } from './command-handler.js';
import type { Decider } from './decider.js';
import { domainError, isChronicleError } from './errors.js';
import { type CounterCommand, type CounterState, counter } from './fixtures/counter.js';
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
  const transfer = createMultiStreamHandler({
    store: createInMemoryEventStore(),
    streams: (c: { type: 'Move'; data: { from: string; to: string; n: number } }) => ({
      from: { streamId: `counter-${c.data.from}`, model: counter },
      to: { streamId: `counter-${c.data.to}`, model: counter },
    }),
    decide: () => [],
  });

  it('writes every stream atomically and reports the first', async () => {
    const store = createInMemoryEventStore();
    await store.append('counter-x', [{ type: 'Incremented', data: { by: 5 } }]);
    const move = createMultiStreamHandler({
      store,
      streams: (_c: { type: 'Move'; data: { n: number } }) => ({
        x: { streamId: 'counter-x', model: counter },
        y: { streamId: 'counter-y', model: counter },
      }),
      decide: (c, states) => {
        if (states.x.value < c.data.n) throw new Error('unreachable in this test');
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

describe('state cache and chosen streams', () => {
  // Records the `from` of every readStream so a test can see what a load really read.
  function spied() {
    const store = createInMemoryEventStore();
    const reads: Array<{ streamId: string; from: number | undefined }> = [];
    const readStream: typeof store.readStream = (streamId, options) => {
      reads.push({ streamId, from: options?.from });
      return store.readStream(streamId, options);
    };
    return { store: { ...store, readStream }, raw: store, reads };
  }

  it('reads only the events appended since the cached version, and still sees other writers', async () => {
    const { store, raw, reads } = spied();
    const handle = createCommandHandler({ store, decider: counter, streamId: (c) => `counter-${c.data.counterId}` });
    for (let i = 0; i < 3; i++) await handle(inc('h'), {});
    // The cache holds what was loaded (an empty stream is not cached), not what the handler appended itself
    // (that lacks positions and metadata), so each load reads the one event written since.
    expect(reads.map((r) => r.from)).toEqual([1, 1, 2]);
    // Another writer (or process) appends behind the handler's back: the next load catches up from the store.
    await raw.append('counter-h', [{ type: 'Incremented', data: { by: 50 } }]);
    const err = await handle(inc('h', 60), {}).catch((e) => e);
    expect(isChronicleError(err, 'DOMAIN_RULE')).toBe(true);
    expect(err.message).toContain('now 53');
    expect(reads.at(-1)).toEqual({ streamId: 'counter-h', from: 3 });
  });

  it('reads the whole stream every time when the cache is off', async () => {
    const { store, reads } = spied();
    const handle = createCommandHandler({
      store,
      decider: counter,
      streamId: (c) => `counter-${c.data.counterId}`,
      cacheSize: 0,
    });
    for (let i = 0; i < 3; i++) await handle(inc('i'), {});
    expect(reads.map((r) => r.from)).toEqual([1, 1, 1]);
  });

  it('does not spend cache slots on streams that loaded empty', async () => {
    const { store, reads } = spied();
    const handle = createCommandHandler({
      store,
      decider: counter,
      streamId: (c) => `counter-${c.data.counterId}`,
      cacheSize: 1,
    });
    for (const id of ['m', 'm', 'new-1', 'new-2', 'm']) await handle(inc(id), {});
    // Two brand-new streams passed through a one-slot cache without evicting m.
    expect(reads.map((r) => `${r.streamId}@${r.from}`)).toEqual([
      'counter-m@1',
      'counter-m@1',
      'counter-new-1@1',
      'counter-new-2@1',
      'counter-m@2',
    ]);
  });

  it('evicts the least recently used stream beyond cacheSize', async () => {
    const { store, reads } = spied();
    const handle = createCommandHandler({
      store,
      decider: counter,
      streamId: (c) => `counter-${c.data.counterId}`,
      cacheSize: 1,
    });
    for (const id of ['j', 'j', 'k', 'k', 'j']) await handle(inc(id), {});
    // j is cached at version 1 and k at version 1, which evicts j: j is read from the start again.
    expect(reads.map((r) => `${r.streamId}@${r.from}`)).toEqual([
      'counter-j@1',
      'counter-j@1',
      'counter-k@1',
      'counter-k@1',
      'counter-j@1',
    ]);
  });

  // A pointer stream names which counter a Bump command increments: the target is chosen from state.
  const pointer = {
    initialState: 'a',
    evolve: (_: string, e: { data: unknown }) => (e.data as { target: string }).target,
  };

  it('redoes a choice made from state that changed before the append', async () => {
    const store = createInMemoryEventStore();
    let chosen: string[] = [];
    const bump = createMultiStreamHandler({
      store,
      maxRetries: 5,
      streams: async (_c: { type: 'Bump'; data: Record<string, never> }, load) => {
        const target = await load('pointer-1', pointer);
        chosen.push(target);
        // Move the pointer after the first choice was read, as a concurrent writer would.
        if (chosen.length === 1) await store.append('pointer-1', [{ type: 'Pointed', data: { target: 'b' } }]);
        return { target: { streamId: `counter-${target}`, model: counter } };
      },
      decide: () => [{ streamId: `counter-${chosen[chosen.length - 1]}`, events: [{ type: 'Incremented', data: { by: 1 } }] }],
    });
    const result = await bump({ type: 'Bump', data: {} }, {});
    expect(chosen).toEqual(['a', 'b']);
    expect(result.streamId).toBe('counter-b');
    expect(await store.readStream('counter-a')).toEqual([]);
    chosen = [];
  });

  it('passes the dispatch context to decide', async () => {
    const store = createInMemoryEventStore();
    const seen: unknown[] = [];
    const handle = createMultiStreamHandler({
      store,
      streams: (c: CounterCommand) => ({ counter: { streamId: `counter-${c.data.counterId}`, model: counter } }),
      decide: (_c, _s, context) => {
        seen.push(context.principal);
        return [];
      },
    });
    await handle(inc('ctx'), { principal: { id: 'p1', roles: ['x'] } });
    expect(seen).toEqual([{ id: 'p1', roles: ['x'] }]);
  });

  it('refuses a decision that names one stream twice instead of dropping a list', async () => {
    const store = createInMemoryEventStore();
    const handle = createMultiStreamHandler({
      store,
      streams: (_c: CounterCommand) => ({ counter: { streamId: 'counter-twice', model: counter } }),
      decide: () => [
        { streamId: 'counter-twice', events: [{ type: 'Incremented', data: { by: 1 } }] },
        { streamId: 'counter-twice', events: [{ type: 'Incremented', data: { by: 2 } }] },
      ],
    });
    const err = await handle(inc('twice'), {}).catch((e) => e);
    expect(isChronicleError(err, 'INVALID_ARGUMENT')).toBe(true);
    expect(await store.headPosition()).toBe(0);
  });

  it('refuses one stream read with two different models', async () => {
    const store = createInMemoryEventStore();
    const handle = createMultiStreamHandler({
      store,
      streams: async (_c: CounterCommand, load) => {
        await load('counter-z', pointer);
        return { counter: { streamId: 'counter-z', model: counter } };
      },
      decide: () => [],
    });
    const err = await handle(inc('z'), {}).catch((e) => e);
    expect(isChronicleError(err, 'INVALID_ARGUMENT')).toBe(true);
  });
});

describe('idempotency keys under races and no-ops', () => {
  // Open is refused once open; Close and Open toggle. A repeat of an applied Open is a domain refusal.
  type ToggleCommand = { type: 'Open' | 'Close' | 'EnsureOpen'; data: Record<string, never> };
  type ToggleEvent = { type: 'Opened' | 'Closed'; data: Record<string, never> };
  const toggle: Decider<ToggleCommand, ToggleEvent, { open: boolean }> = {
    initialState: { open: false },
    decide(command, state) {
      if (command.type === 'Open') {
        if (state.open) throw domainError('already open');
        return [{ type: 'Opened', data: {} }];
      }
      if (command.type === 'EnsureOpen') return state.open ? [] : [{ type: 'Opened', data: {} }];
      return state.open ? [{ type: 'Closed', data: {} }] : [];
    },
    evolve: (_s, e) => ({ open: e.type === 'Opened' }),
  };
  const cmd = (type: ToggleCommand['type']): ToggleCommand => ({ type, data: {} });

  it('a retry that read the state before the first commit is answered with the first status, not a refusal', async () => {
    const store = createInMemoryEventStore();
    let stale = false;
    // The retry reads the stream before the original commits: simulate by serving one read from before it.
    const racing = {
      ...store,
      readStream: async (streamId: string, options?: Parameters<typeof store.readStream>[1]) => {
        if (stale) {
          stale = false;
          return [];
        }
        return store.readStream(streamId, options);
      },
    };
    const handle = createCommandHandler({ store: racing, decider: toggle, streamId: () => 'toggle-1', cacheSize: 0 });
    const first = await handle(cmd('Open'), { idempotencyKey: 'k' });
    stale = true;
    // Decided on the stale state, its append carries the key: the store answers with the first write's results.
    expect(await handle(cmd('Open'), { idempotencyKey: 'k' })).toEqual(first);
    expect(await store.readStream('toggle-1')).toHaveLength(1);
    // A retry decided on the current state is refused by the decider, and answered from the key all the same.
    expect(await handle(cmd('Open'), { idempotencyKey: 'k' })).toEqual(first);
    // Without a key, the same command is refused as it should be.
    const refused = await handle(cmd('Open'), {}).catch((e) => e);
    expect(isChronicleError(refused, 'DOMAIN_RULE')).toBe(true);
  });

  it('records the key of a no-op, so its replay after a state change writes nothing', async () => {
    const store = createInMemoryEventStore();
    const handle = createCommandHandler({ store, decider: toggle, streamId: () => 'toggle-2' });
    await handle(cmd('Open'), {});
    const noop = await handle(cmd('EnsureOpen'), { idempotencyKey: 'ensure-1' });
    expect(noop).toEqual({ streamId: 'toggle-2', version: 1, position: 1 });
    await handle(cmd('Close'), {});
    expect(await handle(cmd('EnsureOpen'), { idempotencyKey: 'ensure-1' })).toEqual(noop);
    expect((await store.readStream('toggle-2')).map((e) => e.type)).toEqual(['Opened', 'Closed']);
  });

  it('refuses a key reused with other data, even when the first request is still in flight, and writes nothing', async () => {
    const store = createInMemoryEventStore();
    const handle = createCommandHandler({ store, decider: counter, streamId: (c) => `counter-${c.data.counterId}` });
    const first = await handle(inc('m', 2), { idempotencyKey: 'restock-1' });
    const other = await handle(inc('m', 3), { idempotencyKey: 'restock-1' }).catch((e) => e);
    expect(isChronicleError(other, 'IDEMPOTENCY_MISMATCH')).toBe(true);
    const elsewhere = await handle(inc('n', 2), { idempotencyKey: 'restock-1' }).catch((e) => e);
    expect(isChronicleError(elsewhere, 'IDEMPOTENCY_MISMATCH')).toBe(true);
    // The same data again, its keys in another order, is the same request.
    const same = await handle({ type: 'Increment', data: { by: 2, counterId: 'm' } }, { idempotencyKey: 'restock-1' });
    expect(same).toEqual(first);
    expect(await store.headPosition()).toBe(1);

    const racing = await Promise.allSettled([
      handle(inc('r', 1), { idempotencyKey: 'race' }),
      handle(inc('r', 5), { idempotencyKey: 'race' }),
    ]);
    expect(racing.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
    const refused = racing.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect(isChronicleError(refused.reason, 'IDEMPOTENCY_MISMATCH')).toBe(true);
    expect((await store.readStream('counter-r')).length).toBe(1);
  });

  it('refuses an empty first role and a role that is not a stream, instead of naming another stream or throwing a TypeError', async () => {
    const store = createInMemoryEventStore();
    const emptyFirst = createMultiStreamHandler({
      store,
      streams: (_c: CounterCommand) => ({
        others: new Map<string, StreamSpec<CounterState>>(),
        counter: { streamId: 'counter-e', model: counter },
      }),
      decide: () => [],
    });
    const e1 = await emptyFirst(inc('e'), {}).catch((e) => e);
    expect(isChronicleError(e1, 'INVALID_ARGUMENT')).toBe(true);
    const missing = createMultiStreamHandler({
      store,
      streams: (_c: CounterCommand) => ({
        counter: { streamId: 'counter-m', model: counter },
        extra: undefined as unknown as StreamSpec,
      }),
      decide: () => [],
    });
    const e2 = await missing(inc('m'), {}).catch((e) => e);
    expect(isChronicleError(e2, 'INVALID_ARGUMENT')).toBe(true);
    expect(e2.message).toContain('role extra');
  });
});
