// The store-inspection cases every shipped store passes (memory, SQLite, PostgreSQL), runner-agnostic like the
// event-store conformance suite.
import assert from 'node:assert/strict';
import { type EventStore, inspectorOf, type NewEvent, type StoreInspector } from 'chronicle-es';
import { type ConformanceRunner, expectCode, storeBlocks } from './conformance-kit.js';
import { ev, freshCategory, freshStream, token } from './event-store-case-kit.js';
import type { EventStoreFactory } from './event-store-factory.js';

function inspect(store: EventStore): StoreInspector {
  const inspector = inspectorOf(store);
  assert.ok(inspector, 'the store offers no inspector (inspectorOf returned undefined)');
  return inspector;
}

const at = (iso: number, type = 'Stamped'): NewEvent => ({
  type,
  data: {},
  metadata: { timestamp: new Date(iso).toISOString() },
});

/**
 * Registers the store-inspection cases for one store with the given test runner. Each block creates one store
 * through `factory`; cases use fresh categories and stream ids, so a store holding other data works.
 */
export function describeStoreInspectorConformance(name: string, factory: EventStoreFactory, runner: ConformanceRunner): void {
  const { describe, it } = runner;
  const block = storeBlocks<EventStore>(runner, factory.create);

  describe(`store inspector: ${name}`, () => {
    block('totals and categories', (store) => {
      it('stats count the events and streams appended, and name the head', async () => {
        const before = await inspect(store()).stats();
        const c = freshCategory();
        await store().append(`${c}-a`, [ev('A'), ev('B')]);
        const last = await store().append(`${c}-b`, [ev('A')]);
        const after = await inspect(store()).stats();
        assert.equal(after.events - before.events, 3);
        assert.equal(after.streams - before.streams, 2);
        assert.equal(after.headPosition, last.position);
      });

      it('categories give the streams and events of each', async () => {
        const c = freshCategory();
        await store().append(`${c}-1`, [ev('A'), ev('B'), ev('C')]);
        await store().append(`${c}-2`, [ev('A'), ev('B')]);
        await store().append(c, [ev('A')]);
        const found = (await inspect(store()).categories()).find((x) => x.category === c);
        assert.deepEqual(found, { category: c, streams: 3, events: 6 });
      });

      it('shows what the stream lifecycle left: a truncated stream and its tail, nothing of archived or tombstoned ones', async () => {
        const s = store();
        const life = s.lifecycle;
        assert.ok(life, 'the store has no lifecycle');
        const c = freshCategory();
        const before = await inspect(s).stats();
        await s.append(`${c}-a`, [ev('A'), ev('B'), ev('C')]);
        await s.append(`${c}-b`, [ev('A'), ev('B')]);
        await s.append(`${c}-d`, [ev('A'), ev('B')]);
        await s.append(`${c}-e`, [ev('A')]);
        await life.truncate(`${c}-a`, { before: 3 });
        await life.tombstone(`${c}-b`);
        await s.deleteStream(`${c}-d`);
        await life.archive(`${c}-d`);
        const found = (await inspect(s).categories()).find((x) => x.category === c);
        assert.deepEqual(found, { category: c, streams: 2, events: 2 });
        const after = await inspect(s).stats();
        assert.equal(after.events - before.events, 2);
        assert.equal(after.streams - before.streams, 2);
        const listed = await inspect(s).listStreams({ category: c, limit: 10 });
        assert.deepEqual(
          listed.streams.map((x) => [x.streamId, x.version, x.deleted]),
          [
            [`${c}-a`, 3, false],
            [`${c}-e`, 1, false],
          ],
        );
      });
    });

    block('streams, paged', (store) => {
      it('a category lists its streams in id order, page by page, and nothing of a neighbouring name', async () => {
        const c = freshCategory();
        for (const id of [`${c}-b`, c, `${c}-a`, `${c}!x`, `${c}x-1`, `${c}-c`]) await store().append(id, [ev('A')]);
        await store().append(`${c}-b`, [ev('B')]);
        await store().deleteStream(`${c}-c`);
        const inspector = inspect(store());
        const first = await inspector.listStreams({ category: c, limit: 2 });
        assert.deepEqual(
          first.streams.map((s) => s.streamId),
          [c, `${c}-a`],
        );
        assert.equal(first.next, `${c}-a`);
        const second = await inspector.listStreams({ category: c, limit: 2, after: first.next });
        assert.deepEqual(
          second.streams.map((s) => [s.streamId, s.version, s.deleted, s.category]),
          [
            [`${c}-b`, 2, false, c],
            [`${c}-c`, 1, true, c],
          ],
        );
        const b = (await store().readStream(`${c}-b`, { direction: 'backward', limit: 1 }))[0];
        assert.equal(second.streams[0].lastPosition, b.position);
        assert.equal(second.streams[0].lastTimestamp, b.metadata.timestamp);
        // Exactly full and the last: no cursor; a cursor past the last stream gives an empty page.
        assert.equal(second.next, undefined);
        assert.deepEqual(await inspector.listStreams({ category: c, limit: 2, after: `${c}-c` }), { streams: [] });
      });

      it('a prefix lists the streams starting with it; the last page has no cursor', async () => {
        const c = freshCategory();
        for (const id of [`${c}-order1`, `${c}-order2`, `${c}-other`, `${c}-ord`]) await store().append(id, [ev('A')]);
        const page = await inspect(store()).listStreams({ prefix: `${c}-order`, limit: 10 });
        assert.deepEqual(
          page.streams.map((s) => s.streamId),
          [`${c}-order1`, `${c}-order2`],
        );
        assert.equal(page.next, undefined);
        const all = await inspect(store()).listStreams({ prefix: c, category: c, limit: 3 });
        assert.equal(all.streams.length, 3);
        assert.equal(all.next, `${c}-order2`);
      });

      it('refuses bad paging input', async () => {
        const inspector = inspect(store());
        for (const limit of [0, 501, 1.5, Number.NaN]) {
          await expectCode(() => inspector.listStreams({ limit }), 'INVALID_ARGUMENT', `limit ${limit}`);
        }
        await expectCode(() => inspector.listStreams({ limit: 5, after: '' }), 'INVALID_ARGUMENT', 'empty cursor');
        await expectCode(
          () => inspector.listStreams({ limit: 5, category: 3 as unknown as string }),
          'INVALID_ARGUMENT',
          'category not a string',
        );
        await expectCode(() => inspector.readStreamBackward('', { limit: 5 }), 'INVALID_ARGUMENT', 'empty stream id');
        await expectCode(() => inspector.readStreamBackward('x-1', { limit: 5, before: 0 }), 'INVALID_ARGUMENT', 'before 0');
        await expectCode(() => inspector.eventById(''), 'INVALID_ARGUMENT', 'empty event id');
      });
    });

    block('events of a stream and around an event', (store) => {
      it('reads a stream newest first, a page at a time, deleted or not; an unknown stream has none', async () => {
        const id = freshStream();
        await store().append(
          id,
          [1, 2, 3, 4, 5].map((n) => ev('N', { n })),
        );
        const inspector = inspect(store());
        const versions = (p: { events: { version: number }[] }) => p.events.map((e) => e.version);
        const one = await inspector.readStreamBackward(id, { limit: 2 });
        assert.deepEqual([versions(one), one.next], [[5, 4], 4]);
        const two = await inspector.readStreamBackward(id, { limit: 2, before: one.next });
        assert.deepEqual([versions(two), two.next], [[3, 2], 2]);
        const three = await inspector.readStreamBackward(id, { limit: 2, before: two.next });
        assert.deepEqual([versions(three), three.next], [[1], undefined]);
        assert.deepEqual(one.events[0].data, { n: 5 });
        await store().deleteStream(id);
        assert.equal((await inspector.readStreamBackward(id, { limit: 10 })).events.length, 5);
        assert.deepEqual(await inspector.readStreamBackward(freshStream(), { limit: 10 }), { events: [] });
      });

      it('finds an event by id, and nothing for an unknown id', async () => {
        const id = freshStream();
        await store().append(id, [ev('A', { x: 1 }), ev('B', { y: '<script>' })]);
        const [, b] = await store().readStream(id);
        assert.deepEqual(await inspect(store()).eventById(b.id), b);
        assert.equal(await inspect(store()).eventById(`no-such-${token()}`), undefined);
        assert.equal(await inspect(store()).related(`no-such-${token()}`), undefined);
      });

      it('follows the causation chain up and finds effects and correlated events', async () => {
        const correlationId = `corr-${token()}`;
        const [s1, s2, s3] = [freshStream(), freshStream(), freshStream()];
        await store().append(
          s1,
          [ev('Started')].map((e) => ({ ...e, metadata: { correlationId } })),
        );
        const [first] = await store().readStream(s1);
        await store().append(freshStream(), [ev('Noise')]);
        await store().append(s2, [{ ...ev('Followed'), metadata: { correlationId, causationId: first.id } }]);
        const [second] = await store().readStream(s2);
        await store().append(s3, [{ ...ev('Ended'), metadata: { correlationId, causationId: second.id } }]);
        const [third] = await store().readStream(s3);
        const inspector = inspect(store());
        const up = await inspector.related(third.id);
        assert.ok(up);
        assert.deepEqual(
          up.causes.map((e) => e.id),
          [second.id, first.id],
        );
        assert.deepEqual(
          up.correlated.map((e) => e.id),
          [first.id, second.id],
        );
        const down = await inspector.related(first.id);
        assert.ok(down);
        assert.deepEqual(
          down.effects.map((e) => e.id),
          [second.id],
        );
        assert.deepEqual(down.causes, []);
        assert.ok(down.scanned.from <= first.position && down.scanned.to >= third.position);
      });
    });

    block('write rate', (store) => {
      it('counts the events written in each bucket of the window', async () => {
        // A minute in the far future that no other case writes in: its counts are this case's events alone.
        const t0 = Date.UTC(2990, 0, 1) + Math.floor(Math.random() * 100_000) * 60_000;
        await store().append(freshStream(), [at(t0 + 5_000), at(t0 + 6_000)]);
        await store().append(freshStream(), [at(t0 + 15_000), at(t0 + 15_000), at(t0 + 19_999)]);
        await store().append(freshStream(), [at(t0 + 35_000)]);
        const inspector = inspect(store());
        const rate = await inspector.writeRate({ windowMs: 60_000, bucketMs: 10_000, now: new Date(t0 + 55_000) });
        assert.equal(rate.bucketMs, 10_000);
        assert.deepEqual(
          rate.buckets.map((b) => [b.start, b.events]),
          [0, 10, 20, 30, 40, 50].map((s, i) => [new Date(t0 + s * 1000).toISOString(), [2, 3, 0, 1, 0, 0][i]]),
        );
        const earlier = await inspector.writeRate({ windowMs: 60_000, bucketMs: 10_000, now: new Date(t0 - 120_000) });
        assert.deepEqual(
          earlier.buckets.map((b) => b.events),
          [0, 0, 0, 0, 0, 0],
        );
      });

      it('refuses a bad window', async () => {
        const inspector = inspect(store());
        await expectCode(() => inspector.writeRate({ windowMs: 1000, bucketMs: 0 }), 'INVALID_ARGUMENT', 'bucket 0');
        await expectCode(() => inspector.writeRate({ windowMs: 500, bucketMs: 1000 }), 'INVALID_ARGUMENT', 'window < bucket');
        await expectCode(() => inspector.writeRate({ windowMs: 121_000, bucketMs: 1000 }), 'INVALID_ARGUMENT', '121 buckets');
        await expectCode(
          () => inspector.writeRate({ windowMs: 1000, bucketMs: 1000, now: new Date(Number.NaN) }),
          'INVALID_ARGUMENT',
          'bad now',
        );
      });
    });
  });
}
