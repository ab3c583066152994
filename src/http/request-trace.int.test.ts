// HTTP server spans on a real socket: one per request, under the client's trace, with the route and status; a request
// the client abandons still ends its span; queries pass the server span on to the query bus.
import { context, SpanStatusCode, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { createQueryBus, defineQuery, instrumentOpenTelemetry, type OpenTelemetryBridge } from 'chronicle-es';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createServer } from './server.js';

const exporter = new InMemorySpanExporter();
let bridge: OpenTelemetryBridge;
let app: FastifyInstance;
let url: string;
const GetAnswer = defineQuery('GetAnswer', z.object({}));

beforeAll(async () => {
  trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  bridge = await instrumentOpenTelemetry();
  // Positions past 100 are never reached: a wait for one lasts as long as the client allows.
  const queryBus = createQueryBus({
    waitForPosition: (position, { timeoutMs }) =>
      position <= 100 ? Promise.resolve() : new Promise((_, reject) => setTimeout(() => reject(new Error('late')), timeoutMs)),
  }).register(GetAnswer, () => 42);
  // forceCloseConnections: with a fetch keep-alive connection open and a request its client abandoned mid-wait,
  // close() waits indefinitely here, telemetry or not (seen with the bridge off too).
  app = await createServer({ queryBus, logger: false, defaultMetrics: false, fastify: { forceCloseConnections: true } });
  await app.listen({ port: 0, host: '127.0.0.1' });
  url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
});
afterAll(async () => {
  await app.close();
  bridge.close();
  trace.disable();
  context.disable();
});

const until = async (predicate: () => boolean) => {
  await expect.poll(predicate, { timeout: 5000 }).toBe(true);
};

describe('HTTP request spans', () => {
  it('span each request under the client trace, with route and status, and parent the query span', async () => {
    exporter.reset();
    const res = await fetch(`${url}/queries/GetAnswer?minPosition=1`, {
      headers: { traceparent: '00-11111111111111111111111111111111-2222222222222222-01' },
    });
    expect(await res.json()).toBe(42);
    expect((await fetch(`${url}/nowhere`)).status).toBe(404);
    await until(() => exporter.getFinishedSpans().length === 3);
    const [query, http, missing] = ['query GetAnswer', 'GET /queries/:name', 'GET (unmatched)'].map((name) => {
      const found = exporter.getFinishedSpans().filter((s) => s.name === name);
      expect(found, name).toHaveLength(1);
      return found[0];
    });
    expect(http.parentSpanContext?.spanId).toBe('2222222222222222');
    expect(http.attributes).toMatchObject({ 'http.route': '/queries/:name', 'http.response.status_code': 200 });
    expect(http.status.code).toBe(SpanStatusCode.UNSET);
    expect(query.parentSpanContext?.spanId).toBe(http.spanContext().spanId);
    expect(query.attributes).toMatchObject({ 'chronicle.min_position': 1, 'chronicle.outcome': 'ok' });
    expect(missing.attributes['http.response.status_code']).toBe(404);
    // A request answered through inject() has a span too, and is not taken for abandoned.
    exporter.reset();
    expect((await app.inject({ method: 'GET', url: '/queries/GetAnswer' })).statusCode).toBe(200);
    await until(() => exporter.getFinishedSpans().some((s) => s.name === 'GET /queries/:name'));
    const injected = exporter.getFinishedSpans().find((s) => s.name === 'GET /queries/:name')!;
    expect(injected.attributes['http.response.status_code']).toBe(200);
    expect(injected.status.code).toBe(SpanStatusCode.UNSET);
  });

  it('end the span of a request the client abandons, as an error without a status', async () => {
    exporter.reset();
    const abort = new AbortController();
    const pending = fetch(`${url}/queries/GetAnswer?minPosition=1000`, {
      headers: { 'chronicle-wait-ms': '3000' },
      signal: abort.signal,
    }).catch((err: Error) => err.name);
    setTimeout(() => abort.abort(), 200);
    expect(await pending).toBe('AbortError');
    await until(() => exporter.getFinishedSpans().some((s) => s.name === 'GET /queries/:name'));
    const http = exporter.getFinishedSpans().find((s) => s.name === 'GET /queries/:name')!;
    expect(http.status).toMatchObject({ code: SpanStatusCode.ERROR, message: expect.stringContaining('closed the connection') });
    expect(http.attributes['http.response.status_code']).toBeUndefined();
  });
});
