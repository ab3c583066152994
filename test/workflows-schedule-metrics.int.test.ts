// The schedule gauges as a Prometheus scraper sees them: GET /metrics of a real server on a socket, over a real
// workflows runtime whose queue the test fills, fires and breaks.
import { createInMemoryEventStore, createInMemoryReadStore, createProjector, createWorkflows } from 'chronicle-es';
import { createServer, projectionMetrics, scheduleMetrics } from 'chronicle-es/http';
import { describe, expect, it } from 'vitest';
import { Bump, Flaky, scheduleCommands } from './support/workflows-schedule-kit.js';

const T0 = Date.parse('2033-01-01T00:00:00.000Z');
const H = 3_600_000;

const gauge = (text: string, name: string) => {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
};

describe('schedule metrics', () => {
  it('serve pending, overdue and failing schedules at GET /metrics, beside the projection gauges', async () => {
    let now = T0;
    const eventStore = createInMemoryEventStore();
    const readStore = createInMemoryReadStore();
    const commands = scheduleCommands(eventStore);
    const workflows = createWorkflows({
      commandBus: commands.bus,
      eventStore,
      readStore,
      clock: () => now,
      scheduler: { pollIntervalMs: 600_000, retry: { attempts: 1, initialDelayMs: 0, maxDelayMs: H } },
    });
    const projector = createProjector({ eventStore, readStore, projections: workflows.projections, pollIntervalMs: 5 });
    await projector.start();
    const server = await createServer({
      commandBus: commands.bus,
      logger: false,
      defaultMetrics: false,
      metrics: async (registry) => {
        await projectionMetrics(projector)(registry);
        await scheduleMetrics(workflows)(registry);
      },
    });
    const address = await server.listen({ host: '127.0.0.1', port: 0 });
    const scrape = async () => {
      await projector.waitForPosition(await eventStore.headPosition());
      const response = await fetch(`${address}/metrics`);
      expect(response.status).toBe(200);
      return response.text();
    };
    try {
      expect(gauge(await scrape(), 'chronicle_schedules_pending')).toBe(0);

      await workflows.schedule(Bump, { id: 'a' }, { key: 'm-a', at: T0 + H });
      await workflows.schedule(Bump, { id: 'b' }, { key: 'm-b', at: T0 + 2 * H });
      await workflows.schedule(Flaky, { id: 'c' }, { key: 'm-c', at: T0 + 2 * H });
      await workflows.schedule(Bump, { id: 'd' }, { key: 'm-d', at: T0 + 10 * H });
      let text = await scrape();
      expect([
        gauge(text, 'chronicle_schedules_pending'),
        gauge(text, 'chronicle_schedules_overdue'),
        gauge(text, 'chronicle_schedules_failing'),
      ]).toEqual([4, 0, 0]);
      expect(text).toContain('chronicle_projection_state{projection="chronicle_schedules",state="live"} 1');
      expect(text).toContain('# HELP chronicle_schedules_overdue Pending scheduled commands whose time has passed.');

      now = T0 + 3 * H;
      text = await scrape();
      expect([gauge(text, 'chronicle_schedules_pending'), gauge(text, 'chronicle_schedules_overdue')]).toEqual([4, 3]);

      commands.failures.remaining = 1;
      await workflows.fireDue();
      text = await scrape();
      expect([
        gauge(text, 'chronicle_schedules_pending'),
        gauge(text, 'chronicle_schedules_overdue'),
        gauge(text, 'chronicle_schedules_failing'),
      ]).toEqual([2, 1, 1]);
    } finally {
      await server.close();
      await projector.stop();
    }
  });
});
