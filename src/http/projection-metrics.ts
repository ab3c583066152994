// A projector's health in Prometheus terms: where each projection is, how far behind, in what state, whether this
// worker holds it, and which open append (if any) holds every reader of the log back.
import type { ProjectionState, ProjectionStatus } from 'chronicle-es';
import type { MetricsRegistry } from './metrics.js';
import { statusGauges } from './status-gauges.js';

const STATES: readonly ProjectionState[] = ['live', 'catching_up', 'rebuilding', 'failed', 'stopped'];

/**
 * Registers per-projection gauges read from `status()` at scrape time: checkpoint position, lag in events and
 * in seconds, state (1 for the current one), and with leases whether this worker holds it; plus how long the append
 * stalling the log's readers has been open, by backend, when the event store reports one. Pass the result as the
 * `metrics` option of chronicleHttp/createServer. Needs prom-client, imported (not at load time) when the server is built.
 */
export function projectionMetrics(projector: {
  status(): Promise<readonly ProjectionStatus[]>;
}): (registry: MetricsRegistry) => Promise<void> {
  return async (registry) => {
    // A scrape collects every gauge at once: they share one status() call.
    const g = await statusGauges(
      registry,
      'projection',
      () => projector.status(),
      (s) => s.name,
    );
    g.gauge(
      'chronicle_projection_position',
      'Checkpoint (global position) of the generation serving queries.',
      (s) => s.position,
    );
    g.gauge(
      'chronicle_projection_lag_events',
      'Global positions between the checkpoint and the head of the log.',
      (s) => s.lagEvents,
    );
    g.gauge(
      'chronicle_projection_lag_seconds',
      'Age of the oldest event not yet applied; 0 when caught up.',
      (s) => s.lagSeconds,
    );
    g.gauge(
      'chronicle_projection_held',
      'With projection leases: 1 when this worker holds the projection, 0 when another (or none) does.',
      (s) => (s.held === undefined ? undefined : s.held ? 1 : 0),
    );
    g.stateGauge(
      'chronicle_projection_state',
      'State of each projection: 1 for the current state, 0 for the others.',
      STATES,
      (s) => s.state,
    );
    const { Gauge } = await import('prom-client');
    new Gauge({
      name: 'chronicle_event_store_stalled_read_seconds',
      help: 'How long the open append holding every reader of the global log back has been open, by backend; absent when none.',
      labelNames: ['backend'],
      registers: g.registers,
      async collect() {
        this.reset();
        // Every status carries the same report: the log has one oldest open append.
        const stalled = (await g.statuses()).find((s) => s.stalledBy)?.stalledBy;
        if (stalled) this.set({ backend: stalled.backend }, stalled.openMs / 1000);
      },
    });
  };
}
