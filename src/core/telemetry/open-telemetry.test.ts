import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createCommandBus } from '../command-bus.js';
import { createCommandHandler } from '../command-handler.js';
import { ChronicleError } from '../errors.js';
import { counter, Increment } from '../fixtures/counter.js';
import { createInMemoryEventStore } from '../in-memory-event-store.js';
import { defineQuery } from '../messages.js';
import { defineProjection } from '../projections/define-projection.js';
import { createInMemoryReadStore, type InMemoryReadTx } from '../projections/in-memory-read-store.js';
import { createProjector } from '../projections/projector.js';
import { createQueryBus } from '../query-bus.js';
import { commandChannel, traced } from './channels.js';
import { instrumentOpenTelemetry, type OpenTelemetryBridge } from './open-telemetry.js';
import { formatTraceparent, parseTraceparent } from './traceparent.js';

const writer = { id: 'w1', roles: ['writer'] };
const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
let bridge: OpenTelemetryBridge;

beforeAll(async () => {
  trace.setGlobalTracerProvider(provider);
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  bridge = await instrumentOpenTelemetry();
});
afterEach(() => exporter.reset());
afterAll(() => {
  bridge.close();
  trace.disable();
  context.disable();
});

const spans = () => exporter.getFinishedSpans();
const named = (name: string): ReadableSpan => {
  const found = spans().filter((s) => s.name === name);
  expect(found.map((s) => s.name)).toEqual([name]);
  return found[0];
};
const traceparentOf = (span: ReadableSpan) => {
  const sc = span.spanContext();
  return formatTraceparent(sc.traceId, sc.spanId, sc.traceFlags);
};

function setup() {
  const store = createInMemoryEventStore();
  const bus = createCommandBus().register(
    Increment,
    createCommandHandler({ store, decider: counter, streamId: (c) => `counter-${c.data.counterId}` }),
  );
  return { store, bus };
}

describe('the OpenTelemetry bridge', () => {
  it('spans a command with its append as a child, under the caller trace, and stamps the span on the events', async () => {
    const { store, bus } = setup();
    const caller = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    await bus.dispatch(Increment, { counterId: 'a', by: 2 }, { principal: writer, correlationId: 'c-1', traceparent: caller });
    const command = named('command Increment');
    const append = named('chronicle.append');
    expect(command.spanContext().traceId).toBe('0af7651916cd43dd8448eb211c80319c');
    expect(command.parentSpanContext?.spanId).toBe('b7ad6b7169203331');
    expect(append.parentSpanContext?.spanId).toBe(command.spanContext().spanId);
    expect(command.kind).toBe(SpanKind.INTERNAL);
    expect(command.attributes).toMatchObject({
      'chronicle.message.kind': 'command',
      'chronicle.message.name': 'Increment',
      'chronicle.correlation_id': 'c-1',
      'chronicle.stream': 'counter-a',
      'chronicle.stream.version': 1,
      'chronicle.position': 1,
      'chronicle.outcome': 'ok',
    });
    expect(append.attributes).toMatchObject({
      'chronicle.store': 'memory',
      'chronicle.stream': 'counter-a',
      'chronicle.events': 1,
      'chronicle.position': 1,
      'chronicle.outcome': 'ok',
    });
    const [event] = await store.readStream('counter-a');
    expect(event.metadata.traceparent).toBe(traceparentOf(command));
  });

  it('marks a refused command as an error with its code, and writes no append span', async () => {
    const { bus } = setup();
    await bus.dispatch(Increment, { counterId: 'b', by: 100 }, { principal: writer });
    exporter.reset();
    await expect(bus.dispatch(Increment, { counterId: 'b', by: 1 }, { principal: writer })).rejects.toThrow(/pass 100/);
    const command = named('command Increment');
    expect(command.status.code).toBe(SpanStatusCode.ERROR);
    expect(command.attributes['chronicle.outcome']).toBe('DOMAIN_RULE');
    expect(spans().map((s) => s.name)).toEqual(['command Increment']);
  });

  it('ends the span of a dispatch whose middleware throws synchronously', async () => {
    const store = createInMemoryEventStore();
    const refuse = () => {
      throw new ChronicleError('FORBIDDEN', 'closed today');
    };
    const bus = createCommandBus({ middleware: [refuse] }).register(
      Increment,
      createCommandHandler({ store, decider: counter, streamId: (c) => `counter-${c.data.counterId}` }),
    );
    await expect(bus.dispatch(Increment, { counterId: 's', by: 1 }, { principal: writer })).rejects.toThrow('closed today');
    const command = named('command Increment');
    expect(command.attributes['chronicle.outcome']).toBe('FORBIDDEN');
    expect(command.status.code).toBe(SpanStatusCode.ERROR);
  });

  it('spans a query with its minPosition, and a projection batch linked to the spans that wrote its events', async () => {
    const { store, bus } = setup();
    const readStore = createInMemoryReadStore();
    const totals = defineProjection<InMemoryReadTx>({
      name: 'totals',
      version: 1,
      handlers: {
        Incremented: (event, tx) => {
          tx.table<number>('sum').set('all', (tx.table<number>('sum').get('all') ?? 0) + (event.data as { by: number }).by);
        },
      },
    });
    const projector = createProjector({ eventStore: store, readStore, projections: [totals], pollIntervalMs: 10 });
    const GetTotal = defineQuery('GetTotal', z.object({}), { reads: ['totals'] });
    const queries = createQueryBus({ waitForPosition: (p, o) => projector.waitForPosition(p, o) }).register(
      GetTotal,
      () => readStore.reader('totals').table<number>('sum').get('all') ?? 0,
    );
    try {
      const first = await bus.dispatch(Increment, { counterId: 'x', by: 1 }, { principal: writer });
      const second = await bus.dispatch(Increment, { counterId: 'y', by: 2 }, { principal: writer });
      const writers = spans().filter((s) => s.name === 'command Increment');
      await projector.start();
      expect(await queries.run(GetTotal, {}, { minPosition: second.position })).toBe(3);
      const query = named('query GetTotal');
      expect(query.attributes).toMatchObject({ 'chronicle.min_position': second.position, 'chronicle.outcome': 'ok' });
      const batches = spans().filter((s) => s.name === 'projection.batch totals' && s.attributes['chronicle.events'] !== 0);
      expect(batches).toHaveLength(1);
      const [batch] = batches;
      expect(batch.kind).toBe(SpanKind.CONSUMER);
      expect(batch.attributes).toMatchObject({
        'chronicle.projection': 'totals',
        'chronicle.events': 2,
        'chronicle.position.after': first.position - 1,
        'chronicle.position': second.position,
        'chronicle.position.committed': second.position,
        'chronicle.outcome': 'ok',
      });
      expect(batch.links.map((l) => l.context.spanId).sort()).toEqual(writers.map((w) => w.spanContext().spanId).sort());
    } finally {
      await projector.stop();
    }
  });

  it('with no tracer provider registered, leaves events the caller trace context, never a no-op span one', async () => {
    // A tracer keeps the provider it first found: the bridge is made again without one.
    bridge.close();
    trace.disable();
    bridge = await instrumentOpenTelemetry();
    try {
      const { store, bus } = setup();
      const caller = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
      await bus.dispatch(Increment, { counterId: 'np', by: 1 }, { principal: writer });
      await bus.dispatch(Increment, { counterId: 'np', by: 1 }, { principal: writer, traceparent: caller });
      await expect(bus.dispatch(Increment, { counterId: 'np', by: 100 }, { principal: writer })).rejects.toThrow();
      const [first, second] = await store.readStream('counter-np');
      expect(first.metadata.traceparent).toBeUndefined();
      expect(second.metadata.traceparent).toBe(caller);
      expect(spans()).toEqual([]);
    } finally {
      bridge.close();
      trace.setGlobalTracerProvider(provider);
      bridge = await instrumentOpenTelemetry();
    }
  });

  it('stops spanning once closed, and builds no trace context while nothing listens', async () => {
    const { store, bus } = setup();
    const again = await instrumentOpenTelemetry();
    again.close();
    bridge.close();
    try {
      let built = 0;
      await traced(
        commandChannel,
        () => {
          built++;
          return { command: 'x', correlationId: 'y' };
        },
        async (ctx) => expect(ctx).toBeUndefined(),
      );
      expect(built).toBe(0);
      await bus.dispatch(Increment, { counterId: 'z', by: 1 }, { principal: writer });
      await bus.dispatch(Increment, { counterId: 'z', by: 1 }, { principal: writer, traceparent: 'not-a-trace-context' });
      expect(spans()).toEqual([]);
      const [event, second] = await store.readStream('counter-z');
      expect(event.metadata.traceparent).toBeUndefined();
      expect(second.metadata.traceparent).toBeUndefined();
    } finally {
      bridge = await instrumentOpenTelemetry();
    }
  });
});

describe('traceparent', () => {
  it('parses a version-00 header and formats it back; anything else is undefined', () => {
    const value = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    expect(parseTraceparent(value)).toEqual({
      traceId: '0af7651916cd43dd8448eb211c80319c',
      spanId: 'b7ad6b7169203331',
      flags: 1,
    });
    expect(formatTraceparent('0af7651916cd43dd8448eb211c80319c', 'b7ad6b7169203331', 1)).toBe(value);
    for (const bad of [
      undefined,
      42,
      '',
      value.toUpperCase(),
      `01${value.slice(2)}`,
      '00-00000000000000000000000000000000-b7ad6b7169203331-01',
      '00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01',
      `${value}-extra`,
      '00-0af7651916cd43dd8448eb211c80319c-b7ad6b716920333-001',
    ]) {
      expect(parseTraceparent(bad), String(bad)).toBeUndefined();
    }
  });
});
