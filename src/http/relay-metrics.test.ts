import { describe, expect, it } from 'vitest';
import { type RelayMetricsStatus, relayMetrics } from './relay-metrics.js';
import { createServer } from './server.js';

const status = (name: string, over: Partial<RelayMetricsStatus> = {}): RelayMetricsStatus => ({
  name,
  state: 'live',
  position: 40,
  lagEvents: 0,
  lagSeconds: 0,
  ...over,
});

function relay(s: RelayMetricsStatus) {
  const relay = {
    calls: 0,
    async status() {
      relay.calls++;
      return s;
    },
  };
  return relay;
}

async function scrape(metrics: ReturnType<typeof relayMetrics>) {
  const server = await createServer({ metrics, logger: false, defaultMetrics: false });
  try {
    const reply = await server.inject({ method: 'GET', url: '/metrics' });
    expect(reply.statusCode).toBe(200);
    return reply.body;
  } finally {
    await server.close();
  }
}

describe('relay metrics', () => {
  it('serves position, lag and state by relay in /metrics, one status() per relay per scrape', async () => {
    const orders = relay(status('orders', { position: 120, lagEvents: 7, lagSeconds: 1.5, state: 'catching_up' }));
    const audit = relay(status('audit', { state: 'reconnecting', position: 3 }));
    const text = await scrape(relayMetrics([orders, audit]));
    expect(orders.calls).toBe(1);
    expect(audit.calls).toBe(1);
    expect(text).toContain('chronicle_relay_position{relay="orders"} 120');
    expect(text).toContain('chronicle_relay_position{relay="audit"} 3');
    expect(text).toContain('chronicle_relay_lag_events{relay="orders"} 7');
    expect(text).toContain('chronicle_relay_lag_seconds{relay="orders"} 1.5');
    expect(text).toContain('chronicle_relay_state{relay="orders",state="catching_up"} 1');
    expect(text).toContain('chronicle_relay_state{relay="orders",state="live"} 0');
    expect(text).toContain('chronicle_relay_state{relay="audit",state="reconnecting"} 1');
    expect(text.match(/chronicle_relay_state\{relay="audit",state="[a-z_]+"\} 1/g)).toHaveLength(1);
    expect(text.match(/chronicle_relay_state\{relay="audit",/g)).toHaveLength(6);
  });

  it('takes a single relay', async () => {
    const text = await scrape(relayMetrics(relay(status('orders', { state: 'failed' }))));
    expect(text).toContain('chronicle_relay_state{relay="orders",state="failed"} 1');
    expect(text).toContain('chronicle_relay_lag_seconds{relay="orders"} 0');
  });
});
