// A JetStream relay's health in Prometheus terms: how far the broker has acknowledged, how far behind the log, and in
// what state. Structurally typed, so chronicle-es/http never loads the NATS client.
import type { MetricsRegistry } from './metrics.js';
import { statusGauges } from './status-gauges.js';

/** What the gauges read of a relay's status (chronicle-es/nats's RelayStatus has it). */
export type RelayMetricsStatus = {
  name: string;
  state: string;
  position: number;
  lagEvents: number;
  lagSeconds: number;
};

const STATES = ['stopped', 'starting', 'live', 'catching_up', 'reconnecting', 'failed'] as const;

/**
 * Registers per-relay gauges read from each relay's `status()` at scrape time, labelled `relay` by name: position (the
 * last event the broker acknowledged), lag in events and in seconds, and state (1 for the current one). Pass the
 * result as the `metrics` option of chronicleHttp/createServer. Needs prom-client, imported when the server is built.
 */
export function relayMetrics(
  relays: { status(): Promise<RelayMetricsStatus> } | readonly { status(): Promise<RelayMetricsStatus> }[],
): (registry: MetricsRegistry) => Promise<void> {
  const all = Array.isArray(relays) ? [...relays] : [relays as { status(): Promise<RelayMetricsStatus> }];
  return async (registry) => {
    // A scrape collects every gauge at once: they share one status() call per relay.
    const g = await statusGauges(
      registry,
      'relay',
      () => Promise.all(all.map((r) => r.status())),
      (s) => s.name,
    );
    g.gauge(
      'chronicle_relay_position',
      'Global position up to which the broker acknowledged every event the relay publishes.',
      (s) => s.position,
    );
    g.gauge(
      'chronicle_relay_lag_events',
      'Global positions between the relay position and the head of the log.',
      (s) => s.lagEvents,
    );
    g.gauge('chronicle_relay_lag_seconds', 'Age of the oldest event not yet published; 0 when caught up.', (s) => s.lagSeconds);
    g.stateGauge(
      'chronicle_relay_state',
      'State of each relay: 1 for the current state, 0 for the others.',
      STATES,
      (s) => s.state,
    );
  };
}
