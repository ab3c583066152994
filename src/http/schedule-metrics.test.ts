import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { scheduleMetrics } from './schedule-metrics.js';

const gauge = (text: string, name: string) => {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
};

describe('schedule metrics', () => {
  it('read pending, overdue and failing from one status() per scrape', async () => {
    let calls = 0;
    let schedules = { pending: 7, overdue: 3, failing: [{}, {}] as readonly unknown[] };
    const registry = new Registry();
    await scheduleMetrics({
      status: async () => {
        calls++;
        return { schedules };
      },
    })(registry);

    let text = await registry.metrics();
    expect(calls).toBe(1);
    expect([
      gauge(text, 'chronicle_schedules_pending'),
      gauge(text, 'chronicle_schedules_overdue'),
      gauge(text, 'chronicle_schedules_failing'),
    ]).toEqual([7, 3, 2]);

    // The next scrape reads again (nothing is cached between scrapes), once.
    schedules = { pending: 1, overdue: 0, failing: [] };
    text = await registry.metrics();
    expect(calls).toBe(2);
    expect([
      gauge(text, 'chronicle_schedules_pending'),
      gauge(text, 'chronicle_schedules_overdue'),
      gauge(text, 'chronicle_schedules_failing'),
    ]).toEqual([1, 0, 0]);
  });

  it('fail the scrape when status() fails, and read afresh on the next', async () => {
    let fail = true;
    const registry = new Registry();
    await scheduleMetrics({
      status: async () => {
        if (fail) throw new Error('read store down');
        return { schedules: { pending: 2, overdue: 1 } };
      },
    })(registry);
    await expect(registry.metrics()).rejects.toThrow('read store down');
    fail = false;
    const text = await registry.metrics();
    expect([gauge(text, 'chronicle_schedules_pending'), gauge(text, 'chronicle_schedules_failing')]).toEqual([2, 0]);
  });
});
