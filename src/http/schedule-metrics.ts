// The scheduler's queue in Prometheus terms: how many schedules wait, how many are past due, and how many this worker
// failed to fire and will try again. Structurally typed, so this file needs nothing of the workflows runtime.
import type { Registry } from 'prom-client';
import type { MetricsRegistry } from './metrics.js';

/** What the gauges read of a workflows runtime's status (chronicle-es's `Workflows` has it). */
export type ScheduleMetricsSource = {
  status(): Promise<{ schedules: { pending: number; overdue: number; failing?: readonly unknown[] } }>;
};

/**
 * Registers the schedule gauges, read from `workflows.status()` once per scrape: `chronicle_schedules_pending`,
 * `chronicle_schedules_overdue` and `chronicle_schedules_failing`. Pass the result as the `metrics` option of
 * chronicleHttp/createServer (call it inside your own `metrics` function to add it beside others). Needs prom-client,
 * imported when the server is built.
 */
export function scheduleMetrics(workflows: ScheduleMetricsSource): (registry: MetricsRegistry) => Promise<void> {
  return async (registry) => {
    const { Gauge } = await import('prom-client');
    // The registry the server passes is a prom-client Registry (MetricsRegistry is its public face).
    const registers = [registry as Registry];
    // A scrape collects every gauge at once: they share one status() call.
    let reading: ReturnType<ScheduleMetricsSource['status']> | undefined;
    const schedules = async () => {
      reading ??= workflows.status().finally(() => {
        reading = undefined;
      });
      return (await reading).schedules;
    };
    const gauge = (name: string, help: string, value: (s: Awaited<ReturnType<typeof schedules>>) => number) =>
      new Gauge({
        name,
        help,
        registers,
        async collect() {
          this.set(value(await schedules()));
        },
      });
    gauge(
      'chronicle_schedules_pending',
      'Scheduled commands waiting to fire, as the scheduler projection shows them.',
      (s) => s.pending,
    );
    gauge('chronicle_schedules_overdue', 'Pending scheduled commands whose time has passed.', (s) => s.overdue);
    gauge(
      'chronicle_schedules_failing',
      'Due scheduled commands this worker could not send (transient failures) and will try again.',
      (s) => s.failing?.length ?? 0,
    );
  };
}
