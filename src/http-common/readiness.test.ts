import type { ProjectionStatus } from 'chronicle-es';
import { describe, expect, it } from 'vitest';
import { createReadiness, isReady } from './readiness.js';

const projection = (state: ProjectionStatus['state'], held?: boolean): ProjectionStatus => ({
  name: 'orders',
  version: 1,
  position: 5,
  lagEvents: 0,
  lagSeconds: 0,
  state,
  ...(held !== undefined && { held, owner: held ? 'me' : 'other' }),
});

describe('readiness with projection workers', () => {
  it('does not count a projection another worker runs as stopped here, but still counts failures', async () => {
    const report = (status: ProjectionStatus) => createReadiness({ projector: { status: async () => [status] } })();
    expect(isReady(await report(projection('stopped')))).toBe(false);
    expect(isReady(await report(projection('stopped', true)))).toBe(false);
    expect(isReady(await report(projection('stopped', false)))).toBe(true);
    expect(isReady(await report(projection('failed', false)))).toBe(false);
    expect((await report(projection('live', false))).projections).toEqual([
      { name: 'orders', state: 'live', position: 5, lagEvents: 0, lagSeconds: 0, owner: 'other', held: false },
    ]);
  });
});
