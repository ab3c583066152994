// Both real event stores report their appends and group commits on Chronicle's channels: append spans and the metrics
// of appends, events written and group sizes, on a SQLite file and on PostgreSQL.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { type EventStore, instrumentOpenTelemetry, type OpenTelemetryBridge } from 'chronicle-es';
import { createHttpMetrics } from 'chronicle-es/http';
import { createSqliteEventStore } from 'chronicle-es/sqlite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgStoreFixture, token } from './support/pg-store-fixture.js';
import { pgAvailable } from './support/postgres.js';

const exporter = new InMemorySpanExporter();
let bridge: OpenTelemetryBridge;
const dir = mkdtempSync(join(tmpdir(), 'telemetry-stores-'));
beforeAll(async () => {
  trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  bridge = await instrumentOpenTelemetry();
});
afterAll(() => {
  bridge.close();
  trace.disable();
  context.disable();
  rmSync(dir, { recursive: true, force: true });
});

const value = (text: string, series: string) => {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
};

async function appendsReported(store: EventStore, backend: string) {
  const metrics = await createHttpMetrics({ defaultMetrics: false });
  const stop = metrics.listen();
  exporter.reset();
  try {
    const id = token();
    // 20 appends at once: the store groups them into as few transactions as it can.
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        store.append(`tel-${id}-${i}`, [
          { type: 'A', data: { i } },
          { type: 'B', data: {} },
        ]),
      ),
    );
    const bad = await store.append(`tel-${id}-0`, [{ type: 'A', data: {} }], { expectedVersion: 0 }).catch((e) => e);
    expect(bad.code).toBe('CONCURRENCY_CONFLICT');
    const text = await metrics.registry!.metrics();
    expect(value(text, `chronicle_appends_total{backend="${backend}",outcome="ok"}`)).toBe(20);
    expect(value(text, `chronicle_appends_total{backend="${backend}",outcome="CONCURRENCY_CONFLICT"}`)).toBe(1);
    expect(value(text, `chronicle_events_written_total{backend="${backend}"}`)).toBe(40);
    // Every append went through some group, the failed one too; fewer groups than appends means they were shared.
    expect(value(text, `chronicle_append_group_size_sum{backend="${backend}"}`)).toBe(21);
    const groups = value(text, `chronicle_append_group_size_count{backend="${backend}"}`);
    expect(groups).toBeGreaterThanOrEqual(2);
    expect(groups).toBeLessThan(21);
    const spans = exporter.getFinishedSpans().filter((s) => s.name === 'chronicle.append');
    expect(spans).toHaveLength(21);
    expect(spans.every((s) => s.attributes['chronicle.store'] === backend)).toBe(true);
    expect(spans.filter((s) => s.attributes['chronicle.outcome'] === 'ok').map((s) => s.attributes['chronicle.events'])).toEqual(
      Array(20).fill(2),
    );
  } finally {
    stop();
  }
}

describe('store telemetry', () => {
  it('SQLite reports its appends, events written and group-commit sizes', async () => {
    const store = createSqliteEventStore({ path: join(dir, 'events.db') });
    try {
      await appendsReported(store, 'sqlite');
    } finally {
      await store.close();
    }
  });

  describe.skipIf(!pgAvailable)('on PostgreSQL', () => {
    const { open } = pgStoreFixture('tel', 4);
    it('PostgreSQL reports its appends, events written and group sizes', async () => {
      await appendsReported(open(), 'postgres');
    });
  });
});
