import { describe, expect, it } from 'vitest';
import { createCommandBus } from './command-bus.js';
import { createCommandHandler } from './command-handler.js';
import { counter, Increment } from './fixtures/counter.js';
import { createInMemoryEventStore } from './in-memory-event-store.js';
import { loggingMiddleware } from './middleware.js';

describe('loggingMiddleware', () => {
  it('logs one line per command outcome with request and correlation ids, trace id and status, never the payload', async () => {
    const lines: Array<{ level: string; obj: Record<string, unknown>; msg?: string }> = [];
    const log = {
      info: (obj: object, msg?: string) => lines.push({ level: 'info', obj: obj as Record<string, unknown>, msg }),
      warn: (obj: object, msg?: string) => lines.push({ level: 'warn', obj: obj as Record<string, unknown>, msg }),
    };
    const store = createInMemoryEventStore();
    const bus = createCommandBus({ middleware: [loggingMiddleware(log)] }).register(
      Increment,
      createCommandHandler({ store, decider: counter, streamId: (c) => `counter-${c.data.counterId}` }),
    );
    const principal = { id: 'w1', roles: ['writer'] };
    const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    await bus.dispatch(
      Increment,
      { counterId: 'secret-looking', by: 100 },
      { principal, requestId: 'r-1', correlationId: 'c-1', traceparent },
    );
    await bus.dispatch(Increment, { counterId: 'secret-looking', by: 1 }, { principal, requestId: 'r-2' }).catch(() => {});
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({
      level: 'info',
      msg: 'dispatched',
      obj: {
        kind: 'command',
        message: 'Increment',
        outcome: 'ok',
        requestId: 'r-1',
        correlationId: 'c-1',
        actor: 'w1',
        traceId: '0af7651916cd43dd8448eb211c80319c',
        streamId: 'counter-secret-looking',
        version: 1,
        position: 1,
      },
    });
    expect(lines[1]).toMatchObject({
      level: 'warn',
      msg: 'dispatch failed',
      obj: {
        outcome: 'DOMAIN_RULE',
        code: 'DOMAIN_RULE',
        requestId: 'r-2',
        correlationId: expect.any(String),
        traceId: undefined,
      },
    });
    // The stream id is the status's; the payload itself (which names it too) is not in the line.
    for (const { obj } of lines) expect(Object.keys(obj)).not.toContain('payload');
    expect(JSON.stringify(lines[1])).not.toContain('secret-looking');
  });
});
