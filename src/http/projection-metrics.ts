// A projector's health in Prometheus terms: where each projection is, how far behind, and in what state.
import type { ProjectionState, ProjectionStatus } from 'chronicle-es';
import type { Registry } from 'prom-client';
import type { MetricsRegistry } from './metrics.js';

const STATES: readonly ProjectionState[] = ['live', 'catching_up', 'rebuilding', 'failed', 'stopped'];

/**
 * Registers per-projection gauges read from `status()` at scrape time: checkpoint position, lag in events and
 * in seconds, and state (1 for the current one). Pass the result as the `metrics` option of chronicleHttp/createServer.
 * Needs prom-client, imported (not at load time) when the server is built.
 */
export function projectionMetrics(projector: {
  status(): Promise<readonly ProjectionStatus[]>;
}): (registry: MetricsRegistry) => Promise<void> {
  return async (registry) => {
    const { Gauge } = await import('prom-client');
    // The registry the server passes is a prom-client Registry (MetricsRegistry is its public face).
    const registers = [registry as Registry];
    const gauge = (name: string, help: string, value: (s: ProjectionStatus) => number) =>
      new Gauge({
        name,
        help,
        labelNames: ['projection'],
        registers,
        async collect() {
          this.reset();
          for (const s of await projector.status()) this.set({ projection: s.name }, value(s));
        },
      });
    gauge('chronicle_projection_position', 'Checkpoint (global position) of the generation serving queries.', (s) => s.position);
    gauge(
      'chronicle_projection_lag_events',
      'Global positions between the checkpoint and the head of the log.',
      (s) => s.lagEvents,
    );
    gauge('chronicle_projection_lag_seconds', 'Age of the oldest event not yet applied; 0 when caught up.', (s) => s.lagSeconds);
    new Gauge({
      name: 'chronicle_projection_state',
      help: 'State of each projection: 1 for the current state, 0 for the others.',
      labelNames: ['projection', 'state'],
      registers,
      async collect() {
        this.reset();
        for (const s of await projector.status()) {
          for (const state of STATES) this.set({ projection: s.name, state }, s.state === state ? 1 : 0);
        }
      },
    });
  };
}
