import { describe, expect, it } from 'vitest';
import { ChronicleError } from '../errors.js';
import { createCheckpointWaits } from './checkpoint-waits.js';
import { createInMemoryReadStore, type InMemoryReadStore } from './in-memory-read-store.js';

async function served(store: InMemoryReadStore, name: string) {
  const g = await store.beginGeneration(name, 1);
  await store.swapGeneration(name, g, 0);
  return g;
}

// Counts list() calls, and can fail them.
function counted(store: InMemoryReadStore) {
  let lists = 0;
  let down = false;
  return {
    store: {
      list: () => {
        lists++;
        return down ? Promise.reject(new ChronicleError('STORE_ERROR', 'down')) : store.list();
      },
    },
    lists: () => lists,
    setDown: (d: boolean) => {
      down = d;
    },
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('checkpoint waits', () => {
  it('resolves once the stored checkpoints reach the position, polling only while someone waits', async () => {
    const store = createInMemoryReadStore();
    const ga = await served(store, 'a');
    const gb = await served(store, 'b');
    const c = counted(store);
    const waits = createCheckpointWaits({ readStore: c.store, projections: ['a', 'b'], pollIntervalMs: 5 });
    await sleep(20);
    expect(c.lists()).toBe(0);

    let done = false;
    const waiting = waits.waitForPosition(3, { timeoutMs: 5000 }).then(() => {
      done = true;
    });
    await store.apply('a', ga, undefined, 3, 0);
    await sleep(20);
    expect(done).toBe(false);
    await store.apply('b', gb, undefined, 4, 0);
    await waiting;
    const after = c.lists();
    await sleep(30);
    expect(c.lists()).toBe(after);
    // Only the named projections count; a reached position resolves from what was read last.
    await waits.waitForPosition(3, { projections: ['a'] });
    await waits.close();
  });

  it('fails a wait on a projection stored as failed short of it, but not on a failed rebuild beside a live one', async () => {
    const store = createInMemoryReadStore();
    const g = await served(store, 'a');
    await store.apply('a', g, undefined, 2, 0);
    const waits = createCheckpointWaits({ readStore: store, projections: ['a'], pollIntervalMs: 5 });
    const rebuild = await store.beginGeneration('a', 1);
    await store.setFailure('a', { message: 'rebuild broke', generation: rebuild, at: new Date().toISOString() });
    const past = waits.waitForPosition(3, { timeoutMs: 5000 });
    await sleep(20);
    await store.apply('a', g, undefined, 3, 2);
    await past;

    await store.setFailure('a', {
      message: 'boom',
      generation: g,
      position: 4,
      eventId: 'e4',
      type: 'T',
      at: new Date().toISOString(),
    });
    await expect(waits.waitForPosition(4)).rejects.toMatchObject({
      code: 'PROJECTION_FAILED',
      details: { projection: 'a', position: 3, lastError: { message: 'boom' } },
    });
    // What it reached still resolves.
    await waits.waitForPosition(3);
    await waits.close();
  });

  it('keeps polling through a store that fails, and times out with what is behind', async () => {
    const store = createInMemoryReadStore();
    const g = await served(store, 'a');
    const c = counted(store);
    c.setDown(true);
    const waits = createCheckpointWaits({ readStore: c.store, projections: ['a'], pollIntervalMs: 5 });
    const waiting = waits.waitForPosition(1, { timeoutMs: 5000 });
    await sleep(20);
    await store.apply('a', g, undefined, 1, 0);
    c.setDown(false);
    await waiting;
    expect(c.lists()).toBeGreaterThan(1);
    await expect(waits.waitForPosition(9, { timeoutMs: 20 })).rejects.toMatchObject({
      code: 'TIMEOUT',
      details: { behind: { a: 1 } },
    });
    await waits.close();
  });

  it('refuses bad arguments and unknown projections, and rejects pending waits with CLOSED on close', async () => {
    const store = createInMemoryReadStore();
    expect(() => createCheckpointWaits({ readStore: store, projections: [''] })).toThrow(/projection names/);
    expect(() => createCheckpointWaits({ readStore: store, projections: ['a'], pollIntervalMs: 0 })).toThrow(/pollIntervalMs/);
    const waits = createCheckpointWaits({ readStore: store, projections: ['a'] });
    await expect(waits.waitForPosition(1, { projections: ['nope'] })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(waits.waitForPosition(-1)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(waits.waitForPosition(1, { timeoutMs: 2 ** 31 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    const pending = waits.waitForPosition(1, { timeoutMs: 10_000 });
    await waits.close();
    await expect(pending).rejects.toMatchObject({ code: 'CLOSED' });
    await expect(waits.waitForPosition(0)).rejects.toMatchObject({ code: 'CLOSED' });
  });
});
