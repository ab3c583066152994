// Regression: two projectors sharing one read store, both rebuilding the same projection while events keep coming.
// A loop's checkpoint can move while its page of the log is being read (the projection's other loop reloads the
// record after a conflict with the other projector); the batch must then be dropped, not applied over the moved
// checkpoint, which used to apply events twice or fail the projection with "checkpoint X is before Y".
import { afterEach, describe, expect, it } from 'vitest';
import type { EventStore } from '../event-store.js';
import { createInMemoryEventStore } from '../in-memory-event-store.js';
import { defineProjection } from './define-projection.js';
import { createInMemoryReadStore, type InMemoryReadTx } from './in-memory-read-store.js';
import { createProjector, type Projector } from './projector.js';

const ROUNDS = 30;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// Counts applications per event id, so a repeat or a gap is visible.
const counting = defineProjection<InMemoryReadTx>({
  name: 'totals',
  version: 1,
  handlers: {
    Added: async (event, tx) => {
      const applied = tx.table<number>('applied');
      applied.set(event.id, (applied.get(event.id) ?? 0) + 1);
    },
  },
});

// The projector reads its pages through `readAll`: slowing it keeps reads in flight while the other loop reloads.
function slowed(inner: EventStore): EventStore {
  return {
    ...inner,
    readAll: async (options) => {
      await sleep(1 + Math.floor(Math.random() * 3));
      return inner.readAll(options);
    },
  };
}

const projectors: Projector[] = [];
afterEach(async () => {
  await Promise.all(projectors.splice(0).map((p) => p.stop()));
});

async function round(i: number): Promise<void> {
  const inner = createInMemoryEventStore();
  const events = slowed(inner);
  const read = createInMemoryReadStore();
  let appended = 0;
  const append = async (n: number) => {
    for (let k = 0; k < n; k++) {
      await inner.append(`acc-${appended % 5}`, [{ type: 'Added', data: { n: appended } }]);
      appended++;
    }
  };
  await append(60);
  const [a, b] = [0, 1].map(() => {
    const p = createProjector({ eventStore: events, readStore: read, projections: [counting], batchSize: 7, pollIntervalMs: 5 });
    projectors.push(p);
    return p;
  });
  await Promise.all([a.start(), b.start()]);
  await Promise.all([a.waitForPosition(60), b.waitForPosition(60)]);

  // Events keep coming while both projectors rebuild the same projection.
  let appending = true;
  const appender = (async () => {
    while (appending) {
      await append(1 + Math.floor(Math.random() * 3));
      await sleep(Math.random() * 2);
    }
  })();
  const rebuilds = await Promise.allSettled([a.rebuild('totals'), b.rebuild('totals')]);
  appending = false;
  await appender;
  const head = await inner.headPosition();

  const outcome = {
    rebuilds: rebuilds.map((r) => (r.status === 'fulfilled' ? 'ok' : String(r.reason))),
    waits: (await Promise.allSettled([a, b].map((p) => p.waitForPosition(head, { timeoutMs: 3000 })))).map((r) =>
      r.status === 'fulfilled' ? 'ok' : String(r.reason),
    ),
    states: (await Promise.all([a, b].map((p) => p.status()))).map(([s]) => ({
      state: s.state,
      rebuildFailed: s.rebuild?.failed ?? false,
      error: s.lastError?.message,
    })),
  };
  const ok = { state: expect.not.stringMatching(/^failed$/), rebuildFailed: false, error: undefined };
  expect(outcome, `round ${i}`).toEqual({ rebuilds: ['ok', 'ok'], waits: ['ok', 'ok'], states: [ok, ok] });

  // Every event applied exactly once in the generation serving queries.
  const applied = read.reader('totals').table<number>('applied');
  const repeated = [...applied].filter(([, n]) => n !== 1);
  expect(repeated, `round ${i}: events applied more than once`).toEqual([]);
  expect(applied.size, `round ${i}: events applied`).toBe(head);

  await Promise.all(projectors.splice(0).map((p) => p.stop()));
}

describe('projector sharing a read store with another projector', () => {
  it('applies each event once and never fails when both rebuild while events keep coming', async () => {
    for (let i = 0; i < ROUNDS; i++) await round(i);
  });
});
