// Command handlers with snapshots on the in-memory store: saved every N events out of band, loaded as snapshot plus
// tail, ignored when of another version or when the stream no longer vouches for them, and never a command's failure.
import { describe, expect, it, vi } from 'vitest';
import { createCommandHandler, createMultiStreamHandler } from '../command-handler.js';
import type { Decider } from '../decider.js';
import { isChronicleError } from '../errors.js';
import type { EventStore, ReadStreamOptions } from '../event-store.js';
import { createInMemoryEventStore } from '../in-memory-event-store.js';
import type { SnapshotOptions } from './snapshot-policy.js';
import type { SnapshotStore } from './snapshot-store.js';

type Add = { type: 'Add'; data: { id: string; n: number } };
type Added = { type: 'Added'; data: { n: number } };
type Ledger = { total: number; count: number };
const ledger: Decider<Add, Added, Ledger> = {
  initialState: { total: 0, count: 0 },
  decide: (c) => [{ type: 'Added', data: { n: c.data.n } }],
  evolve: (s, e) => ({ total: s.total + e.data.n, count: s.count + 1 }),
};
// Also records the state each decision saw.
const seen: Ledger[] = [];
const recording: Decider<Add, Added, Ledger> = {
  ...ledger,
  decide: (c, s) => {
    seen.push(s);
    return ledger.decide(c, s);
  },
};

let next = 0;
const freshId = () => `ledger-${++next}-${Date.now()}`;

// The store, with every readStream call's `from` recorded.
function watched(store: EventStore = createInMemoryEventStore()) {
  const reads: Array<number | undefined> = [];
  const readStream = store.readStream.bind(store);
  store.readStream = (id: string, options?: ReadStreamOptions) => {
    reads.push(options?.from);
    return readStream(id, options);
  };
  return { store, reads };
}

async function seed(store: EventStore, id: string, n: number) {
  await store.append(
    id,
    Array.from({ length: n }, (_, i) => ({ type: 'Added', data: { n: i + 1 } })),
  );
}

const handler = (store: EventStore, snapshot?: SnapshotOptions) =>
  createCommandHandler({ store, decider: recording, streamId: (c) => c.data.id, cacheSize: 0, snapshot });
const add = (id: string, n = 1): Add => ({ type: 'Add', data: { id, n } });
const saved = (store: EventStore, id: string, version = 1) => store.snapshots!.loadSnapshot(id, 'state', version);
const tick = () => new Promise((r) => setTimeout(r, 5));

// #region snapshot-option
const snapshotted = (store: EventStore) =>
  createCommandHandler({
    store, // snapshots live in the store's own database (store.snapshots)
    decider: ledger,
    streamId: (c: Add) => c.data.id,
    // State saved once 4 events were folded since the last snapshot; raise `version` when evolve changes.
    snapshot: { every: 4, version: 1 },
  });
// #endregion snapshot-option

describe('command handler snapshots', () => {
  it('saves the state once every N events were folded, and then loads the snapshot plus the tail', async () => {
    const { store, reads } = watched();
    const id = freshId();
    await seed(store, id, 25);
    const handle = handler(store, { every: 10, version: 1 });
    await handle(add(id, 100), {});
    expect(seen.at(-1)).toEqual({ total: 325, count: 25 });
    await tick();
    expect(await saved(store, id)).toMatchObject({ streamVersion: 25, state: { total: 325, count: 25 } });

    reads.length = 0;
    await handle(add(id, 1000), {});
    // From the snapshot's own version (to check it is still there), not from the beginning.
    expect(reads).toEqual([25]);
    expect(seen.at(-1)).toEqual({ total: 425, count: 26 });
    await tick();
    // One event since the snapshot: not yet another.
    expect((await saved(store, id))?.streamVersion).toBe(25);
    for (let i = 0; i < 9; i++) await handle(add(id), {});
    await tick();
    expect(await saved(store, id)).toMatchObject({ streamVersion: 35, state: { total: 1433, count: 35 } });
    expect(seen.at(-1)).toEqual({ total: 1433, count: 35 });
  });

  it('ignores a snapshot of another version', async () => {
    const { store, reads } = watched();
    const id = freshId();
    await seed(store, id, 12);
    await handler(store, { every: 5, version: 1 })(add(id), {});
    await tick();
    expect((await saved(store, id, 1))?.streamVersion).toBe(12);
    // A wrong state under version 1 would show if it were used.
    await store.snapshots!.saveSnapshot({
      streamId: id,
      name: 'state',
      version: 1,
      streamVersion: 13,
      position: (await store.readStream(id)).at(-1)!.position,
      state: { total: -1, count: -1 },
    });
    reads.length = 0;
    await handler(store, { every: 5, version: 2 })(add(id), {});
    expect(reads).toEqual([1]);
    expect(seen.at(-1)).toEqual({ total: 79, count: 13 });
    await tick();
    expect((await saved(store, id, 2))?.streamVersion).toBe(13);
  });

  it('never trusts a snapshot the stream does not vouch for: past its end, or at another position', async () => {
    const { store, reads } = watched();
    const id = freshId();
    await seed(store, id, 10);
    const events = await store.readStream(id);
    const bogus = { total: 1e9, count: 1e9 };
    const handle = handler(store, { every: 100, version: 1 });
    await store.snapshots!.saveSnapshot({
      streamId: id,
      name: 'state',
      version: 1,
      streamVersion: 50,
      position: 999,
      state: bogus,
    });
    reads.length = 0;
    await handle(add(id), {});
    expect(seen.at(-1)).toEqual({ total: 55, count: 10 });
    expect(reads).toEqual([50, undefined]);
    // Replaced at once by what the load folded, though `every` is far off: the next load reads one tail only.
    await tick();
    expect(await saved(store, id)).toMatchObject({ streamVersion: 10, state: { total: 55, count: 10 } });
    reads.length = 0;
    await handle(add(id), {});
    expect(reads).toEqual([10]);
    expect(seen.at(-1)).toEqual({ total: 56, count: 11 });

    const other = freshId();
    await seed(store, other, 3);
    // Version 5 exists, but its event is not the one the snapshot was taken at (the stream was written anew).
    await store.snapshots!.saveSnapshot({
      streamId: id,
      name: 'state',
      version: 1,
      streamVersion: 60,
      position: 1,
      state: bogus,
    });
    await store.snapshots!.saveSnapshot({
      streamId: other,
      name: 'state',
      version: 1,
      streamVersion: 2,
      position: events[1].position,
      state: bogus,
    });
    await handle(add(other), {});
    expect(seen.at(-1)).toEqual({ total: 6, count: 3 });
  });

  it('a snapshot store that fails never fails a command; the failure is reported', async () => {
    const id = freshId();
    const failing: SnapshotStore = {
      loadSnapshot: async () => {
        throw new Error('snapshot table unreadable');
      },
      saveSnapshot: () => {
        throw new Error('disk full');
      },
    };
    const store = createInMemoryEventStore();
    await seed(store, id, 30);
    const onError = vi.fn();
    const handle = handler(store, { every: 10, version: 1, store: failing, onError });
    for (let i = 0; i < 3; i++) await expect(handle(add(id), {})).resolves.toMatchObject({ version: 31 + i });
    await tick();
    const messages = onError.mock.calls.map(([err, streamId]) => `${streamId}: ${(err as Error).message}`);
    expect(messages).toContain(`${id}: snapshot table unreadable`);
    expect(messages).toContain(`${id}: disk full`);
    expect(seen.at(-1)).toEqual({ total: 467, count: 32 });
    // A reporter that throws changes nothing either.
    const loud = handler(store, {
      every: 1,
      version: 1,
      store: failing,
      onError: () => {
        throw new Error('reporter');
      },
    });
    await expect(loud(add(id), {})).resolves.toMatchObject({ version: 34 });
    await tick();
  });

  it('works beside the cache: a hot stream is snapshotted too, and a new handler starts from it', async () => {
    const { store, reads } = watched();
    const id = freshId();
    const hot = snapshotted(store);
    // A save in flight holds the next one back; here each has time to finish.
    for (let i = 0; i < 9; i++) {
      await hot(add(id, 2), {});
      await tick();
    }
    expect(await saved(store, id)).toMatchObject({ streamVersion: 8, state: { total: 16, count: 8 } });
    reads.length = 0;
    await handler(store, { every: 4, version: 1 })(add(id), {});
    expect(reads).toEqual([8]);
    expect(seen.at(-1)).toEqual({ total: 18, count: 9 });
  });

  it('the multi-stream handler snapshots every stream it loads', async () => {
    const store = createInMemoryEventStore();
    const [a, b] = [freshId(), freshId()];
    await seed(store, a, 6);
    await seed(store, b, 7);
    const handle = createMultiStreamHandler({
      store,
      cacheSize: 0,
      snapshot: { every: 5, version: 1, name: 'pair' },
      streams: (c: Add) => ({ left: { streamId: c.data.id, model: ledger }, right: { streamId: b, model: ledger } }),
      decide: (c, { left, right }) => [
        { streamId: c.data.id, events: [{ type: 'Added', data: { n: left.total + right.total } }] },
      ],
    });
    await handle(add(a), {});
    await tick();
    expect(await store.snapshots!.loadSnapshot(a, 'pair', 1)).toMatchObject({ streamVersion: 6, state: { total: 21 } });
    expect(await store.snapshots!.loadSnapshot(b, 'pair', 1)).toMatchObject({ streamVersion: 7, state: { total: 28 } });
    await handle(add(a), {});
    expect((await store.readStream(a)).map((e) => (e.data as { n: number }).n).slice(-2)).toEqual([49, 98]);
  });

  it('refuses malformed options at once, and a store without snapshots unless given one', () => {
    const store = createInMemoryEventStore();
    for (const bad of [
      { every: 0, version: 1 },
      { every: 1.5, version: 1 },
      { every: 10, version: 0 },
      { every: 10, version: 1, name: '' },
    ]) {
      const err = (() => {
        try {
          handler(store, bad);
        } catch (e) {
          return e;
        }
      })();
      expect(isChronicleError(err, 'INVALID_ARGUMENT'), JSON.stringify(bad)).toBe(true);
    }
    const bare: EventStore = { ...store, snapshots: undefined };
    expect(() => handler(bare, { every: 10, version: 1 })).toThrow('snapshot needs a snapshot store');
  });
});
