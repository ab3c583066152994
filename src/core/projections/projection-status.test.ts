import { describe, expect, it } from 'vitest';
import { createInMemoryEventStore } from '../in-memory-event-store.js';
import { servedFailure } from './projection-failure.js';
import { describeProjection, type ProjectionView, reportStatus, storedState } from './projection-status.js';
import type { ProjectionRecord } from './projection-store.js';

const at = new Date(0).toISOString();
const record = (over: Partial<ProjectionRecord> = {}): ProjectionRecord => ({
  name: 'p',
  version: 1,
  generation: 1,
  position: 10,
  ...over,
});
const view = (over: Partial<ProjectionView> = {}): ProjectionView => ({
  name: 'p',
  definedVersion: 2,
  record: record(),
  state: 'live',
  failure: undefined,
  ...over,
});

describe('projection status', () => {
  it('describes position, lag, the last error and a rebuild', () => {
    expect(describeProjection(view({ record: undefined, state: 'stopped' }), 4, 0)).toEqual({
      name: 'p',
      version: 2,
      position: 0,
      lagEvents: 4,
      lagSeconds: 0,
      state: 'stopped',
    });
    const failure = { message: 'boom', code: 'STORE_ERROR', eventId: 'e', position: 11, type: 'T', generation: 2, at };
    const failed = describeProjection(
      view({ record: record({ rebuild: { generation: 2, version: 2, position: 7 } }), state: 'failed', failure }),
      12,
      1.5,
    );
    expect(failed).toEqual({
      name: 'p',
      version: 1,
      position: 10,
      lagEvents: 2,
      lagSeconds: 1.5,
      state: 'failed',
      lastError: { message: 'boom', code: 'STORE_ERROR', eventId: 'e', position: 11, type: 'T', generation: 2 },
      // From the store: the target is the head, and the failure names the rebuild's generation.
      rebuild: { version: 2, position: 7, target: 12, failed: true },
    });
    const running = describeProjection(
      view({ record: record({ rebuild: { generation: 2, version: 1, position: 3 } }), rebuild: { target: 10, failed: false } }),
      12,
      0,
    );
    expect(running.rebuild).toEqual({ version: 1, position: 3, target: 10 });
  });

  it('says who holds the projection and what holds the log back', () => {
    const stalledBy = { backend: '4242', since: at, openMs: 9000 };
    const status = describeProjection(view({ owner: 'w1', held: false }), 10, 0, stalledBy);
    expect(status).toMatchObject({ owner: 'w1', held: false, stalledBy });
    expect(describeProjection(view(), 10, 0)).not.toHaveProperty('held');
  });

  it('derives the state of a projection another worker holds from its stored record', () => {
    expect(storedState(undefined, 5)).toBe('catching_up');
    expect(storedState(record(), 10)).toBe('live');
    expect(storedState(record(), 11)).toBe('catching_up');
    expect(storedState(record({ rebuild: { generation: 2, version: 1, position: 0 } }), 10)).toBe('rebuilding');
    expect(storedState(record({ failure: { message: 'x', generation: 1, at } }), 10)).toBe('failed');
  });

  it('counts only a failure that holds the served checkpoint', () => {
    const failure = (generation?: number) => ({ message: 'x', at, ...(generation !== undefined && { generation }) });
    expect(servedFailure(record())).toBeUndefined();
    expect(servedFailure(record({ failure: failure() }))).toBeDefined();
    expect(servedFailure(record({ failure: failure(1) }))).toBeDefined();
    // A rebuild of the same version failed: the served generation goes on.
    expect(servedFailure(record({ failure: failure(2), rebuild: { generation: 2, version: 1, position: 0 } }))).toBeUndefined();
    // A rebuild to a newer version failed: nothing applies to the served generation until it swaps in.
    expect(servedFailure(record({ failure: failure(2), rebuild: { generation: 2, version: 2, position: 0 } }))).toBeDefined();
  });

  it('reports every projection against one head, with the stalled append when the store reports one', async () => {
    const inner = createInMemoryEventStore();
    await inner.append('s', [
      { type: 'A', data: {} },
      { type: 'A', data: {} },
    ]);
    const thresholds: number[] = [];
    const stalledBy = { backend: '7', since: at, openMs: 6000 };
    const eventStore = {
      ...inner,
      stalledBy: async (thresholdMs: number) => {
        thresholds.push(thresholdMs);
        return stalledBy;
      },
    };
    const statuses = await reportStatus(
      [view({ record: record({ position: 1 }) }), view({ name: 'q', record: record({ position: 2 }) })],
      {
        eventStore,
        head: 2,
        stalledThresholdMs: 1234,
      },
    );
    expect(thresholds).toEqual([1234]);
    expect(statuses.map((s) => [s.name, s.lagEvents, s.stalledBy])).toEqual([
      ['p', 1, stalledBy],
      ['q', 0, stalledBy],
    ]);
    expect(statuses[0].lagSeconds).toBeGreaterThanOrEqual(0);
    // A store that cannot say still gets a report.
    const failing = { ...inner, stalledBy: async () => Promise.reject(new Error('no')) };
    const [plain] = await reportStatus([view()], { eventStore: failing, head: 10, stalledThresholdMs: 1 });
    expect(plain.stalledBy).toBeUndefined();
    // Nor does a source that cannot read the event after a checkpoint (the one that failed the projection).
    const unreadable = { ...inner, readAll: async () => Promise.reject(new Error('foreign message')) };
    const [lagging] = await reportStatus([view({ record: record({ position: 1 }) })], {
      eventStore: unreadable,
      head: 2,
      stalledThresholdMs: 1,
    });
    expect(lagging).toMatchObject({ lagEvents: 1, lagSeconds: 0 });
  });
});
