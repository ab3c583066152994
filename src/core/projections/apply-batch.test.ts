import { describe, expect, it } from 'vitest';
import type { RecordedEvent } from '../event-store.js';
import { applyBatch } from './apply-batch.js';
import type { BatchContext } from './define-projection.js';
import { createInMemoryReadStore, type InMemoryReadTx } from './in-memory-read-store.js';
import { BatchCut, HandlerFailure } from './run-handlers.js';

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

  describe('a runBatch that cuts its batch short (BatchCut)', () => {
    // A batch projection writing one row per event, cutting the batches `cuts` says (by their first position).
    const cutting = (cuts: (batch: readonly RecordedEvent[], replayThrough: number) => number | undefined) => {
      const calls: Array<[number[], number]> = [];
      return {
        calls,
        name: 'p',
        handlers: {},
        runBatch(batch: readonly RecordedEvent[], tx: InMemoryReadTx, { replayThrough }: BatchContext) {
          calls.push([batch.map((e) => e.position), replayThrough]);
          for (const e of batch) tx.table('rows').set(e.id, e.position);
          const at = cuts(batch, replayThrough);
          if (at !== undefined) throw new BatchCut(at);
        },
      };
    };

    it('commits the events before the cut, applied again as a replay of what was acted on, without a failure', async () => {
      const { store, g } = await storeAt(0);
      const p = cutting((batch) => (batch.length === 4 ? 2 : undefined));
      const outcome = await applyBatch(store, p, g, [1, 2, 3, 4].map(event), 4, 0, undefined);
      expect(outcome).toEqual({ committed: 2 });
      expect(rows(store)).toEqual(['e1', 'e2']);
      expect((await store.load('p'))!.position).toBe(2);
      expect(p.calls).toEqual([
        [[1, 2, 3, 4], 0],
        [[1, 2], 2],
      ]);
    });

    it('keeps a rebuild replaying further than the cut, and a cut at the first event moves nothing but the checkpoint', async () => {
      const { store, g } = await storeAt(2);
      const p = cutting((batch) => (batch.length === 3 ? 2 : undefined));
      // Replaying through 6 already: the cut's own bound (4) does not lower it.
      expect(await applyBatch(store, p, g, [3, 4, 5].map(event), 5, 2, undefined, { replayThrough: 6 })).toEqual({
        committed: 4,
      });
      expect(p.calls).toEqual([
        [[3, 4, 5], 6],
        [[3, 4], 6],
      ]);
      const first = cutting((batch) => (batch[0].position === 5 ? 0 : undefined));
      expect(await applyBatch(store, first, g, [5, 6].map(event), 6, 4, undefined)).toEqual({ committed: 4 });
      expect(first.calls).toEqual([[[5, 6], 0]]);
      expect((await store.load('p'))!.position).toBe(4);
    });

    it('takes an earlier cut or failure of the second run as the one that counts', async () => {
      const { store, g } = await storeAt(0);
      const cutAgain = cutting((batch) => (batch.length === 4 ? 3 : batch.length === 3 ? 1 : undefined));
      expect(await applyBatch(store, cutAgain, g, [1, 2, 3, 4].map(event), 4, 0, undefined)).toEqual({ committed: 1 });
      expect(rows(store)).toEqual(['e1']);

      const { store: other, g: g2 } = await storeAt(0);
      const calls: number[][] = [];
      const failsThen = {
        name: 'p',
        handlers: {},
        runBatch(batch: readonly RecordedEvent[]) {
          calls.push(batch.map((e) => e.position));
          if (batch.length === 4) throw new BatchCut(3);
          if (batch.length === 3) throw new HandlerFailure(1, new Error('bad 2'));
        },
      };
      expect(await applyBatch(other, failsThen, g2, [1, 2, 3, 4].map(event), 4, 0, undefined)).toMatchObject({
        committed: 1,
        failure: { message: 'bad 2', position: 2 },
      });
      expect(calls).toEqual([[1, 2, 3, 4], [1, 2, 3], [1]]);
    });
  });
});
