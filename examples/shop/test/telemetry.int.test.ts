// What one command over HTTP leaves behind when the application registers a tracer provider: the spans (HTTP, command,
// append, the projection batch linked back to the command), the metric samples that moved, and one log line.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { context, SpanKind, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
  type SpanExporter,
} from '@opentelemetry/sdk-trace-base';
import { formatTraceparent, instrumentOpenTelemetry, loggingMiddleware, type OpenTelemetryBridge } from 'chronicle-es';
import { logRedaction } from 'chronicle-es/http';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createShop } from '../app.js';
import { createShopAuth } from '../auth.js';
import { readShopConfig } from '../config.js';
import { createShopServer } from '../server.js';

const ADMIN = 'telemetry-admin-key-0123456789';
const exporter = new InMemorySpanExporter();
let bridge: OpenTelemetryBridge;
const dirs: string[] = [];

// #region register
// At startup: the application's tracer provider and context manager, then Chronicle's bridge onto them.
function traceWithChronicle(exporter: SpanExporter): Promise<OpenTelemetryBridge> {
  trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  return instrumentOpenTelemetry();
}
// #endregion register

beforeAll(async () => {
  bridge = await traceWithChronicle(exporter);
});
afterAll(() => {
  bridge.close();
  trace.disable();
  context.disable();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

// Prometheus text → value of the sample `name` whose labels include `labels` (0 when absent).
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const own = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1], l[2]]));
    if (Object.entries(labels).every(([k, v]) => own[k] === v)) return Number(m[3]);
  }
  return 0;
}

const traceparentOf = (span: ReadableSpan) => {
  const sc = span.spanContext();
  return formatTraceparent(sc.traceId, sc.spanId, sc.traceFlags);
};

describe('one command over HTTP, traced', () => {
  it('produces an HTTP, a command and an append span, a linked projection batch span, moved metrics and one log line', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'shop-telemetry-'));
    dirs.push(dataDir);
    const lines: Array<Record<string, unknown>> = [];
    const raw: string[] = [];
    const sink = new Writable({
      write(chunk, _encoding, done) {
        for (const line of String(chunk).split('\n').filter(Boolean)) {
          raw.push(line);
          lines.push(JSON.parse(line));
        }
        done();
      },
    });
    const { logLevel } = readShopConfig({ LOG_LEVEL: 'info' });
    const log = pino({ level: logLevel, redact: logRedaction }, sink);
    const shop = await createShop({
      dataDir,
      pollIntervalMs: 20,
      middleware: [loggingMiddleware(log.child({ component: 'bus' }))],
    });
    const { authenticate } = createShopAuth({ NODE_ENV: 'test', SHOP_API_KEYS: `${ADMIN}:admin:ops-admin` }, { dataDir });
    const server = await createShopServer(shop, { authenticate, logger: log });
    await server.listen({ port: 0, host: '127.0.0.1' });
    const url = `http://127.0.0.1:${(server.server.address() as { port: number }).port}`;
    const scrape = async () => {
      const res = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${ADMIN}` } });
      expect(res.status).toBe(200);
      return res.text();
    };
    try {
      const before = await scrape();
      exporter.reset();
      lines.length = 0;
      const client = { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7' };
      const res = await fetch(`${url}/commands/CreateProduct`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: `Bearer ${ADMIN}`,
          'x-correlation-id': 'corr-telemetry-1',
          traceparent: `00-${client.traceId}-${client.spanId}-01`,
        },
        body: JSON.stringify({ productId: 'tel-1', sku: 'TEL-1', name: 'Traced', priceCents: 100, currency: 'EUR' }),
      });
      expect(res.status).toBe(200);
      const status = (await res.json()) as { streamId: string; version: number; position: number };
      // The catalog projection applies the event in its own batch, soon after.
      await shop.projector!.waitForPosition(status.position, { projections: ['catalog'], timeoutMs: 10_000 });
      await expect.poll(() => exporter.getFinishedSpans().some((s) => s.name === 'projection.batch catalog')).toBe(true);

      // Spans: HTTP (child of the client's), command (child of HTTP), append (child of command), batch linking to command.
      const spans = exporter.getFinishedSpans();
      const one = (name: string) => {
        const found = spans.filter((s) => s.name === name);
        expect(found.map((s) => s.name)).toEqual([name]);
        return found[0];
      };
      const http = one('POST /commands/:name');
      const command = one('command CreateProduct');
      const append = one('chronicle.append');
      const batch = one('projection.batch catalog');
      expect(http.kind).toBe(SpanKind.SERVER);
      expect(http.spanContext().traceId).toBe(client.traceId);
      expect(http.parentSpanContext?.spanId).toBe(client.spanId);
      expect(http.attributes).toMatchObject({
        'http.request.method': 'POST',
        'http.route': '/commands/:name',
        'http.response.status_code': 200,
      });
      expect(command.parentSpanContext?.spanId).toBe(http.spanContext().spanId);
      expect(command.spanContext().traceId).toBe(client.traceId);
      expect(command.attributes).toMatchObject({
        'chronicle.message.kind': 'command',
        'chronicle.message.name': 'CreateProduct',
        'chronicle.correlation_id': 'corr-telemetry-1',
        'chronicle.stream': status.streamId,
        'chronicle.stream.version': 1,
        'chronicle.position': status.position,
        'chronicle.outcome': 'ok',
      });
      expect(append.parentSpanContext?.spanId).toBe(command.spanContext().spanId);
      expect(append.attributes).toMatchObject({
        'chronicle.store': 'sqlite',
        'chronicle.stream': status.streamId,
        'chronicle.events': 1,
        'chronicle.position': status.position,
        'chronicle.outcome': 'ok',
      });
      expect(batch.kind).toBe(SpanKind.CONSUMER);
      expect(batch.attributes).toMatchObject({
        'chronicle.projection': 'catalog',
        'chronicle.events': 1,
        'chronicle.position': status.position,
        'chronicle.outcome': 'ok',
      });
      expect(batch.links.map((l) => l.context.spanId)).toEqual([command.spanContext().spanId]);
      // The link comes from the event itself: its metadata names the span that wrote it.
      const [event] = await shop.eventStore!.readStream(status.streamId);
      expect(event.metadata).toMatchObject({ correlationId: 'corr-telemetry-1', traceparent: traceparentOf(command) });

      // Metrics: the samples this one command moved.
      const after = await scrape();
      const moved = (name: string, labels: Record<string, string>) => sample(after, name, labels) - sample(before, name, labels);
      expect(
        moved('chronicle_dispatch_duration_seconds_count', { kind: 'command', message: 'CreateProduct', outcome: 'ok' }),
      ).toBe(1);
      expect(moved('chronicle_dispatch_total', { kind: 'command', message: 'CreateProduct', outcome: 'ok' })).toBe(1);
      expect(moved('chronicle_http_requests_total', { method: 'POST', route: '/commands/:name', status: '200' })).toBe(1);
      expect(moved('chronicle_appends_total', { backend: 'sqlite', outcome: 'ok' })).toBe(1);
      expect(moved('chronicle_events_written_total', { backend: 'sqlite' })).toBe(1);
      expect(moved('chronicle_append_group_size_count', { backend: 'sqlite' })).toBe(1);
      expect(moved('chronicle_append_group_size_sum', { backend: 'sqlite' })).toBe(1);
      expect(moved('chronicle_projection_events_applied_total', { projection: 'catalog' })).toBe(1);
      expect(moved('chronicle_projection_batch_duration_seconds_count', { projection: 'catalog', outcome: 'ok' })).toBe(1);
      expect(sample(after, 'chronicle_projection_position', { projection: 'catalog' })).toBe(status.position);

      // Logs: one line for the command's outcome, with request and correlation ids; the API key nowhere.
      const dispatched = lines.filter((l) => l.msg === 'dispatched' && l.message === 'CreateProduct');
      expect(dispatched).toHaveLength(1);
      expect(dispatched[0]).toMatchObject({
        component: 'bus',
        kind: 'command',
        outcome: 'ok',
        requestId: 'corr-telemetry-1',
        correlationId: 'corr-telemetry-1',
        actor: 'ops-admin',
        traceId: client.traceId,
        streamId: status.streamId,
        version: 1,
        position: status.position,
        level: 30,
      });
      expect(raw.filter((l) => l.includes(ADMIN))).toEqual([]);
    } finally {
      await server.close();
      await shop.projector?.stop();
      await shop.eventStore?.close();
    }
  });
});
