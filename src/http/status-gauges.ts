// Gauges read from components' status() at scrape time, shared by the projection and relay metrics: one status read
// per scrape for every gauge, a value per item labelled by its name, and a state gauge (1 for the current state).
import type { Registry } from 'prom-client';
import type { MetricsRegistry } from './metrics.js';

export type StatusGauges<S> = {
  /** The registry as prom-client's type, for gauges of the caller's own. */
  readonly registers: Registry[];
  /** The statuses of this scrape, read once however many gauges ask. */
  statuses(): Promise<readonly S[]>;
  /** A gauge with one value per item; an undefined value leaves that item out. */
  gauge(name: string, help: string, value: (s: S) => number | undefined): void;
  /** A gauge per item and state: 1 for the item's current state, 0 for the others. */
  stateGauge(name: string, help: string, states: readonly string[], stateOf: (s: S) => string): void;
};

/** Gauges over `read()`, each item labelled `label` = `nameOf(item)`. Imports prom-client (when the server is built). */
export async function statusGauges<S>(
  registry: MetricsRegistry,
  label: string,
  read: () => Promise<readonly S[]>,
  nameOf: (s: S) => string,
): Promise<StatusGauges<S>> {
  const { Gauge } = await import('prom-client');
  // The registry the server passes is a prom-client Registry (MetricsRegistry is its public face).
  const registers = [registry as Registry];
  let pending: Promise<readonly S[]> | undefined;
  const statuses = () => {
    pending ??= read().finally(() => {
      pending = undefined;
    });
    return pending;
  };
  return {
    registers,
    statuses,
    gauge(name, help, value) {
      new Gauge({
        name,
        help,
        labelNames: [label],
        registers,
        async collect() {
          this.reset();
          for (const s of await statuses()) {
            const v = value(s);
            if (v !== undefined) this.set({ [label]: nameOf(s) }, v);
          }
        },
      });
    },
    stateGauge(name, help, states, stateOf) {
      new Gauge({
        name,
        help,
        labelNames: [label, 'state'],
        registers,
        async collect() {
          this.reset();
          for (const s of await statuses()) {
            const current = stateOf(s);
            for (const state of states) this.set({ [label]: nameOf(s), state }, current === state ? 1 : 0);
          }
        },
      });
    },
  };
}
