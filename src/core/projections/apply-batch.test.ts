import { describe, expect, it } from 'vitest';
import type { RecordedEvent } from '../event-store.js';
import { applyBatch } from './apply-batch.js';
import { createInMemoryReadStore, type InMemoryReadTx } from './in-memory-read-store.js';

const event = (position: number): RecordedEvent => ({
  id: `e${position}`,
  type: 'Added',
  data: {},
  metadata: { schemaVersion: 1, timestamp: new Date(0).toISOString() },
  streamId: 's',
  version: position,
  position,
  tags: [],
});

async function storeAt(checkpoint: number, leases = false) {
  const store = createInMemoryReadStore({ leases });
  const g = await store.beginGeneration('p', 1);
  await store.swapGeneration('p', g, 0);
  if (checkpoint > 0) await store.apply('p', g, undefined, checkpoint, 0);
  return { store, g };
}

const rows = (store: Awaited<ReturnType<typeof storeAt>>['store']) => [...store.reader('p').table('rows').keys()];

// Writes one row per event; throws on the positions `failing` names.
const projection = (failing: (position: number) => boolean = () => false) => ({
  name: 'p',
  handlers: {
    Added: (e: RecordedEvent, tx: InMemoryReadTx) => {
      if (failing(e.position)) throw new Error(`bad ${e.position}`);
      tx.table('rows').set(e.id, e.position);
    },
  },
});

describe('applyBatch', () => {
  it('commits the batch and its checkpoint together', async () => {
    const { store, g } = await storeAt(2);
    const outcome = await applyBatch(store, projection(), g, [event(3), event(5)], 6, 2, undefined);
    expect(outcome).toEqual({ committed: 6 });
    expect(rows(store)).toEqual(['e3', 'e5']);
    expect((await store.load('p'))!.position).toBe(6);
  });

  it('commits the events before a failing one alone and names the culprit', async () => {
    const { store, g } = await storeAt(0);
    const outcome = await applyBatch(
      store,
      projection((p) => p === 3),
      g,
      [1, 2, 3, 4].map(event),
      4,
      0,
      undefined,
    );
    expect(outcome).toMatchObject({ committed: 2, failure: { message: 'bad 3', eventId: 'e3', position: 3, type: 'Added' } });
    expect(rows(store)).toEqual(['e1', 'e2']);
    expect((await store.load('p'))!.position).toBe(2);

    // The culprit first in its batch: only the checkpoint moves, up to just before it.
    const again = await applyBatch(
      store,
      projection((p) => p === 3),
      g,
      [3, 4].map(event),
      4,
      2,
      undefined,
    );
    expect(again).toMatchObject({ committed: 2, failure: { position: 3 } });
  });

  it('blames an earlier event that fails only on the second run', async () => {
    const { store, g } = await storeAt(0);
    let runs = 0;
    // Event 4 fails the first run; event 2 then fails the rerun of 1..3 (a handler that is not deterministic).
    const flaky = projection((p) => (p === 4 && ++runs === 1) || (p === 2 && runs === 1));
    const outcome = await applyBatch(store, flaky, g, [1, 2, 3, 4].map(event), 4, 0, undefined);
    expect(outcome).toMatchObject({ committed: 1, failure: { position: 2 } });
    expect(rows(store)).toEqual(['e1']);
  });

  it('rethrows what the store refuses: a moved checkpoint, a lost lease', async () => {
    const { store, g } = await storeAt(4, true);
    await expect(applyBatch(store, projection(), g, [event(3)], 3, 2, undefined)).rejects.toMatchObject({
      code: 'CONCURRENCY_CONFLICT',
    });
    await expect(applyBatch(store, projection(), g, [event(5)], 5, 4, { owner: 'w', token: 1 })).rejects.toMatchObject({
      code: 'LEASE_LOST',
    });
    // Also while isolating a failure.
    await expect(
      applyBatch(
        store,
        projection((p) => p === 6),
        g,
        [event(5), event(6)],
        6,
        4,
        { owner: 'w', token: 1 },
      ),
    ).rejects.toMatchObject({ code: 'LEASE_LOST' });
    expect(rows(store)).toEqual([]);
    const lease = (await store.leases!.acquire('p', 'w', 10_000))!;
    expect(await applyBatch(store, projection(), g, [event(5)], 5, 4, { owner: 'w', token: lease.token })).toEqual({
      committed: 5,
    });
  });
});
