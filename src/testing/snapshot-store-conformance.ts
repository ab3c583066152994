// The snapshot-store conformance cases: what every event store's `snapshots` (or any SnapshotStore) must do, for an
// adapter to run in a few lines.
import assert from 'node:assert/strict';
import type { Snapshot, SnapshotStore } from 'chronicle-es';
import { type ConformanceRunner, expectCode, storeBlocks } from './conformance-kit.js';
import { freshStream } from './event-store-case-kit.js';

/** Makes the stores under test: anything closable with a snapshot store at `snapshots` (an event store). */
export type SnapshotStoreFactory = {
  create: () => SnapshotHost | Promise<SnapshotHost>;
};

/** What the suite runs against: an event store, whose `snapshots` must be there. */
export type SnapshotHost = { readonly snapshots?: SnapshotStore; close(): Promise<void> };

/**
 * Registers the snapshot-store conformance cases for one adapter: round trips, keys kept apart (stream, name,
 * version), each save replacing the stored one, stream ids as data, bad input refused
 * with nothing stored, CLOSED after close. Cases use fresh stream ids, so one shared database works.
 */
export function describeSnapshotStoreConformance(name: string, factory: SnapshotStoreFactory, runner: ConformanceRunner): void {
  const { describe, it } = runner;
  const block = storeBlocks<SnapshotHost>(runner, factory.create);
  const snapshotsOf = (host: SnapshotHost): SnapshotStore => {
    assert.ok(host.snapshots, 'the store has no snapshots');
    return host.snapshots;
  };
  const snapshot = (streamId: string, over: Partial<Snapshot> = {}): Snapshot => ({
    streamId,
    name: 'state',
    version: 1,
    streamVersion: 10,
    position: 100,
    state: { total: 10, items: ['a', 'b'], nested: { ok: true, none: null } },
    ...over,
  });

  describe(`snapshot store conformance: ${name}`, () => {
    block('saving and loading', (host) => {
      it('loads nothing for a stream never snapshotted', async () => {
        assert.equal(await snapshotsOf(host()).loadSnapshot(freshStream('snap'), 'state', 1), undefined);
      });

      it('loads what was saved: every field, the state as a fresh copy, and when it was taken', async () => {
        const s = snapshotsOf(host());
        const id = freshStream('snap');
        const saved = snapshot(id);
        const before = Date.now();
        await s.saveSnapshot(saved);
        const loaded = await s.loadSnapshot(id, 'state', 1);
        assert.ok(loaded, 'the snapshot was not found');
        const { takenAt, ...rest } = loaded;
        assert.deepEqual(rest, saved);
        assert.notEqual(loaded.state, saved.state);
        assert.equal(typeof takenAt, 'string');
        assert.ok(Date.parse(takenAt as string) >= before - 1000, `takenAt ${takenAt} is the save time`);
        // Each load is its own copy: changing one changes nothing stored.
        (loaded.state as { total: number }).total = -1;
        assert.deepEqual((await s.loadSnapshot(id, 'state', 1))?.state, saved.state);
      });

      it('keeps streams, names and versions apart', async () => {
        const s = snapshotsOf(host());
        const [a, b] = [freshStream('snap'), freshStream('snap')];
        await s.saveSnapshot(snapshot(a, { state: 'a1' }));
        await s.saveSnapshot(snapshot(a, { version: 2, state: 'a2' }));
        await s.saveSnapshot(snapshot(a, { name: 'other', state: 'a-other' }));
        await s.saveSnapshot(snapshot(b, { state: 'b1' }));
        assert.equal((await s.loadSnapshot(a, 'state', 1))?.state, 'a1');
        assert.equal((await s.loadSnapshot(a, 'state', 2))?.state, 'a2');
        assert.equal((await s.loadSnapshot(a, 'other', 1))?.state, 'a-other');
        assert.equal((await s.loadSnapshot(b, 'state', 1))?.state, 'b1');
        assert.equal(await s.loadSnapshot(b, 'state', 2), undefined);
        assert.equal(await s.loadSnapshot(a, 'state', 3), undefined);
      });

      it('each save replaces the stored one, whatever its stream version (a snapshot past the stream must go)', async () => {
        const s = snapshotsOf(host());
        const id = freshStream('snap');
        await s.saveSnapshot(snapshot(id, { streamVersion: 10, position: 100, state: 10 }));
        await s.saveSnapshot(snapshot(id, { streamVersion: 20, position: 200, state: 20 }));
        assert.deepEqual(await pick(s, id), [20, 200, 20]);
        await s.saveSnapshot(snapshot(id, { streamVersion: 15, position: 150, state: 15 }));
        assert.deepEqual(await pick(s, id), [15, 150, 15]);
        await s.saveSnapshot(snapshot(id, { streamVersion: 15, position: 151, state: 'again' }));
        assert.deepEqual(await pick(s, id), [15, 151, 'again']);
      });

      it('stream ids and names are data: quotes, SQL and non-ASCII round-trip', async () => {
        const s = snapshotsOf(host());
        const id = `${freshStream('snap')}'; DROP TABLE snapshots; -- "ü€😀`;
        const name = `n'"\u00e9😀`;
        await s.saveSnapshot(snapshot(id, { name, state: { text: `'"\\ ü€😀` } }));
        assert.deepEqual((await s.loadSnapshot(id, name, 1))?.state, { text: `'"\\ ü€😀` });
      });

      it('refuses malformed snapshots and keys with INVALID_ARGUMENT, storing nothing', async () => {
        const s = snapshotsOf(host());
        const id = freshStream('snap');
        const cycle: Record<string, unknown> = {};
        cycle.self = cycle;
        for (const [what, bad] of [
          ['a BigInt in the state', snapshot(id, { state: { n: 1n } })],
          ['a cyclic state', snapshot(id, { state: cycle })],
          ['an undefined state', snapshot(id, { state: undefined })],
          ['streamVersion 0', snapshot(id, { streamVersion: 0 })],
          ['a fractional position', snapshot(id, { position: 1.5 })],
          ['version 0', snapshot(id, { version: 0 })],
          ['an empty name', snapshot(id, { name: '' })],
          ['an empty stream id', snapshot('', {})],
        ] as const) {
          await expectCode(() => s.saveSnapshot(bad as Snapshot), 'INVALID_ARGUMENT', what);
        }
        await expectCode(() => s.saveSnapshot(null as unknown as Snapshot), 'INVALID_ARGUMENT', 'null');
        await expectCode(() => s.loadSnapshot(id, 'state', 0), 'INVALID_ARGUMENT', 'load at version 0');
        await expectCode(() => s.loadSnapshot(id, '', 1), 'INVALID_ARGUMENT', 'load with an empty name');
        assert.equal(await s.loadSnapshot(id, 'state', 1), undefined);
      });
    });

    it('a closed store refuses with CLOSED', async () => {
      const host = await factory.create();
      const s = snapshotsOf(host);
      await host.close();
      await expectCode(() => s.saveSnapshot(snapshot(freshStream('snap'))), 'CLOSED', 'save after close');
      await expectCode(() => s.loadSnapshot(freshStream('snap'), 'state', 1), 'CLOSED', 'load after close');
    });
  });
}

async function pick(s: SnapshotStore, id: string) {
  const loaded = await s.loadSnapshot(id, 'state', 1);
  return loaded && [loaded.streamVersion, loaded.position, loaded.state];
}
