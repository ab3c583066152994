// Conformance cases for the stream lifecycle (store.lifecycle): truncate, tombstone, archive, max-age / max-count
// metadata, what the global log and its subscribers see of each, bad input, and the races with appends.
import assert from 'node:assert/strict';
import {
  type EventStore,
  isChronicleError,
  Query,
  type RecordedEvent,
  type StreamLifecycle,
  type Subscription,
  scavengeStream,
} from 'chronicle-es';
import { type ConformanceRunner, expectCode, type StoreBlock } from './conformance-kit.js';
import {
  APPEND_FORMS,
  assertWellFormedDelivery,
  collect,
  ev,
  freshCategory,
  freshStream,
  ns,
  POLL_MS,
  range,
  waitFor,
  within,
} from './event-store-case-kit.js';
import type { EventStoreFactory } from './event-store-factory.js';

// Appenders racing one lifecycle operation, and how many events each tries to write.
const RACERS = 8;
const APPENDS_EACH = 6;
// Bound on a racer that appends until a tombstone refuses it.
const MAX_RACE_APPENDS = 2000;

const yieldTurn = () => new Promise((resolve) => setTimeout(resolve, 0));

/** The store's lifecycle; a store of ours without one fails the case. */
function lifecycleOf(store: EventStore): StreamLifecycle {
  assert.ok(store.lifecycle, 'the store has no lifecycle (store.lifecycle): truncate, tombstone and archive are store contracts');
  return store.lifecycle;
}

/** `n` events numbered from `from`. */
const numbered = (n: number, from = 1) => range(n).map((i) => ev('Lived', { n: from + i }));

/** Every event of `ids` in the global log from `from` on. */
async function logOf(store: EventStore, ids: readonly string[], from = 0): Promise<RecordedEvent[]> {
  return (await store.readAll({ from })).filter((e) => ids.includes(e.streamId));
}

async function expectDeleted(fn: () => unknown, what: string, flag?: 'tombstoned' | 'archived'): Promise<void> {
  const error = await expectCode(fn, 'STREAM_DELETED', what);
  const details = (error as { details?: Record<string, unknown> }).details ?? {};
  if (flag !== undefined) assert.equal(details[flag], true, `${what}: details.${flag} must be true`);
  else assert.equal(details.tombstoned, undefined, `${what}: a soft delete is not a tombstone`);
}

/** Registers the lifecycle cases; the race cases spread their appenders over a peer when the factory makes one. */
export function describeLifecycleCases(
  block: StoreBlock<EventStore>,
  factory: EventStoreFactory,
  runner: ConformanceRunner,
): void {
  const { describe, it, beforeAll, afterAll } = runner;

  block('stream lifecycle: truncate', (store) => {
    it('truncate removes the events below a version; reads start there, numbering goes on, positions are not reused', async () => {
      const s = store();
      const life = lifecycleOf(s);
      const id = freshStream();
      const other = freshStream();
      await s.append(id, numbered(5));
      await s.append(other, numbered(1));
      const before = await logOf(s, [id]);
      assert.deepEqual((await life.truncate(id, { before: 3 })).removed, 2);
      assert.deepEqual(ns(await s.readStream(id)), [3, 4, 5]);
      assert.deepEqual(ns(await s.readStream(id, { direction: 'backward' })), [5, 4, 3]);
      assert.deepEqual(ns(await s.readStream(id, { from: 1, limit: 2 })), [3, 4]);
      assert.deepEqual(ns(await s.readStream(id, { direction: 'backward', from: 2 })), []);
      // The global log and tag queries no longer hold them: a projection rebuilt from here never sees them.
      assert.deepEqual(ns(await logOf(s, [id])), [3, 4, 5]);
      assert.deepEqual(ns((await s.read(Query.tags(id))).events), [3, 4, 5]);
      assert.deepEqual(ns(await logOf(s, [other])), [1], 'another stream lost events');
      assert.deepEqual(await s.streamInfo(id), { streamId: id, version: 5, deleted: false, metadata: {} });
      assert.deepEqual(await life.status(id), { streamId: id, state: 'live', version: 5, truncatedBefore: 3 });
      const next = await s.append(id, numbered(1, 6), { expectedVersion: 5 });
      assert.equal(next.version, 6);
      assert.ok(next.position > before[before.length - 1].position, 'a position was reused');
      assert.deepEqual(ns(await s.readStream(id)), [3, 4, 5, 6]);
      // A lower or equal point removes nothing more; a higher one the rest up to it.
      assert.equal((await life.truncate(id, { before: 2 })).removed, 0);
      assert.equal((await life.truncate(id, { before: 3 })).removed, 0);
      assert.deepEqual((await life.status(id)).truncatedBefore, 3);
      assert.equal((await life.truncate(id, { before: 6 })).removed, 3);
      assert.deepEqual(ns(await s.readStream(id)), [6]);
    });

    it('truncate refuses bad input with a clear code and changes nothing', async () => {
      const s = store();
      const life = lifecycleOf(s);
      const id = freshStream();
      await s.append(id, numbered(3));
      for (const options of [{ before: 0 }, { before: -1 }, { before: 1.5 }, { before: '2' }, {}, null, undefined]) {
        await expectCode(
          () => life.truncate(id, options as unknown as { before: number }),
          'INVALID_ARGUMENT',
          `truncate ${JSON.stringify(options)}`,
        );
      }
      // The last event stays: it carries the version the next append numbers on from.
      await expectCode(() => life.truncate(id, { before: 4 }), 'INVALID_ARGUMENT', 'truncate past the last event');
      await expectCode(() => life.truncate('', { before: 1 }), 'INVALID_ARGUMENT', 'truncate of an empty id');
      await expectCode(() => life.truncate(freshStream(), { before: 1 }), 'NOT_FOUND', 'truncate of an unknown stream');
      assert.deepEqual(ns(await s.readStream(id)), [1, 2, 3]);
      assert.equal((await life.status(id)).truncatedBefore, 1);
      const closed = freshStream();
      await s.append(closed, numbered(2));
      await s.deleteStream(closed);
      await expectDeleted(() => life.truncate(closed, { before: 2 }), 'truncate of a deleted stream');
    });
  });

  block('stream lifecycle: tombstone', (store) => {
    it('tombstone removes the events and the snapshots; the id can never be appended to again', async () => {
      const s = store();
      const life = lifecycleOf(s);
      const id = freshStream();
      const other = freshStream();
      // The tombstoned stream holds the head: its positions must not be handed out again once they leave the log.
      await s.append(other, numbered(1));
      const first = await s.append(id, numbered(3), { idempotencyKey: `key-${id}` });
      if (s.snapshots) {
        await s.snapshots.saveSnapshot({
          streamId: id,
          name: 'state',
          version: 1,
          streamVersion: 3,
          position: first.position,
          state: { n: 3 },
        });
      }
      const head = await s.headPosition();
      await life.tombstone(id, { expectedVersion: 3 });
      assert.deepEqual(await logOf(s, [id]), [], 'tombstoned events are still in the global log');
      assert.deepEqual((await s.read(Query.tags(id))).events, []);
      assert.deepEqual(ns(await logOf(s, [other])), [1]);
      assert.ok((await s.headPosition()) >= head, 'the head went back: positions could be reused');
      await expectDeleted(() => s.readStream(id), 'readStream of a tombstoned stream', 'tombstoned');
      for (const form of APPEND_FORMS) {
        await expectDeleted(
          () => form.write(s, [{ streamId: id, events: [ev('Again')] }]),
          `${form.name} to a tombstoned stream`,
          'tombstoned',
        );
      }
      await expectDeleted(() => s.append(id, [ev('Again')], { expectedVersion: 'no_stream' }), 'append no_stream', 'tombstoned');
      await expectDeleted(() => s.append(id, [ev('Again')], { expectedVersion: 3 }), 'append at its old version', 'tombstoned');
      assert.deepEqual(await logOf(s, [id]), []);
      // The key keeps its first answer: a retried command writes nothing and learns what it had done.
      const again = await s.append(id, numbered(3), { idempotencyKey: `key-${id}` });
      assert.deepEqual(again, { ...first, duplicate: true });
      const later = await s.append(other, numbered(1, 2));
      assert.ok(later.position > head, 'a position was reused after a tombstone');
      if (s.snapshots)
        assert.equal(await s.snapshots.loadSnapshot(id, 'state', 1), undefined, 'the snapshot outlived the tombstone');
      assert.deepEqual(await life.status(id), { streamId: id, state: 'tombstoned', version: 3, truncatedBefore: 1 });
      const info = await s.streamInfo(id);
      assert.equal(info.deleted, true);
      assert.equal(info.version, 3);
      await life.tombstone(id);
      await expectDeleted(() => life.truncate(id, { before: 1 }), 'truncate of a tombstoned stream', 'tombstoned');
      await expectDeleted(() => life.archive(id), 'archive of a tombstoned stream', 'tombstoned');
      await expectDeleted(() => life.readArchived(id), 'readArchived of a tombstoned stream', 'tombstoned');
    });

    it('tombstone refuses bad input and a wrong expected version, changing nothing', async () => {
      const s = store();
      const life = lifecycleOf(s);
      const id = freshStream();
      await s.append(id, numbered(2));
      await expectCode(() => life.tombstone(id, { expectedVersion: 1 }), 'CONCURRENCY_CONFLICT', 'tombstone at a stale version');
      await expectCode(() => life.tombstone(id, { expectedVersion: 'no_stream' }), 'CONCURRENCY_CONFLICT', 'tombstone no_stream');
      await expectCode(
        () => life.tombstone(id, { expectedVersion: -2 as unknown as number }),
        'INVALID_ARGUMENT',
        'tombstone with a malformed expected version',
      );
      await expectCode(() => life.tombstone(freshStream()), 'NOT_FOUND', 'tombstone of an unknown stream');
      await expectCode(() => life.tombstone('a\u0000b'), 'INVALID_ARGUMENT', 'tombstone of a malformed id');
      assert.deepEqual(ns(await s.readStream(id)), [1, 2]);
      assert.equal((await life.status(id)).state, 'live');
      assert.equal((await s.append(id, numbered(1, 3), { expectedVersion: 2 })).version, 3);
    });
  });

  block('stream lifecycle: archive', (store) => {
    it('archive moves a closed stream out of the log; readArchived returns it as recorded', async () => {
      const s = store();
      const life = lifecycleOf(s);
      const id = freshStream();
      await s.append(id, numbered(4));
      await life.truncate(id, { before: 2 });
      await expectCode(() => life.archive(id), 'INVALID_ARGUMENT', 'archive of an open stream');
      await s.deleteStream(id);
      const recorded = await logOf(s, [id]);
      assert.deepEqual(ns(recorded), [2, 3, 4], 'a soft delete keeps the events in the log');
      assert.deepEqual(await life.archive(id), { archived: 3 });
      assert.deepEqual(await logOf(s, [id]), [], 'archived events are still in the global log');
      assert.deepEqual((await s.read(Query.tags(id))).events, []);
      assert.deepEqual(await life.readArchived(id), recorded);
      await expectDeleted(() => s.readStream(id), 'readStream of an archived stream', 'archived');
      await expectDeleted(() => s.append(id, [ev('Again')]), 'append to an archived stream', 'archived');
      assert.deepEqual(await life.status(id), { streamId: id, state: 'archived', version: 4, truncatedBefore: 2 });
      assert.equal((await s.streamInfo(id)).version, 4);
      assert.deepEqual(await life.archive(id), { archived: 0 });
      assert.deepEqual(await life.readArchived(id), recorded);
      // A tombstone takes the archive too.
      await life.tombstone(id);
      await expectDeleted(() => life.readArchived(id), 'readArchived after a tombstone', 'tombstoned');
      assert.equal((await life.status(id)).state, 'tombstoned');
    });

    it('archive and readArchived refuse unknown and open streams, changing nothing', async () => {
      const s = store();
      const life = lifecycleOf(s);
      const id = freshStream();
      await s.append(id, numbered(2));
      await expectCode(() => life.archive(freshStream()), 'NOT_FOUND', 'archive of an unknown stream');
      await expectCode(() => life.readArchived(freshStream()), 'NOT_FOUND', 'readArchived of an unknown stream');
      await expectCode(() => life.readArchived(id), 'NOT_FOUND', 'readArchived of a live stream');
      await expectCode(() => life.archive(''), 'INVALID_ARGUMENT', 'archive of an empty id');
      await expectCode(() => life.archive(id), 'INVALID_ARGUMENT', 'archive of an open stream');
      assert.deepEqual(ns(await logOf(s, [id])), [1, 2]);
      assert.equal((await life.status(id)).state, 'live');
      await s.deleteStream(id);
      assert.equal((await life.status(id)).state, 'deleted');
      await expectDeleted(() => s.readStream(id), 'readStream of a soft-deleted stream');
    });
  });

  block('stream lifecycle: max-age and max-count', (store) => {
    it('maxCount limits readStream to the last events; the global log keeps them all', async () => {
      const s = store();
      const id = freshStream();
      await s.append(id, numbered(5));
      await s.setStreamMetadata(id, { maxCount: 2, owner: 'x' });
      assert.deepEqual(ns(await s.readStream(id)), [4, 5]);
      assert.deepEqual(ns(await s.readStream(id, { direction: 'backward' })), [5, 4]);
      assert.deepEqual(ns(await s.readStream(id, { from: 1, limit: 1 })), [4]);
      assert.deepEqual(ns(await s.readStream(id, { direction: 'backward', from: 4 })), [4]);
      assert.deepEqual(ns(await logOf(s, [id])), [1, 2, 3, 4, 5]);
      assert.equal((await s.append(id, numbered(1, 6), { expectedVersion: 5 })).version, 6);
      assert.deepEqual(ns(await s.readStream(id)), [5, 6]);
      await s.setStreamMetadata(id, {});
      assert.deepEqual(ns(await s.readStream(id)), [1, 2, 3, 4, 5, 6]);
    });

    it('maxAge hides events recorded longer ago than that many seconds', async () => {
      const s = store();
      const id = freshStream();
      const old = new Date(Date.now() - 3_600_000).toISOString();
      await s.append(id, [
        { ...ev('Lived', { n: 1 }), metadata: { timestamp: old } },
        { ...ev('Lived', { n: 2 }), metadata: { timestamp: old } },
        ev('Lived', { n: 3 }),
      ]);
      await s.setStreamMetadata(id, { maxAge: 600 });
      assert.deepEqual(ns(await s.readStream(id)), [3]);
      assert.deepEqual(ns(await s.readStream(id, { direction: 'backward' })), [3]);
      await s.setStreamMetadata(id, { maxAge: 7200, maxCount: 2 });
      assert.deepEqual(ns(await s.readStream(id)), [2, 3]);
      assert.deepEqual(ns(await logOf(s, [id])), [1, 2, 3]);
    });

    it('scavengeStream deletes what maxCount / maxAge hide, keeping the last event', async () => {
      const s = store();
      const id = freshStream();
      await s.append(id, numbered(5));
      assert.deepEqual(await scavengeStream(s, id), { removed: 0 }, 'no retention, nothing to scavenge');
      await s.setStreamMetadata(id, { maxCount: 2 });
      assert.deepEqual(await scavengeStream(s, id), { removed: 3 });
      assert.deepEqual(ns(await logOf(s, [id])), [4, 5]);
      await s.setStreamMetadata(id, {});
      assert.deepEqual(ns(await s.readStream(id)), [4, 5], 'a scavenged event came back');
      const old = new Date(Date.now() - 3_600_000).toISOString();
      const expired = freshStream();
      await s.append(
        expired,
        range(3).map((i) => ({ ...ev('Lived', { n: i + 1 }), metadata: { timestamp: old } })),
      );
      await s.setStreamMetadata(expired, { maxAge: 60 });
      assert.deepEqual(await s.readStream(expired), []);
      assert.deepEqual(await scavengeStream(s, expired), { removed: 2 });
      assert.deepEqual(ns(await logOf(s, [expired])), [3]);
      assert.equal((await s.append(expired, numbered(1, 4))).version, 4);
    });

    it('malformed maxAge / maxCount are refused and the metadata stays', async () => {
      const s = store();
      const id = freshStream();
      await s.append(id, numbered(3));
      await s.setStreamMetadata(id, { maxCount: 2 });
      for (const metadata of [
        { maxCount: 0 },
        { maxCount: -1 },
        { maxCount: 1.5 },
        { maxCount: '2' },
        { maxAge: 0 },
        { maxAge: -5 },
        { maxAge: 'x' },
      ]) {
        await expectCode(() => s.setStreamMetadata(id, metadata), 'INVALID_ARGUMENT', `metadata ${JSON.stringify(metadata)}`);
      }
      assert.deepEqual((await s.streamInfo(id)).metadata, { maxCount: 2 });
      assert.deepEqual(ns(await s.readStream(id)), [2, 3]);
    });
  });

  block('stream lifecycle: what a subscriber sees', (store) => {
    it('a live subscriber keeps what it was given, skips nothing after; one from 0 sees only what is left', async () => {
      const s = store();
      const life = lifecycleOf(s);
      const category = freshCategory();
      const [kept, gone, closed] = [`${category}-kept`, `${category}-gone`, `${category}-closed`];
      const from = (await s.headPosition()) + 1;
      const live = collect(s, { from, filter: { categories: [category] }, pollIntervalMs: POLL_MS });
      try {
        await s.append(kept, numbered(3));
        await s.append(gone, numbered(2));
        await s.append(closed, numbered(2));
        await waitFor(() => live.events.length === 7, 'the live subscriber to get the first seven events');
        await life.truncate(kept, { before: 3 });
        await life.tombstone(gone);
        await s.deleteStream(closed);
        await life.archive(closed);
        await s.append(kept, numbered(2, 4));
        await waitFor(() => live.events.length === 9, 'the live subscriber to get the appends after the operations');
        assert.deepEqual(
          live.events.map((e) => `${e.streamId}@${e.version}`),
          [
            ...range(3).map((i) => `${kept}@${i + 1}`),
            `${gone}@1`,
            `${gone}@2`,
            `${closed}@1`,
            `${closed}@2`,
            `${kept}@4`,
            `${kept}@5`,
          ],
        );
        assertWellFormedDelivery(live.batches, from);
      } finally {
        await within(live.sub.stop(), 'stop()');
      }
      // A rebuild (a subscriber from the start) sees only what is left.
      const rebuild = collect(s, { from: 0, filter: { categories: [category] }, pollIntervalMs: POLL_MS });
      try {
        await waitFor(() => rebuild.events.length === 3, 'the rebuild to catch up');
        await new Promise((resolve) => setTimeout(resolve, POLL_MS * 3));
        assert.deepEqual(
          rebuild.events.map((e) => `${e.streamId}@${e.version}`),
          [`${kept}@3`, `${kept}@4`, `${kept}@5`],
        );
      } finally {
        await within(rebuild.sub.stop(), 'stop()');
      }
    });
  });

  describe('stream lifecycle: races with appends', () => {
    const opened: EventStore[] = [];
    beforeAll(async () => {
      const first = await factory.create();
      opened.push(first);
      if (factory.createPeer) opened.push(await factory.createPeer(first));
    });
    afterAll(async () => {
      for (const s of opened.splice(0).reverse()) await s.close();
    });
    const writer = (i: number) => opened[i % opened.length];

    it('a tombstone racing appenders: every append lands before it (and is removed) or is refused; none recreates the stream', async () => {
      const life = lifecycleOf(opened[0]);
      const id = freshStream();
      await opened[0].append(id, numbered(1));
      // Each racer appends until it is refused, yielding between appends so the tombstone interleaves with them.
      let appended = 0;
      const racers = range(RACERS).map(async (r) => {
        for (let k = 0; k < MAX_RACE_APPENDS; k++) {
          try {
            await writer(r).append(id, [ev('Lived', { n: r * 10_000 + k })]);
            appended++;
          } catch (error) {
            if (!isChronicleError(error, 'STREAM_DELETED')) throw error;
            assert.equal((error as { details?: { tombstoned?: boolean } }).details?.tombstoned, true);
            return true;
          }
          await yieldTurn();
        }
        return false;
      });
      await waitFor(() => appended >= RACERS, 'the racers to append');
      await life.tombstone(id);
      assert.deepEqual(
        await Promise.all(racers),
        range(RACERS).map(() => true),
        'a racer was never refused',
      );
      for (const s of opened) {
        assert.deepEqual(await logOf(s, [id]), [], 'an event of the tombstoned stream is in the log');
        await expectDeleted(() => s.readStream(id), 'readStream after the race', 'tombstoned');
        await expectDeleted(() => s.append(id, [ev('Again')]), 'append after the race', 'tombstoned');
      }
    });

    it('a truncate racing appenders loses no acknowledged append at or above its point', async () => {
      const life = lifecycleOf(opened[0]);
      const id = freshStream();
      await opened[0].append(id, numbered(4));
      const acknowledged: number[] = [];
      const racers = range(RACERS).map(async (r) => {
        for (let k = 0; k < APPENDS_EACH; k++) {
          const n = 1000 + r * 100 + k;
          const result = await writer(r).append(id, [ev('Lived', { n })]);
          acknowledged.push(result.version);
          await yieldTurn();
        }
      });
      await new Promise((resolve) => setTimeout(resolve, 1));
      const { removed } = await life.truncate(id, { before: 4 });
      await Promise.all(racers);
      assert.equal(removed, 3);
      const versions = (await opened[opened.length - 1].readStream(id)).map((e) => e.version);
      const expected = [4, ...acknowledged.sort((a, b) => a - b)];
      assert.deepEqual(versions, expected, 'an acknowledged append above the truncation point was lost');
      assert.deepEqual(
        (await logOf(opened[0], [id])).map((e) => e.version),
        expected,
      );
    });

    it('an archive and a tombstone racing a subscriber leave its delivery well-formed', async () => {
      const s = opened[0];
      const life = lifecycleOf(s);
      const category = freshCategory();
      const from = (await s.headPosition()) + 1;
      const sub = collect(s, { from, filter: { categories: [category] }, pollIntervalMs: POLL_MS, batchSize: 3 });
      let subscription: Subscription | undefined = sub.sub;
      try {
        const streams = range(RACERS).map((i) => `${category}-${i}`);
        await Promise.all(streams.map((id, i) => writer(i).append(id, numbered(APPENDS_EACH))));
        await Promise.all(
          streams.map(async (id, i) => {
            if (i % 2 === 0) return life.tombstone(id);
            await s.deleteStream(id);
            await life.archive(id);
          }),
        );
        const survivor = `${category}-after`;
        const last = await writer(1).append(survivor, numbered(2));
        await waitFor(() => sub.checkpoint >= last.position, 'the subscriber to reach the append after the operations');
        assertWellFormedDelivery(sub.batches, from);
        assert.deepEqual(
          sub.events.filter((e) => e.streamId === survivor).map((e) => e.version),
          [1, 2],
          'the subscriber skipped an event appended after the operations',
        );
        await within(sub.sub.stop(), 'stop()');
        subscription = undefined;
      } finally {
        if (subscription) await within(subscription.stop(), 'stop()');
      }
    });
  });
}
