// The change feed of a process without a projector: each forward move of a stored checkpoint, once, while listened to.
import type { ProjectionChange, ProjectionRecord } from 'chronicle-es';
import { describe, expect, it } from 'vitest';
import { watchCheckpoints } from './checkpoint-changes.js';

const record = (name: string, position: number, generation = 1): ProjectionRecord => ({ name, version: 1, generation, position });

describe('watchCheckpoints', () => {
  it('reports each projection when first seen and then each forward move, never a position twice', async () => {
    let records = [record('orders', 3), record('catalog', 0, 0), record('other', 9)];
    let reads = 0;
    const readStore = {
      async list() {
        reads++;
        return records;
      },
    };
    const changes = watchCheckpoints({ readStore, projections: ['orders', 'catalog'], pollIntervalMs: 1 });
    expect(await changes.positions()).toEqual([{ projection: 'orders', position: 3 }]);
    const seen: ProjectionChange[] = [];
    const polled = async (n: number) => {
      const target = reads + n;
      while (reads < target) await new Promise((resolve) => setTimeout(resolve, 1));
    };
    const stop = changes.onChange((change) => seen.push(change));
    await polled(2);
    records = [record('orders', 5), record('catalog', 2)];
    await polled(2);
    // A store answering with an older checkpoint (a lagging replica, a slow poll) is not a move.
    records = [record('orders', 4), record('catalog', 2)];
    await polled(2);
    expect(seen).toEqual([
      { projection: 'orders', position: 3 },
      { projection: 'orders', position: 5 },
      { projection: 'catalog', position: 2 },
    ]);
    stop();
    const after = reads;
    await new Promise((resolve) => setTimeout(resolve, 20));
    // Nobody listens: nothing polls.
    expect(reads).toBeLessThanOrEqual(after + 1);
    changes.close();
  });
});
