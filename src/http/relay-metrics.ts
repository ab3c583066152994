// A JetStream relay's health in Prometheus terms: how far the broker has acknowledged, how far behind the log, and in
// what state. Structurally typed, so chronicle-es/http never loads the NATS client.
import type { Registry } from 'prom-client';
import type { MetricsRegistry } from './metrics.js';

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
    const { Gauge } = await import('prom-client');
    // The registry the server passes is a prom-client Registry (MetricsRegistry is its public face).
    const registers = [registry as Registry];
    // A scrape collects every gauge at once: they share one status() call per relay.
    let pending: Promise<RelayMetricsStatus[]> | undefined;
    const statuses = () => {
      pending ??= Promise.all(all.map((r) => r.status())).finally(() => {
        pending = undefined;
      });
      return pending;
    };
    const gauge = (name: string, help: string, value: (s: RelayMetricsStatus) => number) =>
      new Gauge({
        name,
        help,
        labelNames: ['relay'],
        registers,
        async collect() {
          this.reset();
          for (const s of await statuses()) this.set({ relay: s.name }, value(s));
        },
      });
    gauge(
      'chronicle_relay_position',
      'Global position up to which the broker acknowledged every event the relay publishes.',
      (s) => s.position,
    );
    gauge(
      'chronicle_relay_lag_events',
      'Global positions between the relay position and the head of the log.',
      (s) => s.lagEvents,
    );
    gauge('chronicle_relay_lag_seconds', 'Age of the oldest event not yet published; 0 when caught up.', (s) => s.lagSeconds);
    new Gauge({
      name: 'chronicle_relay_state',
      help: 'State of each relay: 1 for the current state, 0 for the others.',
      labelNames: ['relay', 'state'],
      registers,
      async collect() {
        this.reset();
        for (const s of await statuses()) {
          for (const state of STATES) this.set({ relay: s.name, state }, s.state === state ? 1 : 0);
        }
      },
    });
  };
}
