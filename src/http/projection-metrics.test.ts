import type { ProjectionStatus } from 'chronicle-es';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { projectionMetrics } from './projection-metrics.js';

const status = (name: string, over: Partial<ProjectionStatus> = {}): ProjectionStatus => ({
  name,
  version: 1,
  position: 10,
  lagEvents: 2,
  lagSeconds: 0.25,
  state: 'live',
  ...over,
});

async function scrape(statuses: ProjectionStatus[]) {
  let calls = 0;
  const registry = new Registry();
  await projectionMetrics({
    status: async () => {
      calls++;
      return statuses;
    },
  })(registry);
  const text = await registry.metrics();
  return { text, calls };
}

describe('projection metrics', () => {
  it('exports position, lag and state per projection from one status() per scrape', async () => {
    const { text, calls } = await scrape([status('orders'), status('catalog', { state: 'failed', position: 3 })]);
    expect(calls).toBe(1);
    expect(text).toContain('chronicle_projection_position{projection="orders"} 10');
    expect(text).toContain('chronicle_projection_position{projection="catalog"} 3');
    expect(text).toContain('chronicle_projection_lag_events{projection="orders"} 2');
    expect(text).toContain('chronicle_projection_lag_seconds{projection="orders"} 0.25');
    expect(text).toContain('chronicle_projection_state{projection="catalog",state="failed"} 1');
    expect(text).toContain('chronicle_projection_state{projection="catalog",state="live"} 0');
    // No leases, no stalled append: those gauges have no series.
    expect(text).not.toMatch(/chronicle_projection_held\{/);
    expect(text).not.toMatch(/chronicle_event_store_stalled_read_seconds\{/);
  });

  it('exports which projections this worker holds, and the stalled append by backend', async () => {
    const stalledBy = { backend: '4242', since: new Date(0).toISOString(), openMs: 7500 };
    const { text } = await scrape([
      status('orders', { held: true, owner: 'w1', stalledBy }),
      status('catalog', { held: false, owner: 'w2', stalledBy }),
    ]);
    expect(text).toContain('chronicle_projection_held{projection="orders"} 1');
    expect(text).toContain('chronicle_projection_held{projection="catalog"} 0');
    expect(text).toContain('chronicle_event_store_stalled_read_seconds{backend="4242"} 7.5');
    expect(text.match(/chronicle_event_store_stalled_read_seconds\{/g)).toHaveLength(1);
  });
});
