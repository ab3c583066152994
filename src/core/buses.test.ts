import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createCommandBus } from './command-bus.js';
import { createCommandHandler } from './command-handler.js';
import { ChronicleError, isChronicleError } from './errors.js';
import { counter, Increment } from './fixtures/counter.js';
import { createInMemoryEventStore } from './in-memory-event-store.js';
import { defineCommand, defineQuery, MAX_VALIDATION_ISSUES } from './messages.js';
import type { Middleware } from './middleware.js';
import { createQueryBus } from './query-bus.js';

const writer = { id: 'w1', roles: ['writer'] };

function setup(middleware: Middleware[] = []) {
  const store = createInMemoryEventStore();
  const bus = createCommandBus({ middleware }).register(
    Increment,
    createCommandHandler({ store, decider: counter, streamId: (c) => `counter-${c.data.counterId}` }),
  );
  return { store, bus };
}

describe('command bus', () => {
  it('dispatches a valid command and returns only the status', async () => {
    const { bus } = setup();
    const result = await bus.dispatch('Increment', { counterId: 'a', by: 1 }, { principal: writer });
    expect(result).toEqual({ streamId: 'counter-a', version: 1, position: 1 });
  });

  it('rejects a schema violation with VALIDATION_FAILED listing the fields, writing nothing', async () => {
    const { bus, store } = setup();
    const err = await bus.dispatch('Increment', { counterId: '', by: 'x' }, { principal: writer }).catch((e) => e);
    expect(isChronicleError(err, 'VALIDATION_FAILED')).toBe(true);
    expect(err.details.errors.map((e: { path: string }) => e.path).sort()).toEqual(['by', 'counterId']);
    expect(await store.headPosition()).toBe(0);
  });

  it('rejects non-object payloads with VALIDATION_FAILED', async () => {
    const { bus } = setup();
    for (const payload of [null, undefined, 42, 'str', [1, 2]]) {
      const err = await bus.dispatch('Increment', payload, { principal: writer }).catch((e) => e);
      expect(isChronicleError(err, 'VALIDATION_FAILED')).toBe(true);
    }
  });

  it('names an unknown command with UNKNOWN_MESSAGE', async () => {
    const { bus } = setup();
    const err = await bus.dispatch('Nope', {}).catch((e) => e);
    expect(isChronicleError(err, 'UNKNOWN_MESSAGE')).toBe(true);
    expect(err.message).toContain('Nope');
  });

  it('enforces the message policy for in-process callers too, writing nothing when denied', async () => {
    const { bus, store } = setup();
    const anonymous = await bus.dispatch(Increment, { counterId: 'a', by: 1 }).catch((e) => e);
    expect(isChronicleError(anonymous, 'UNAUTHENTICATED')).toBe(true);
    const reader = await bus
      .dispatch(Increment, { counterId: 'a', by: 1 }, { principal: { id: 'r', roles: ['reader'] } })
      .catch((e) => e);
    expect(isChronicleError(reader, 'FORBIDDEN')).toBe(true);
    expect(reader.message).toBe('only writers may increment');
    expect(await store.headPosition()).toBe(0);
  });

  it('applies a bus-wide authorizer besides message policies', async () => {
    const store = createInMemoryEventStore();
    const bus = createCommandBus({ authorize: (p) => p?.id !== 'banned' || 'banned' }).register(
      Increment,
      createCommandHandler({ store, decider: counter, streamId: (c) => `counter-${c.data.counterId}` }),
    );
    const err = await bus
      .dispatch(Increment, { counterId: 'a', by: 1 }, { principal: { id: 'banned', roles: ['writer'] } })
      .catch((e) => e);
    expect(isChronicleError(err, 'FORBIDDEN')).toBe(true);
  });

  it('runs middleware outermost first around validation, and middleware sees failures', async () => {
    const seen: string[] = [];
    const tag =
      (name: string): Middleware =>
      async (_ctx, next) => {
        seen.push(`${name}>`);
        try {
          return await next();
        } catch (err) {
          seen.push(`${name}!${(err as ChronicleError).code}`);
          throw err;
        } finally {
          seen.push(`<${name}`);
        }
      };
    const { bus } = setup([tag('a'), tag('b')]);
    await bus.dispatch(Increment, { counterId: 'z', by: 1 }, { principal: writer });
    await bus.dispatch('Increment', { counterId: 'z' }, { principal: writer }).catch(() => {});
    expect(seen).toEqual(['a>', 'b>', '<b', '<a', 'a>', 'b>', 'b!VALIDATION_FAILED', '<b', 'a!VALIDATION_FAILED', '<a']);
  });

  it('finds a registered definition by name', () => {
    const { bus } = setup();
    expect(bus.definition('Increment')).toBe(Increment);
    expect(bus.definition('Nope')).toBeUndefined();
  });

  it('refuses to register a command twice', () => {
    const { bus } = setup();
    expect(() => bus.register(Increment, async () => ({ streamId: 'x', version: 0, position: 0 }))).toThrow(ChronicleError);
  });
});

describe('query bus', () => {
  const GetThing = defineQuery('GetThing', z.object({ id: z.string() }), {
    reads: ['things'],
    resultPolicy: (p, r: { owner: string }) => r.owner === p?.id || 'not your thing',
  });

  it('validates, runs and checks the result policy', async () => {
    const bus = createQueryBus().register(GetThing, (q) => ({ owner: q.id }));
    expect(await bus.run(GetThing, { id: 'u1' }, { principal: { id: 'u1', roles: [] } })).toEqual({ owner: 'u1' });
    const denied = await bus.run(GetThing, { id: 'u2' }, { principal: { id: 'u1', roles: [] } }).catch((e) => e);
    expect(isChronicleError(denied, 'FORBIDDEN')).toBe(true);
    const invalid = await bus.run('GetThing', { id: 5 }).catch((e) => e);
    expect(isChronicleError(invalid, 'VALIDATION_FAILED')).toBe(true);
    const unknown = await bus.run('Missing', {}).catch((e) => e);
    expect(isChronicleError(unknown, 'UNKNOWN_MESSAGE')).toBe(true);
  });

  it('waits for minPosition on the projections the query reads, and passes TIMEOUT through', async () => {
    const waits: unknown[] = [];
    const bus = createQueryBus({
      waitForPosition: async (position, options) => {
        waits.push({ position, ...options });
        if (position > 10) throw new ChronicleError('TIMEOUT', 'not there yet');
      },
      defaultWaitMs: 1234,
    }).register(GetThing, (q) => ({ owner: q.id }));
    const principal = { id: 'a', roles: [] };
    await bus.run(GetThing, { id: 'a' }, { principal, minPosition: 5 });
    expect(waits).toEqual([{ position: 5, projections: ['things'], timeoutMs: 1234 }]);
    const err = await bus.run(GetThing, { id: 'a' }, { principal, minPosition: 11, waitMs: 1 }).catch((e) => e);
    expect(isChronicleError(err, 'TIMEOUT')).toBe(true);
    const bad = await bus.run(GetThing, { id: 'a' }, { principal, minPosition: -1 }).catch((e) => e);
    expect(isChronicleError(bad, 'INVALID_ARGUMENT')).toBe(true);
  });
});

describe('roles, checked before validation', () => {
  const Guarded = defineCommand('Guarded', z.object({ n: z.number() }), { roles: ['writer'] });
  const Listed = defineQuery('Listed', z.object({ n: z.number() }), { roles: ['reader'], result: z.number() });
  const handled: unknown[] = [];
  const commands = createCommandBus().register(Guarded, async (c) => {
    handled.push(c.data);
    return { streamId: 's', version: 1, position: 1 };
  });
  const queries = createQueryBus().register(Listed, ({ n }) => n);

  it('answers UNAUTHENTICATED without a principal and FORBIDDEN without a role, whatever the body', async () => {
    for (const body of [{ n: 1 }, { n: 'not a number' }, null, 'x']) {
      const anonymous = await commands.dispatch('Guarded', body).catch((e) => e);
      expect(anonymous.code, JSON.stringify(body)).toBe('UNAUTHENTICATED');
      const stranger = await commands.dispatch('Guarded', body, { principal: { id: 'r', roles: ['reader'] } }).catch((e) => e);
      expect(stranger.code, JSON.stringify(body)).toBe('FORBIDDEN');
      const query = (await queries
        .run('Listed', body, { principal: { id: 'w', roles: ['writer'] } })
        .catch((e) => e)) as ChronicleError;
      expect(query.code, JSON.stringify(body)).toBe('FORBIDDEN');
    }
    expect(handled).toEqual([]);
  });

  it('validates only once the role holds', async () => {
    const invalid = await commands.dispatch('Guarded', { n: 'x' }, { principal: writer }).catch((e) => e);
    expect(invalid.code).toBe('VALIDATION_FAILED');
    await commands.dispatch(Guarded, { n: 2 }, { principal: writer });
    expect(handled).toEqual([{ n: 2 }]);
    expect(await queries.run(Listed, { n: 3 }, { principal: { id: 'r', roles: ['reader'] } })).toBe(3);
  });

  it('refuses roles that are not a list of names at definition time', () => {
    expect(() => defineCommand('Bad', z.object({}), { roles: 'writer' as never })).toThrow(/roles must be an array/);
    expect(() => defineQuery('Bad', z.object({}), { roles: [''] })).toThrow(/roles must be an array/);
  });
});

describe('validation limits', () => {
  const Note = defineCommand('Note', z.strictObject({ text: z.string(), tags: z.array(z.string()).optional() }));
  const seen: unknown[] = [];
  const bus = createCommandBus().register(Note, async (c) => {
    seen.push(c.data);
    return { streamId: 's', version: 1, position: 1 };
  });

  it('refuses strings that are not well-formed Unicode, in values and keys, and accepts proper pairs', async () => {
    for (const body of [{ text: '\ud800x' }, { text: 'ok', tags: ['a', 'b\udc00'] }, { text: 'ok', ['\ud800']: 1 }]) {
      const err = await bus.dispatch('Note', body).catch((e) => e);
      expect(err.code, JSON.stringify(body)).toBe('VALIDATION_FAILED');
    }
    const bad = await bus.dispatch('Note', { text: 'ok', tags: ['a', 'b\udc00'] }).catch((e) => e);
    expect(bad.details.errors).toEqual([{ path: 'tags.1', message: 'not well-formed Unicode (lone surrogate)' }]);
    await bus.dispatch(Note, { text: 'emoji \ud83d\ude00 is a pair' });
    expect(seen).toEqual([{ text: 'emoji \ud83d\ude00 is a pair' }]);
  });

  it('refuses a lone surrogate that a transform cut out of a proper pair', async () => {
    const Short = defineCommand('Short', z.object({ text: z.string().transform((t) => t.slice(0, 3)) }));
    const shortBus = createCommandBus().register(Short, async () => ({ streamId: 's', version: 1, position: 1 }));
    const err = await shortBus.dispatch(Short, { text: 'ab\ud83d\ude00cd' }).catch((e) => e);
    expect(err.code).toBe('VALIDATION_FAILED');
    expect(err.details.errors).toEqual([{ path: 'text', message: 'not well-formed Unicode (lone surrogate)' }]);
  });

  it('lists at most MAX_VALIDATION_ISSUES issues, counts the rest, and bounds each message', async () => {
    const Many = defineCommand('Many', z.array(z.number()));
    const manyBus = createCommandBus().register(Many, async () => ({ streamId: 's', version: 1, position: 1 }));
    const err = await manyBus
      .dispatch(
        'Many',
        Array.from({ length: 5000 }, () => 'x'),
      )
      .catch((e) => e);
    expect(err.code).toBe('VALIDATION_FAILED');
    expect(err.details.errors).toHaveLength(MAX_VALIDATION_ISSUES);
    expect(err.details.omitted).toBe(5000 - MAX_VALIDATION_ISSUES);
    expect(err.message.length).toBeLessThan(2000);

    const keys = Object.fromEntries(Array.from({ length: 40_000 }, (_, i) => [`k${i}`, 1]));
    const unknownKeys = await bus.dispatch('Note', { text: 'x', ...keys }).catch((e) => e);
    expect(unknownKeys.code).toBe('VALIDATION_FAILED');
    expect(JSON.stringify(unknownKeys.details).length).toBeLessThan(50_000);
    expect(seen).not.toContainEqual(expect.objectContaining({ k0: 1 }));
  });
});
