// The event-store conformance suite: the cases every EventStore adapter must pass, runner-agnostic.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import {
  type AppendResult,
  type ChronicleErrorCode,
  type EventStore,
  isChronicleError,
  type NewEvent,
  type RecordedEvent,
  type SubscribeOptions,
  type Subscription,
} from 'chronicle-es';
import { assertCode, type ConformanceRunner, expectCode, sleep, storeBlocks } from './conformance-kit.js';
import {
  assertNothingWrittenSince,
  assertWellFormedDelivery,
  collect,
  ev,
  freshCategory,
  freshStream,
  freshType,
  POLL_MS,
  range,
  rejection,
  token,
  waitFor,
  within,
} from './event-store-case-kit.js';
import { describeConditionCases } from './event-store-condition-cases.js';
import type { EventStoreFactory } from './event-store-factory.js';
import { describeLifecycleCases } from './event-store-lifecycle-cases.js';
import { describeQueryCases } from './event-store-query-cases.js';
import { describeRaceCases } from './event-store-race-cases.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;

/** A printable form of a test input that may hold a BigInt or a cycle. */
function describeValue(value: unknown): string {
  try {
    return String(JSON.stringify(value, (_, v) => (typeof v === 'bigint' ? `${v}n` : v)));
  } catch {
    return 'with circular data';
  }
}

/** Starts a subscription that must be refused with `code`, synchronously or through `done`. */
async function expectSubscribeCode(store: EventStore, options: SubscribeOptions, code: ChronicleErrorCode, what: string) {
  let sub: Subscription;
  try {
    sub = store.subscribe(options, () => {});
  } catch (e) {
    assertCode(e, code, what);
    return;
  }
  const error = await within(rejection(sub.done), `${what} to be refused`);
  await within(sub.stop(), 'stop()');
  assert.ok(error !== undefined, `${what}: expected ${code}, but the subscription ended normally`);
  assertCode(error, code, what);
}

/**
 * Registers the event-store conformance cases for one adapter with the given test runner: streams, the global log,
 * subscriptions, idempotency, tagged events, read(query) and append conditions, and the stream lifecycle (truncate,
 * tombstone, archive, max-age / max-count: `store.lifecycle` is required), with the races they must survive.
 * Each block creates one store through `factory` and closes it afterwards; cases use fresh stream ids, tags and event
 * types and never assume the store is empty, so one shared database works. With `factory.createPeer`, the race cases
 * also run across two instances over the same data.
 */
export function describeEventStoreConformance(name: string, factory: EventStoreFactory, runner: ConformanceRunner): void {
  const { describe, it } = runner;
  const block = storeBlocks<EventStore>(runner, factory.create);

  describe(`event store conformance: ${name}`, () => {
    block('append and expected versions', (store) => {
      it('append returns the new version and the last position; readStream returns the recorded events', async () => {
        const s = store();
        const id = freshStream();
        const before = await s.headPosition();
        const result = await s.append(id, [ev('Opened', { n: 1 }), ev('Renamed', { n: 2 }), ev('Closed', { n: 3 })], {
          expectedVersion: 'no_stream',
        });
        assert.equal(result.streamId, id);
        assert.equal(result.version, 3);
        assert.equal(result.duplicate, false);
        assert.ok(result.position > before, 'position must be past the head before the append');
        const events = await s.readStream(id);
        assert.deepEqual(
          events.map((e) => [e.streamId, e.version, e.type, e.data]),
          [
            [id, 1, 'Opened', { n: 1 }],
            [id, 2, 'Renamed', { n: 2 }],
            [id, 3, 'Closed', { n: 3 }],
          ],
        );
        for (let i = 1; i < events.length; i++) assert.ok(events[i].position > events[i - 1].position);
        assert.ok(events[0].position > before);
        assert.equal(events[2].position, result.position);
        assert.ok((await s.headPosition()) >= result.position);
        assert.deepEqual(await s.streamInfo(id), { streamId: id, version: 3, deleted: false, metadata: {} });
      });

      it("expectedVersion omitted means 'any'", async () => {
        const s = store();
        const id = freshStream();
        assert.equal((await s.append(id, [ev('A')])).version, 1);
        assert.equal((await s.append(id, [ev('A')])).version, 2);
      });

      it('expectedVersion as a number: 0 for a new stream, else exactly the current version', async () => {
        const s = store();
        const id = freshStream();
        assert.equal((await s.append(id, [ev('A')], { expectedVersion: 0 })).version, 1);
        await expectCode(() => s.append(id, [ev('B')], { expectedVersion: 0 }), 'CONCURRENCY_CONFLICT', '0 on a stream at 1');
        assert.equal((await s.append(id, [ev('A'), ev('A')], { expectedVersion: 1 })).version, 3);
        await expectCode(() => s.append(id, [ev('B')], { expectedVersion: 2 }), 'CONCURRENCY_CONFLICT', '2 on a stream at 3');
        await expectCode(() => s.append(id, [ev('B')], { expectedVersion: 4 }), 'CONCURRENCY_CONFLICT', '4 on a stream at 3');
        await expectCode(
          () => s.append(freshStream(), [ev('B')], { expectedVersion: 1 }),
          'CONCURRENCY_CONFLICT',
          '1 on a new stream',
        );
        assert.equal((await s.append(id, [ev('A')], { expectedVersion: 3 })).version, 4);
        const events = await s.readStream(id);
        assert.deepEqual(
          events.map((e) => e.type),
          ['A', 'A', 'A', 'A'],
          'a conflicting append must write nothing',
        );
      });

      it("expectedVersion 'no_stream': only a stream without events", async () => {
        const s = store();
        const id = freshStream();
        assert.equal((await s.append(id, [ev('A')], { expectedVersion: 'no_stream' })).version, 1);
        await expectCode(() => s.append(id, [ev('B')], { expectedVersion: 'no_stream' }), 'CONCURRENCY_CONFLICT', 'no_stream');
        assert.deepEqual(
          (await s.readStream(id)).map((e) => e.type),
          ['A'],
        );
      });

      it("expectedVersion 'exists': only a stream with events", async () => {
        const s = store();
        const id = freshStream();
        const before = await s.headPosition();
        await expectCode(() => s.append(id, [ev('B')], { expectedVersion: 'exists' }), 'CONCURRENCY_CONFLICT', 'exists on new');
        await assertNothingWrittenSince(s, before, [id]);
        await s.append(id, [ev('A')], { expectedVersion: 'no_stream' });
        assert.equal((await s.append(id, [ev('A')], { expectedVersion: 'exists' })).version, 2);
      });

      it("expectedVersion 'any': a new stream and an existing one alike", async () => {
        const s = store();
        const id = freshStream();
        assert.equal((await s.append(id, [ev('A')], { expectedVersion: 'any' })).version, 1);
        assert.equal((await s.append(id, [ev('A'), ev('A')], { expectedVersion: 'any' })).version, 3);
      });

      it('a conflict error carries code CONCURRENCY_CONFLICT and the stream continues at the right version', async () => {
        const s = store();
        const id = freshStream();
        await s.append(id, [ev('A'), ev('A')]);
        await expectCode(() => s.append(id, [ev('B')], { expectedVersion: 1 }), 'CONCURRENCY_CONFLICT', 'stale version');
        const next = await s.append(id, [ev('C')], { expectedVersion: 2 });
        assert.equal(next.version, 3);
        assert.deepEqual(
          (await s.readStream(id)).map((e) => [e.version, e.type]),
          [
            [1, 'A'],
            [2, 'A'],
            [3, 'C'],
          ],
        );
      });

      for (const kind of ['a number', "'no_stream'"] as const) {
        it(`of 20 concurrent appends at one expected version (${kind}) exactly one wins, the rest conflict`, async () => {
          const s = store();
          const id = freshStream();
          let expectedVersion: number | 'no_stream' = 'no_stream';
          if (kind === 'a number') {
            await s.append(id, [ev('Seed')]);
            expectedVersion = 1;
          }
          const settled = await Promise.allSettled(
            range(20).map((w) => s.append(id, [ev('Raced', { w }), ev('Raced', { w })], { expectedVersion })),
          );
          const won = settled.filter((r): r is PromiseFulfilledResult<AppendResult> => r.status === 'fulfilled');
          const lost = settled.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
          assert.equal(won.length, 1, `${won.length} appends won`);
          for (const r of lost) assertCode(r.reason, 'CONCURRENCY_CONFLICT', 'a losing concurrent append');
          const base = kind === 'a number' ? 1 : 0;
          assert.equal(won[0].value.version, base + 2);
          const events = (await s.readStream(id)).slice(base);
          const winner = (events[0].data as { w: number }).w;
          assert.deepEqual(
            events.map((e) => [e.version, e.data]),
            [
              [base + 1, { w: winner }],
              [base + 2, { w: winner }],
            ],
          );
          assert.equal(won[0].value.position, events[1].position);
        });
      }

      it('concurrent read-then-append writers that retry on conflict lose no update', async () => {
        const s = store();
        const id = freshStream();
        const writers = 8;
        await Promise.all(
          range(writers).map(async (w) => {
            for (let attempt = 0; ; attempt++) {
              const { version } = await s.streamInfo(id);
              try {
                await s.append(id, [ev('Incremented', { w })], { expectedVersion: version });
                return;
              } catch (e) {
                if (!isChronicleError(e, 'CONCURRENCY_CONFLICT') || attempt >= 200) throw e;
              }
            }
          }),
        );
        const events = await s.readStream(id);
        assert.deepEqual(
          events.map((e) => e.version),
          range(writers).map((i) => i + 1),
        );
        assert.deepEqual(
          events.map((e) => (e.data as { w: number }).w).sort((a, b) => a - b),
          range(writers),
        );
      });

      it('concurrent appends to different streams all succeed with distinct, increasing positions', async () => {
        const s = store();
        const cat = freshCategory();
        const ids = range(20).map((i) => `${cat}-${i}`);
        const before = await s.headPosition();
        const results = await Promise.all(ids.map((id, i) => s.append(id, [ev('A', { i }), ev('B', { i })])));
        assert.equal(new Set(results.map((r) => r.position)).size, ids.length, 'positions must be distinct');
        for (const r of results) assert.equal(r.version, 2);
        const logged = await s.readAll({ from: before + 1, filter: { categories: [cat] } });
        assert.equal(logged.length, 40);
        for (let i = 1; i < logged.length; i++) assert.ok(logged[i].position > logged[i - 1].position);
        for (const id of ids) {
          const own = logged.filter((e) => e.streamId === id);
          assert.deepEqual(
            own.map((e) => [e.version, e.type]),
            [
              [1, 'A'],
              [2, 'B'],
            ],
          );
        }
      });

      it('a failed batch writes nothing: not in readStream, not in readAll, headPosition unchanged', async () => {
        const s = store();
        const id = freshStream();
        const before = await s.headPosition();
        await expectCode(
          () => s.append(id, [ev('A'), ev('B'), ev('C')], { expectedVersion: 5 }),
          'CONCURRENCY_CONFLICT',
          'a batch at a wrong version',
        );
        await assertNothingWrittenSince(s, before, [id]);
        await expectCode(
          () => s.append(id, [ev('A'), { data: {} } as unknown as NewEvent, ev('C')]),
          'INVALID_ARGUMENT',
          'a batch whose second event has no type',
        );
        await assertNothingWrittenSince(s, before, [id]);
        await expectCode(
          () => s.append(id, [ev('A'), ev('B', { big: 1n })]),
          'INVALID_ARGUMENT',
          'a batch whose second event has data that is not JSON',
        );
        await assertNothingWrittenSince(s, before, [id]);
        assert.equal((await s.append(id, [ev('A')], { expectedVersion: 'no_stream' })).version, 1);
      });

      it('an empty append returns the current version and position and writes nothing', async () => {
        const s = store();
        const id = freshStream();
        assert.deepEqual(await s.append(id, [], { expectedVersion: 'no_stream' }), {
          streamId: id,
          version: 0,
          position: 0,
          duplicate: false,
        });
        assert.equal((await s.streamInfo(id)).version, 0);
        const written = await s.append(id, [ev('A'), ev('B')], { expectedVersion: 'no_stream' });
        const before = await s.headPosition();
        assert.deepEqual(await s.append(id, [], { expectedVersion: 2 }), { ...written, duplicate: false });
        assert.deepEqual(await s.append(id, []), { ...written, duplicate: false });
        await expectCode(
          () => s.append(id, [], { expectedVersion: 1 }),
          'CONCURRENCY_CONFLICT',
          'empty append at a stale version',
        );
        const newer = await s.readAll({ from: before + 1 });
        assert.deepEqual(
          newer.filter((e) => e.streamId === id),
          [],
        );
        assert.equal((await s.readStream(id)).length, 2);
      });

      it('the store keeps its own copy: mutating the input or a read event changes nothing stored', async () => {
        const s = store();
        const id = freshStream();
        const data = { list: [1, 2], nested: { a: 'x' } };
        const metadata = { actor: 'alice' };
        await s.append(id, [{ type: 'A', data, metadata }]);
        data.list.push(3);
        data.nested.a = 'changed';
        metadata.actor = 'mallory';
        const [first] = await s.readStream(id);
        assert.deepEqual(first.data, { list: [1, 2], nested: { a: 'x' } });
        assert.equal(first.metadata.actor, 'alice');
        (first.data as { list: number[] }).list.push(99);
        first.metadata.actor = 'eve';
        const [again] = await s.readStream(id);
        assert.deepEqual(again.data, { list: [1, 2], nested: { a: 'x' } });
        assert.equal(again.metadata.actor, 'alice');
      });
    });

    block('appendMany', (store) => {
      it('writes every stream and returns results in the order of the writes', async () => {
        const s = store();
        const cat = freshCategory();
        const [a, b, c] = ['a', 'b', 'c'].map((x) => `${cat}-${x}`);
        await s.append(b, [ev('Seed')]);
        const results = await s.appendMany([
          { streamId: c, events: [ev('C1'), ev('C2'), ev('C3')], expectedVersion: 'no_stream' },
          { streamId: a, events: [ev('A1')] },
          { streamId: b, events: [ev('B2'), ev('B3')], expectedVersion: 1 },
        ]);
        assert.deepEqual(
          results.map((r) => [r.streamId, r.version, r.duplicate]),
          [
            [c, 3, false],
            [a, 1, false],
            [b, 3, false],
          ],
        );
        for (const r of results) {
          const events = await s.readStream(r.streamId);
          assert.equal(events.length, r.version);
          assert.equal(r.position, events[events.length - 1].position, `position of ${r.streamId}`);
        }
        assert.equal(new Set(results.map((r) => r.position)).size, 3);
        assert.deepEqual(
          (await s.readStream(c)).map((e) => e.type),
          ['C1', 'C2', 'C3'],
        );
        assert.deepEqual(
          (await s.readStream(b)).map((e) => e.type),
          ['Seed', 'B2', 'B3'],
        );
      });

      it('is atomic: one wrong expected version and nothing is written in any stream', async () => {
        const s = store();
        const cat = freshCategory();
        const [a, b, c] = ['a', 'b', 'c'].map((x) => `${cat}-${x}`);
        await s.append(b, [ev('Seed')]);
        const before = await s.headPosition();
        await expectCode(
          () =>
            s.appendMany([
              { streamId: a, events: [ev('A1'), ev('A2')], expectedVersion: 'no_stream' },
              { streamId: b, events: [ev('B2')], expectedVersion: 5 },
              { streamId: c, events: [ev('C1')] },
            ]),
          'CONCURRENCY_CONFLICT',
          'appendMany with one stale version',
        );
        await assertNothingWrittenSince(s, before, [a, c]);
        assert.equal((await s.streamInfo(b)).version, 1);
        assert.deepEqual(
          (await s.readAll({ from: before + 1 })).filter((e) => e.streamId === b),
          [],
        );
      });

      it('is atomic: one malformed write and nothing is written in any stream', async () => {
        const s = store();
        const cat = freshCategory();
        const [a, b] = ['a', 'b'].map((x) => `${cat}-${x}`);
        const before = await s.headPosition();
        await expectCode(
          () =>
            s.appendMany([
              { streamId: a, events: [ev('A1')] },
              { streamId: b, events: [ev('B1'), { type: '' } as unknown as NewEvent] },
            ]),
          'INVALID_ARGUMENT',
          'appendMany with a malformed event in its second write',
        );
        await expectCode(
          () =>
            s.appendMany([
              { streamId: a, events: [ev('A1')] },
              { streamId: '', events: [ev('B1')] },
            ]),
          'INVALID_ARGUMENT',
          'appendMany with an empty stream id in its second write',
        );
        await assertNothingWrittenSince(s, before, [a, b]);
      });

      it('refuses no writes and the same stream twice with INVALID_ARGUMENT', async () => {
        const s = store();
        const id = freshStream();
        const before = await s.headPosition();
        await expectCode(() => s.appendMany([]), 'INVALID_ARGUMENT', 'appendMany([])');
        await expectCode(
          () =>
            s.appendMany([
              { streamId: id, events: [ev('A')] },
              { streamId: id, events: [ev('B')] },
            ]),
          'INVALID_ARGUMENT',
          'the same stream twice',
        );
        await assertNothingWrittenSince(s, before, [id]);
      });
    });

    block('readStream', (store) => {
      const tenEvents = async (s: EventStore) => {
        const id = freshStream();
        await s.append(
          id,
          range(10).map((i) => ev('Step', { i: i + 1 })),
        );
        return id;
      };
      const versions = (events: RecordedEvent[]) => events.map((e) => e.version);

      it('forward returns versions 1..n in order', async () => {
        const s = store();
        const id = await tenEvents(s);
        const events = await s.readStream(id);
        assert.deepEqual(versions(events), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
        assert.deepEqual(
          events.map((e) => (e.data as { i: number }).i),
          [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
        );
        assert.deepEqual(versions(await s.readStream(id, { direction: 'forward', from: 0 })), versions(events));
      });

      it('backward returns versions n..1 in order', async () => {
        const s = store();
        const id = await tenEvents(s);
        assert.deepEqual(versions(await s.readStream(id, { direction: 'backward' })), [10, 9, 8, 7, 6, 5, 4, 3, 2, 1]);
        assert.deepEqual(versions(await s.readStream(id, { direction: 'backward', from: 100 })), [10, 9, 8, 7, 6, 5, 4, 3, 2, 1]);
      });

      it('from the middle, inclusive, in both directions', async () => {
        const s = store();
        const id = await tenEvents(s);
        assert.deepEqual(versions(await s.readStream(id, { from: 4 })), [4, 5, 6, 7, 8, 9, 10]);
        assert.deepEqual(versions(await s.readStream(id, { from: 7, direction: 'backward' })), [7, 6, 5, 4, 3, 2, 1]);
        assert.deepEqual(versions(await s.readStream(id, { from: 10 })), [10]);
        assert.deepEqual(versions(await s.readStream(id, { from: 11 })), []);
        assert.deepEqual(versions(await s.readStream(id, { from: 1, direction: 'backward' })), [1]);
      });

      it('with a limit', async () => {
        const s = store();
        const id = await tenEvents(s);
        assert.deepEqual(versions(await s.readStream(id, { limit: 3 })), [1, 2, 3]);
        assert.deepEqual(versions(await s.readStream(id, { from: 4, limit: 3 })), [4, 5, 6]);
        assert.deepEqual(versions(await s.readStream(id, { direction: 'backward', limit: 2 })), [10, 9]);
        assert.deepEqual(versions(await s.readStream(id, { direction: 'backward', from: 7, limit: 3 })), [7, 6, 5]);
        assert.deepEqual(versions(await s.readStream(id, { from: 9, limit: 5 })), [9, 10]);
        assert.deepEqual(versions(await s.readStream(id, { limit: 1000 })).length, 10);
      });

      it('a stream that never existed reads as empty', async () => {
        const s = store();
        assert.deepEqual(await s.readStream(freshStream()), []);
        assert.deepEqual(await s.readStream(freshStream(), { direction: 'backward' }), []);
      });
    });

    block('readAll', (store) => {
      it('global positions strictly increase across streams, in append order', async () => {
        const s = store();
        const cat = freshCategory();
        const ids = ['a', 'b', 'c'].map((x) => `${cat}-${x}`);
        const results: AppendResult[] = [];
        for (let i = 0; i < 9; i++) results.push(await s.append(ids[i % 3], [ev('Tick', { i })]));
        for (let i = 1; i < results.length; i++) {
          assert.ok(results[i].position > results[i - 1].position, `append ${i} got position ${results[i].position}`);
        }
        const logged = await s.readAll({ from: results[0].position, filter: { categories: [cat] } });
        assert.deepEqual(
          logged.map((e) => e.position),
          results.map((r) => r.position),
        );
        assert.deepEqual(
          logged.map((e) => [e.streamId, (e.data as { i: number }).i]),
          range(9).map((i) => [ids[i % 3], i]),
        );
        assert.ok(logged[0].position >= 1, 'positions start at 1');
      });

      it('from is inclusive and limit bounds the page', async () => {
        const s = store();
        const cat = freshCategory();
        const p: number[] = [];
        for (let i = 0; i < 5; i++) p.push((await s.append(`${cat}-${i % 2}`, [ev('E', { i })])).position);
        const page = await s.readAll({ from: p[0], limit: 2 });
        assert.equal(page.length, 2);
        assert.equal(page[0].position, p[0]);
        assert.ok(page[1].position > p[0] && page[1].position <= p[1]);
        const mine = { categories: [cat] };
        assert.deepEqual(
          (await s.readAll({ from: p[2], filter: mine })).map((e) => e.position),
          p.slice(2),
        );
        assert.deepEqual(
          (await s.readAll({ from: p[1] + 1, filter: mine })).map((e) => e.position),
          p.slice(2),
          'from just past an event starts at the next one',
        );
        assert.deepEqual(
          (await s.readAll({ from: p[0], limit: 3, filter: mine })).map((e) => e.position),
          p.slice(0, 3),
          'limit counts events that pass the filter',
        );
        const head = await s.headPosition();
        assert.ok(head >= p[4]);
        assert.deepEqual(await s.readAll({ from: head + 1 }), []);
        const all = await s.readAll();
        assert.ok(all.length > 0 && all[0].position >= 1);
        assert.deepEqual(
          all.filter((e) => e.streamId.startsWith(`${cat}-`)).map((e) => e.position),
          p,
        );
      });

      it('filters by event types', async () => {
        const s = store();
        const [tA, tB, tC] = [freshType('A'), freshType('B'), freshType('C')];
        const from = (await s.headPosition()) + 1;
        await s.append(freshStream(), [ev(tA, { n: 1 }), ev(tB, { n: 2 })]);
        await s.append(freshStream(), [ev(tC, { n: 3 }), ev(tA, { n: 4 }), ev(tB, { n: 5 })]);
        const data = (events: RecordedEvent[]) => events.map((e) => (e.data as { n: number }).n);
        assert.deepEqual(data(await s.readAll({ from, filter: { types: [tA] } })), [1, 4]);
        assert.deepEqual(data(await s.readAll({ from, filter: { types: [tA, tC] } })), [1, 3, 4]);
        assert.deepEqual(data(await s.readAll({ from, filter: { types: [tB], categories: [] } })), []);
        assert.deepEqual(data(await s.readAll({ from, filter: { types: [] } })), [], 'an empty types list matches nothing');
        assert.deepEqual(data(await s.readAll({ from, limit: 1, filter: { types: [tB] } })), [2]);
      });

      it('filters by categories: the id before its first -, compared as plain text', async () => {
        const s = store();
        const c = freshCategory();
        const c2 = freshCategory();
        const t = freshType();
        const write = (streamId: string, n: number) => s.append(streamId, [ev(t, { n })]);
        const first = await write(`${c}-a`, 1);
        await write(`${c}-b-c`, 2);
        await write(c, 3); // no dash: the whole id is the category
        await write(`${c}x-1`, 4); // a longer category that starts the same
        await write(`${c2}-1`, 5);
        await write(`${c}_-1`, 6); // LIKE wildcards must not act as wildcards
        await write(`${c}a-1`, 7);
        await write(`${c}%-1`, 8);
        await write(`${c}zz-1`, 9);
        const from = first.position;
        const data = (events: RecordedEvent[]) => events.map((e) => (e.data as { n: number }).n);
        assert.deepEqual(data(await s.readAll({ from, filter: { categories: [c] } })), [1, 2, 3]);
        assert.deepEqual(data(await s.readAll({ from, filter: { categories: [c, c2] } })), [1, 2, 3, 5]);
        assert.deepEqual(data(await s.readAll({ from, filter: { categories: [`${c}_`] } })), [6]);
        assert.deepEqual(data(await s.readAll({ from, filter: { categories: [`${c}%`] } })), [8]);
        assert.deepEqual(data(await s.readAll({ from, filter: { categories: [c], types: [t] } })), [1, 2, 3]);
        assert.deepEqual(data(await s.readAll({ from, filter: { categories: [c], types: [freshType()] } })), []);
        assert.deepEqual(data(await s.readAll({ from, filter: { categories: [] } })), [], 'an empty list matches nothing');
      });
    });

    block('subscribe', (store) => {
      it('a subscriber from 0 sees every event exactly once, in position order, while writers append concurrently', async () => {
        const s = store();
        const cat = freshCategory('sub');
        const c = collect(s, { from: 0, batchSize: 7, pollIntervalMs: POLL_MS });
        try {
          const writers = range(4).map(async (w) => {
            let written = 0;
            for (let i = 0; i < 15; i++) {
              // Vary the interleaving: some steps yield to timers, some only to microtasks.
              if (i % 4 === 0) await sleep(1);
              else await Promise.resolve();
              if (w === 3 && i % 2 === 0) {
                await s.appendMany([
                  { streamId: `${cat}-m${w}a`, events: [ev('Sub', { w, i })] },
                  { streamId: `${cat}-m${w}b`, events: [ev('Sub', { w, i }), ev('Sub', { w, i })] },
                ]);
                written += 3;
              } else {
                const n = 1 + (i % 3);
                await s.append(
                  `${cat}-w${w}`,
                  range(n).map(() => ev('Sub', { w, i })),
                );
                written += n;
              }
            }
            return written;
          });
          const total = (await Promise.all(writers)).reduce((a, b) => a + b, 0);
          const head = await s.headPosition();
          await waitFor(() => c.checkpoint >= head, `the subscriber to reach position ${head}`);
          const expected = (await s.readAll({ from: 0 })).filter((e) => e.position <= head);
          const delivered = c.events.filter((e) => e.position <= head);
          assert.deepEqual(
            delivered.map((e) => e.position),
            expected.map((e) => e.position),
            'delivered positions differ from readAll',
          );
          assert.deepEqual(delivered, expected, 'delivered events differ from readAll');
          assert.equal(new Set(c.events.map((e) => e.id)).size, c.events.length, 'an event was delivered twice');
          assertWellFormedDelivery(c.batches, 0);
          assert.equal(delivered.filter((e) => e.streamId.startsWith(`${cat}-`)).length, total);

          await within(c.sub.stop(), 'stop()');
          const calls = c.calls;
          await s.append(`${cat}-after`, [ev('After'), ev('After')]);
          await sleep(POLL_MS * 5 + 50);
          assert.equal(c.calls, calls, 'the handler was called after stop() resolved');
          await within(c.sub.done, 'done to resolve after stop()');
        } finally {
          await c.sub.stop();
        }
      });

      it('stop() waits for the batch in flight, and nothing is delivered after it', async () => {
        const s = store();
        const id = freshStream();
        const { position } = await s.append(id, [ev('First')]);
        let release: () => void = () => {};
        const gate = new Promise<void>((resolve) => {
          release = resolve;
        });
        let calls = 0;
        const sub = s.subscribe({ from: position, pollIntervalMs: POLL_MS }, async () => {
          calls++;
          if (calls === 1) await gate;
        });
        try {
          await waitFor(() => calls === 1, 'the first batch');
          let stopped = false;
          const stopping = sub.stop().then(() => {
            stopped = true;
          });
          await sleep(50);
          assert.equal(stopped, false, 'stop() resolved while the handler was still running');
          await s.append(id, [ev('Second')]);
          release();
          await within(stopping, 'stop()');
          await sleep(POLL_MS * 5 + 50);
          assert.equal(calls, 1, 'a batch was delivered after stop()');
          await within(sub.done, 'done to resolve after stop()');
        } finally {
          release();
          await sub.stop();
        }

        let idleCalls = 0;
        const idle = s.subscribe({ from: (await s.headPosition()) + 1, pollIntervalMs: POLL_MS }, () => {
          idleCalls++;
        });
        await within(idle.stop(), 'stop() of an idle subscription');
        await within(idle.done, 'done of an idle subscription');
        await s.append(id, [ev('Third')]);
        await sleep(POLL_MS * 5 + 50);
        assert.equal(idleCalls, 0, 'a subscription stopped before any event was still called');
      });

      it('a subscription started at a middle position delivers from exactly that position', async () => {
        const s = store();
        const id = freshStream();
        const p: number[] = [];
        for (let i = 1; i <= 6; i++) p.push((await s.append(id, [ev('Step', { i })])).position);
        const c = collect(s, { from: p[2], batchSize: 2, pollIntervalMs: POLL_MS });
        try {
          await waitFor(() => c.checkpoint >= p[5], `the subscriber to reach position ${p[5]}`);
          const delivered = c.events.filter((e) => e.position <= p[5]);
          assert.equal(delivered[0].position, p[2], 'the first event delivered must be the one at `from`');
          assert.deepEqual(
            delivered.filter((e) => e.streamId === id).map((e) => e.version),
            [3, 4, 5, 6],
          );
          const expected = (await s.readAll({ from: p[2] })).filter((e) => e.position <= p[5]);
          assert.deepEqual(delivered, expected);
          assertWellFormedDelivery(c.batches, p[2]);
        } finally {
          await within(c.sub.stop(), 'stop()');
        }
      });

      it('a filtered subscription delivers only matching events, in order, live as well as caught up', async () => {
        const s = store();
        const cat = freshCategory('filt');
        const t = freshType();
        const first = await s.append(`${cat}-1`, [ev(t, { n: 1 })]);
        await s.append(freshStream('other'), [ev(t, { n: -1 })]);
        await s.append(`${cat}-2`, [ev(t, { n: 2 }), ev('Other', { n: -2 })]);
        const c = collect(s, { from: first.position, filter: { categories: [cat], types: [t] }, pollIntervalMs: POLL_MS });
        try {
          await waitFor(() => c.events.length >= 2, 'the caught-up events');
          await s.append(freshStream('other'), [ev(t, { n: -3 })]);
          await s.append(`${cat}-1`, [ev('Other', { n: -4 }), ev(t, { n: 3 })]);
          await waitFor(() => c.events.length >= 3, 'the live event');
          const head = await s.headPosition();
          await sleep(POLL_MS * 3);
          assert.deepEqual(
            c.events.map((e) => (e.data as { n: number }).n),
            [1, 2, 3],
          );
          assertWellFormedDelivery(c.batches, first.position);
          assert.ok(c.checkpoint <= head);
        } finally {
          await within(c.sub.stop(), 'stop()');
        }
      });

      it("a handler that throws or rejects ends the subscription: done rejects with the handler's error", async () => {
        const s = store();
        const { position } = await s.append(freshStream(), [ev('A'), ev('B')]);
        for (const mode of ['throws', 'rejects'] as const) {
          const boom = new Error(`handler ${mode}`);
          let calls = 0;
          const sub = s.subscribe({ from: position, pollIntervalMs: POLL_MS }, (): void | Promise<void> => {
            calls++;
            if (mode === 'throws') throw boom;
            return Promise.reject(boom);
          });
          const error = await within(rejection(sub.done), `done to reject when the handler ${mode}`);
          assert.equal(error, boom, `done must reject with the handler's own error when it ${mode}`);
          await s.append(freshStream(), [ev('C')]);
          await sleep(POLL_MS * 3);
          assert.equal(calls, 1, 'the handler was called again after it failed');
          await within(sub.stop(), 'stop() after a failure');
        }
      });
    });

    block('stream ids', (store) => {
      it('odd characters round-trip as data', async () => {
        const s = store();
        const r = token();
        const t = freshType('Odd');
        const ids = [
          `single'quote${r}`,
          `double"quote${r}`,
          `back\`tick${r}`,
          `back\\slash${r}`,
          `ünïcødé-日本語-${r}`,
          `emoji🎉🚀-${r}`,
          `percent%${r}%`,
          `under_score_${r}`,
          `'; drop table events; --${r}`,
          `" OR 1=1 --${r}`,
          `with spaces ${r} `,
          ` leading${r}`,
          `$1 ?${r} :name @p`,
          `json{"a":[1]}${r}`,
          `path/../${r}/..`,
          `${r}\u00a0nbsp\u200bzero-width`,
          `${'x'.repeat(512 - r.length)}${r}`,
          `${'🎉'.repeat((512 - r.length) / 2)}${r}`,
        ];
        for (const id of ids) assert.ok(id.length <= 512);
        const before = await s.headPosition();
        for (const id of ids) {
          const result = await s.append(id, [ev(t, { id }), ev(t, { id })], { expectedVersion: 'no_stream' });
          assert.equal(result.streamId, id);
          assert.equal(result.version, 2);
        }
        for (const id of ids) {
          const events = await s.readStream(id);
          assert.deepEqual(
            events.map((e) => [e.streamId, e.version, e.data]),
            [
              [id, 1, { id }],
              [id, 2, { id }],
            ],
            `stream ${JSON.stringify(id)}`,
          );
          assert.deepEqual(await s.streamInfo(id), { streamId: id, version: 2, deleted: false, metadata: {} });
          assert.equal((await s.append(id, [ev(t, { id })], { expectedVersion: 2 })).version, 3);
        }
        const logged = await s.readAll({ from: before + 1, filter: { types: [t] } });
        assert.deepEqual(
          logged.map((e) => e.streamId),
          ids.flatMap((id) => [id, id]).concat(ids),
        );
      });

      it('ids that differ only in case or trailing space are different streams', async () => {
        const s = store();
        const r = token();
        const ids = [`Order${r}-1`, `order${r}-1`, `ORDER${r}-1`, `order${r}-1 `, `order${r}-1  `];
        for (const [i, id] of ids.entries())
          await s.append(
            id,
            range(i + 1).map(() => ev('E')),
            { expectedVersion: 'no_stream' },
          );
        for (const [i, id] of ids.entries()) {
          assert.equal((await s.streamInfo(id)).version, i + 1, `stream ${JSON.stringify(id)}`);
          assert.equal((await s.readStream(id)).length, i + 1, `stream ${JSON.stringify(id)}`);
        }
      });

      it('invalid ids (empty, not a string, over 512 characters, control characters, lone surrogates) give INVALID_ARGUMENT', async () => {
        const s = store();
        const t = freshType('Bad');
        const invalid: unknown[] = [
          '',
          'x'.repeat(513),
          '🎉'.repeat(257),
          'line\nbreak',
          'carriage\rreturn',
          'tab\there',
          'nul\u0000byte',
          'escape\u001b[31m',
          'delete\u007f',
          'lone\uD800surrogate',
          'trailing\uDC00',
          123,
          null,
          undefined,
          {},
          ['a'],
        ];
        const before = await s.headPosition();
        for (const bad of invalid) {
          const id = bad as string;
          const what = `stream id ${JSON.stringify(bad) ?? String(bad)}`;
          await expectCode(() => s.append(id, [ev(t)]), 'INVALID_ARGUMENT', `append, ${what}`);
          await expectCode(() => s.appendMany([{ streamId: id, events: [ev(t)] }]), 'INVALID_ARGUMENT', `appendMany, ${what}`);
          await expectCode(() => s.readStream(id), 'INVALID_ARGUMENT', `readStream, ${what}`);
          await expectCode(() => s.streamInfo(id), 'INVALID_ARGUMENT', `streamInfo, ${what}`);
          await expectCode(() => s.setStreamMetadata(id, { a: 1 }), 'INVALID_ARGUMENT', `setStreamMetadata, ${what}`);
          await expectCode(() => s.deleteStream(id), 'INVALID_ARGUMENT', `deleteStream, ${what}`);
        }
        assert.deepEqual(await s.readAll({ from: before + 1, filter: { types: [t] } }), []);
      });
    });

    block('event ids and metadata', (store) => {
      it('metadata round-trips: correlation, causation, actor and custom fields', async () => {
        const s = store();
        const id = freshStream();
        const metadata = {
          correlationId: randomUUID(),
          causationId: randomUUID(),
          actor: 'user:alice',
          tenant: 'acme',
          trace: { spanId: 'abc123', sampled: true, tags: ['x', 'ü🎉'] },
          attempt: 3,
          nothing: null,
        };
        await s.append(id, [{ type: 'A', data: {}, metadata }]);
        const [fromStream] = await s.readStream(id);
        assert.deepEqual(fromStream.metadata, { ...metadata, schemaVersion: 1, timestamp: fromStream.metadata.timestamp });
        const [fromLog] = await s.readAll({ from: fromStream.position, limit: 1 });
        assert.deepEqual(fromLog, fromStream, 'readAll and readStream must return the same recorded event');
      });

      it('schemaVersion defaults to 1 and a given one is kept; timestamp is an ISO string of the append time', async () => {
        const s = store();
        const id = freshStream();
        const start = Date.now();
        await s.append(id, [
          ev('A'),
          { type: 'B', data: {}, metadata: { schemaVersion: 3 } },
          { type: 'C', data: {}, metadata: { schemaVersion: undefined, timestamp: undefined, actor: 'bob' } },
        ]);
        const end = Date.now();
        const events = await s.readStream(id);
        assert.deepEqual(
          events.map((e) => e.metadata.schemaVersion),
          [1, 3, 1],
        );
        assert.equal(events[2].metadata.actor, 'bob');
        for (const e of events) {
          const ts = e.metadata.timestamp;
          assert.equal(typeof ts, 'string', 'timestamp must be a string');
          assert.equal(new Date(ts).toISOString(), ts, `timestamp ${ts} must be an ISO-8601 string`);
          // Generous: the database's clock may drift from this process's.
          const ms = Date.parse(ts);
          assert.ok(ms >= start - 5 * 60_000 && ms <= end + 5 * 60_000, `timestamp ${ts} is not near the append`);
        }
      });

      it('event ids are unique uuids unless given, and a given id is kept', async () => {
        const s = store();
        const id = freshStream();
        const given = randomUUID();
        await s.append(id, [ev('A'), ev('B'), { type: 'C', data: {}, id: given }, ev('D')]);
        await s.append(freshStream(), [ev('E')]);
        const events = await s.readStream(id);
        for (const e of events) assert.match(e.id, UUID);
        assert.equal(events[2].id, given);
        assert.equal(new Set(events.map((e) => e.id)).size, 4);
        const logged = await s.readAll({ from: events[0].position, filter: { types: ['A', 'B', 'C', 'D', 'E'] } });
        assert.equal(new Set(logged.map((e) => e.id)).size, logged.length, 'event ids must be unique across streams');
      });

      it('a given event id already stored (or repeated in one batch) fails that append with INVALID_ARGUMENT, writing nothing', async () => {
        const s = store();
        const given = randomUUID();
        await s.append(freshStream(), [{ type: 'A', data: {}, id: given }]);
        const head = await s.headPosition();
        const other = freshStream();
        assertCode(
          await rejection(s.append(other, [ev('B'), { type: 'C', data: {}, id: given }])),
          'INVALID_ARGUMENT',
          'stored id',
        );
        const twice = randomUUID();
        const batch = [
          { type: 'D', data: {}, id: twice },
          { type: 'E', data: {}, id: twice },
        ];
        assertCode(await rejection(s.append(other, batch)), 'INVALID_ARGUMENT', 'id repeated in one batch');
        assert.equal(await s.headPosition(), head);
        assert.deepEqual(await s.readStream(other), []);
      });

      it('data round-trips any JSON value', async () => {
        const s = store();
        const id = freshStream();
        const values: unknown[] = [
          { nested: { list: [1, 'two', null, true, { deep: 'ü🎉日本' }] }, n: -1.5, max: Number.MAX_SAFE_INTEGER, e: 1e-7 },
          { text: 'quote \' double " backslash \\ newline \n tab \t nul \u0000 end', empty: '', sql: "'; drop table events; --" },
          [1, 2, 3],
          'just a string',
          42,
          0,
          false,
          null,
          {},
          [],
        ];
        await s.append(
          id,
          values.map((data) => ev('Value', data)),
        );
        const events = await s.readStream(id);
        assert.deepEqual(
          events.map((e) => e.data),
          values,
        );
      });
    });

    block('idempotency', (store) => {
      it('the same key again writes nothing and returns the first result with duplicate: true', async () => {
        const s = store();
        const id = freshStream();
        const key = `key-${token()}`;
        const first = await s.append(id, [ev('A', { n: 1 })], { expectedVersion: 'no_stream', idempotencyKey: key });
        assert.equal(first.duplicate, false);
        const head = await s.headPosition();
        // A retry whose expected version no longer holds still gets the first result, not a conflict.
        const again = await s.append(id, [ev('A', { n: 2 }), ev('A', { n: 3 })], {
          expectedVersion: 'no_stream',
          idempotencyKey: key,
        });
        assert.deepEqual(again, { ...first, duplicate: true });
        const elsewhere = freshStream();
        assert.deepEqual(await s.append(elsewhere, [ev('A')], { idempotencyKey: key }), { ...first, duplicate: true });
        assert.deepEqual(
          (await s.readStream(id)).map((e) => e.data),
          [{ n: 1 }],
        );
        assert.equal((await s.streamInfo(elsewhere)).version, 0);
        await assertNothingWrittenSince(s, head, [elsewhere]);
        assert.deepEqual(await s.findIdempotentResult(key), [{ ...first, duplicate: true }]);
      });

      it('a repeated key in appendMany writes nothing and returns the first results in order', async () => {
        const s = store();
        const cat = freshCategory();
        const [a, b] = [`${cat}-a`, `${cat}-b`];
        const key = `key-${token()}`;
        const first = await s.appendMany(
          [
            { streamId: a, events: [ev('A1')], expectedVersion: 'no_stream' },
            { streamId: b, events: [ev('B1'), ev('B2')], expectedVersion: 'no_stream' },
          ],
          { idempotencyKey: key },
        );
        const head = await s.headPosition();
        const again = await s.appendMany(
          [
            { streamId: a, events: [ev('A9')], expectedVersion: 'no_stream' },
            { streamId: b, events: [ev('B9')], expectedVersion: 'no_stream' },
          ],
          { idempotencyKey: key },
        );
        assert.deepEqual(
          again,
          first.map((r) => ({ ...r, duplicate: true })),
        );
        assert.deepEqual(await s.findIdempotentResult(key), again);
        assert.deepEqual(
          (await s.readStream(a)).map((e) => e.type),
          ['A1'],
        );
        assert.deepEqual(
          (await s.readStream(b)).map((e) => e.type),
          ['B1', 'B2'],
        );
        const newer = await s.readAll({ from: head + 1, filter: { categories: [cat] } });
        assert.deepEqual(newer, []);
      });

      it('a failed append does not consume its key', async () => {
        const s = store();
        const id = freshStream();
        const key = `key-${token()}`;
        await expectCode(
          () => s.append(id, [ev('A')], { expectedVersion: 3, idempotencyKey: key }),
          'CONCURRENCY_CONFLICT',
          'conflict with a key',
        );
        await expectCode(
          () => s.append(id, [{ data: 1 } as unknown as NewEvent], { idempotencyKey: key }),
          'INVALID_ARGUMENT',
          'malformed with a key',
        );
        assert.equal(await s.findIdempotentResult(key), undefined);
        const ok = await s.append(id, [ev('A')], { expectedVersion: 'no_stream', idempotencyKey: key });
        assert.equal(ok.duplicate, false);
        assert.equal(ok.version, 1);
      });

      it('malformed input with a used key is still refused', async () => {
        const s = store();
        const id = freshStream();
        const key = `key-${token()}`;
        await s.append(id, [ev('A')], { idempotencyKey: key });
        await expectCode(
          () => s.append(id, 'not events' as unknown as NewEvent[], { idempotencyKey: key }),
          'INVALID_ARGUMENT',
          'events not an array, with a used key',
        );
        await expectCode(
          () => s.append('', [ev('A')], { idempotencyKey: key }),
          'INVALID_ARGUMENT',
          'an empty stream id, with a used key',
        );
      });

      it('concurrent appends with the same key write once; every caller gets the same result', async () => {
        const s = store();
        const id = freshStream();
        const key = `key-${token()}`;
        const results = await Promise.all(range(10).map((w) => s.append(id, [ev('A', { w })], { idempotencyKey: key })));
        assert.equal(results.filter((r) => !r.duplicate).length, 1, 'exactly one append must write');
        const winner = results.find((r) => !r.duplicate)!;
        for (const r of results) assert.deepEqual({ ...r, duplicate: false }, winner);
        assert.equal((await s.readStream(id)).length, 1);
      });

      it('findIdempotentResult returns undefined for a key never used', async () => {
        const s = store();
        assert.equal(await s.findIdempotentResult(`key-${token()}`), undefined);
      });

      it('a key reused with another fingerprint is IDEMPOTENCY_MISMATCH and writes nothing; the same one is a duplicate', async () => {
        const s = store();
        const id = freshStream();
        const key = `key-${token()}`;
        const first = await s.append(id, [ev('A', { n: 1 })], { idempotencyKey: key, idempotencyFingerprint: 'fp-1' });
        const head = await s.headPosition();
        const other = freshStream();
        await expectCode(
          () => s.append(other, [ev('A', { n: 2 })], { idempotencyKey: key, idempotencyFingerprint: 'fp-2' }),
          'IDEMPOTENCY_MISMATCH',
          'append with another fingerprint',
        );
        await expectCode(
          () => s.appendMany([{ streamId: other, events: [ev('A')] }], { idempotencyKey: key, idempotencyFingerprint: 'fp-2' }),
          'IDEMPOTENCY_MISMATCH',
          'appendMany with another fingerprint',
        );
        await expectCode(() => s.findIdempotentResult(key, 'fp-2'), 'IDEMPOTENCY_MISMATCH', 'lookup with another fingerprint');
        await assertNothingWrittenSince(s, head, [other]);
        const again = await s.append(id, [ev('A', { n: 1 })], { idempotencyKey: key, idempotencyFingerprint: 'fp-1' });
        assert.deepEqual(again, { ...first, duplicate: true });
        assert.deepEqual(await s.findIdempotentResult(key, 'fp-1'), [{ ...first, duplicate: true }]);
        // A caller that gives no fingerprint is not checked against the stored one.
        assert.deepEqual(await s.findIdempotentResult(key), [{ ...first, duplicate: true }]);
      });

      it('concurrent appends with one key and different fingerprints: one writes, the others are refused', async () => {
        const s = store();
        const id = freshStream();
        const key = `key-${token()}`;
        const settled = await Promise.allSettled(
          range(6).map((w) => s.append(id, [ev('A', { w })], { idempotencyKey: key, idempotencyFingerprint: `fp-${w}` })),
        );
        const written = settled.filter((r) => r.status === 'fulfilled');
        assert.equal(written.length, 1, 'exactly one append must write');
        for (const r of settled) if (r.status === 'rejected') assertCode(r.reason, 'IDEMPOTENCY_MISMATCH', 'a racing reuse');
        assert.equal((await s.readStream(id)).length, 1);
      });

      it('a malformed fingerprint gives INVALID_ARGUMENT and writes nothing', async () => {
        const s = store();
        const id = freshStream();
        for (const bad of ['', 'x'.repeat(257), 7]) {
          await expectCode(
            () => s.append(id, [ev('A')], { idempotencyKey: `key-${token()}`, idempotencyFingerprint: bad as string }),
            'INVALID_ARGUMENT',
            `fingerprint ${JSON.stringify(bad)}`,
          );
        }
        assert.equal((await s.streamInfo(id)).version, 0);
      });
    });

    block('stream metadata', (store) => {
      it('a stream that never existed has version 0, not deleted, empty metadata', async () => {
        const s = store();
        const id = freshStream();
        assert.deepEqual(await s.streamInfo(id), { streamId: id, version: 0, deleted: false, metadata: {} });
      });

      it('setStreamMetadata replaces the metadata that streamInfo returns', async () => {
        const s = store();
        const id = freshStream();
        const metadata = { owner: 'alice', maxAge: 3600, nested: { list: [1, 'ü'] }, flag: false };
        await s.setStreamMetadata(id, metadata);
        assert.deepEqual(await s.streamInfo(id), { streamId: id, version: 0, deleted: false, metadata });
        // Setting metadata does not make the stream exist for expected versions.
        assert.equal((await s.append(id, [ev('A')], { expectedVersion: 'no_stream' })).version, 1);
        assert.deepEqual((await s.streamInfo(id)).metadata, metadata);
        await s.setStreamMetadata(id, { other: true });
        const info = await s.streamInfo(id);
        assert.deepEqual(info, { streamId: id, version: 1, deleted: false, metadata: { other: true } });
        const copy = await s.streamInfo(id);
        copy.metadata.other = 'mutated';
        assert.deepEqual((await s.streamInfo(id)).metadata, { other: true });
        await s.setStreamMetadata(id, {});
        assert.deepEqual((await s.streamInfo(id)).metadata, {});
      });

      it('stream metadata must be a plain object: INVALID_ARGUMENT otherwise', async () => {
        const s = store();
        const id = freshStream();
        await s.setStreamMetadata(id, { keep: 1 });
        for (const bad of [null, undefined, [], 'text', 42]) {
          await expectCode(
            () => s.setStreamMetadata(id, bad as unknown as Record<string, unknown>),
            'INVALID_ARGUMENT',
            `metadata ${JSON.stringify(bad)}`,
          );
        }
        assert.deepEqual((await s.streamInfo(id)).metadata, { keep: 1 });
      });
    });

    block('soft delete', (store) => {
      it('a deleted stream refuses reads and appends with STREAM_DELETED; its events stay in readAll', async () => {
        const s = store();
        const cat = freshCategory();
        const id = `${cat}-1`;
        const start = (await s.headPosition()) + 1;
        await s.append(id, [ev('A'), ev('B')]);
        await s.deleteStream(id);
        await expectCode(() => s.readStream(id), 'STREAM_DELETED', 'readStream of a deleted stream');
        await expectCode(() => s.readStream(id, { direction: 'backward' }), 'STREAM_DELETED', 'readStream backward');
        const head = await s.headPosition();
        await expectCode(() => s.append(id, [ev('C')]), 'STREAM_DELETED', 'append to a deleted stream');
        await expectCode(() => s.append(id, [ev('C')], { expectedVersion: 2 }), 'STREAM_DELETED', 'append at its version');
        await expectCode(() => s.append(id, [ev('C')], { expectedVersion: 'exists' }), 'STREAM_DELETED', "append 'exists'");
        assert.deepEqual(
          (await s.readAll({ from: head + 1 })).filter((e) => e.streamId === id),
          [],
        );
        const logged = await s.readAll({ from: start, filter: { categories: [cat] } });
        assert.deepEqual(
          logged.map((e) => [e.streamId, e.version, e.type]),
          [
            [id, 1, 'A'],
            [id, 2, 'B'],
          ],
        );
        const info = await s.streamInfo(id);
        assert.equal(info.deleted, true);
        assert.equal(info.version, 2);
        assert.equal((await s.append(`${cat}-2`, [ev('A')])).version, 1, 'other streams are unaffected');
      });

      it('appendMany touching a deleted stream fails with STREAM_DELETED and writes nothing', async () => {
        const s = store();
        const cat = freshCategory();
        const [gone, other] = [`${cat}-gone`, `${cat}-other`];
        await s.append(gone, [ev('A')]);
        await s.deleteStream(gone, { expectedVersion: 1 });
        const before = await s.headPosition();
        await expectCode(
          () =>
            s.appendMany([
              { streamId: other, events: [ev('B')] },
              { streamId: gone, events: [ev('B')] },
            ]),
          'STREAM_DELETED',
          'appendMany with a deleted stream',
        );
        await assertNothingWrittenSince(s, before, [other]);
      });

      it('deleteStream checks its expected version', async () => {
        const s = store();
        const id = freshStream();
        await s.append(id, [ev('A'), ev('B')]);
        await expectCode(() => s.deleteStream(id, { expectedVersion: 1 }), 'CONCURRENCY_CONFLICT', 'delete at a stale version');
        await expectCode(
          () => s.deleteStream(id, { expectedVersion: 'no_stream' }),
          'CONCURRENCY_CONFLICT',
          "delete 'no_stream'",
        );
        assert.equal((await s.streamInfo(id)).deleted, false);
        assert.equal((await s.readStream(id)).length, 2);
        await expectCode(
          () => s.deleteStream(freshStream(), { expectedVersion: 'exists' }),
          'CONCURRENCY_CONFLICT',
          "delete 'exists' of a stream that never existed",
        );
        await expectCode(
          () => s.deleteStream(id, { expectedVersion: -1 as number }),
          'INVALID_ARGUMENT',
          'delete with expectedVersion -1',
        );
        await s.deleteStream(id, { expectedVersion: 2 });
        assert.equal((await s.streamInfo(id)).deleted, true);
      });
    });

    block('malformed input', (store) => {
      it('a bad expectedVersion gives INVALID_ARGUMENT and writes nothing', async () => {
        const s = store();
        const id = freshStream();
        const before = await s.headPosition();
        for (const bad of [-1, 1.5, 'foo', '1', Number.NaN, Number.POSITIVE_INFINITY, true, {}]) {
          const expectedVersion = bad as number;
          const what = `expectedVersion ${String(bad)}`;
          await expectCode(() => s.append(id, [ev('A')], { expectedVersion }), 'INVALID_ARGUMENT', what);
          await expectCode(() => s.appendMany([{ streamId: id, events: [ev('A')], expectedVersion }]), 'INVALID_ARGUMENT', what);
        }
        await assertNothingWrittenSince(s, before, [id]);
      });

      it('events that are not an array, or an event without a proper type, give INVALID_ARGUMENT and write nothing', async () => {
        const s = store();
        const id = freshStream();
        const before = await s.headPosition();
        for (const bad of ['events', {}, null, undefined, 42, { type: 'A', data: {} }]) {
          await expectCode(() => s.append(id, bad as unknown as NewEvent[]), 'INVALID_ARGUMENT', `events ${JSON.stringify(bad)}`);
          await expectCode(
            () => s.appendMany([{ streamId: id, events: bad as unknown as NewEvent[] }]),
            'INVALID_ARGUMENT',
            `appendMany events ${JSON.stringify(bad)}`,
          );
        }
        const badEvents: unknown[] = [
          null,
          'Opened',
          { data: {} },
          { type: '', data: {} },
          { type: 42, data: {} },
          { type: null, data: {} },
          { type: 'A', data: {}, id: '' },
          { type: 'A', data: {}, id: 42 },
          { type: 'A', data: { n: 1n } },
          { type: 'A', data: {}, metadata: 'not an object' },
          { type: 'A', data: {}, metadata: { schemaVersion: 'two' } },
          { type: 'A', data: {}, metadata: { timestamp: 'yesterday' } },
        ];
        const circular: Record<string, unknown> = {};
        circular.self = circular;
        badEvents.push({ type: 'A', data: circular });
        for (const bad of badEvents) {
          await expectCode(() => s.append(id, [ev('Fine'), bad as NewEvent]), 'INVALID_ARGUMENT', `event ${describeValue(bad)}`);
        }
        await assertNothingWrittenSince(s, before, [id]);
      });

      it('a malformed idempotency key gives INVALID_ARGUMENT and writes nothing', async () => {
        const s = store();
        const id = freshStream();
        const before = await s.headPosition();
        for (const bad of ['', 42, 'k'.repeat(513)]) {
          const idempotencyKey = bad as string;
          await expectCode(
            () => s.append(id, [ev('A')], { idempotencyKey }),
            'INVALID_ARGUMENT',
            `key ${String(bad).slice(0, 20)}`,
          );
          await expectCode(
            () => s.appendMany([{ streamId: id, events: [ev('A')] }], { idempotencyKey }),
            'INVALID_ARGUMENT',
            `appendMany key ${String(bad).slice(0, 20)}`,
          );
        }
        await assertNothingWrittenSince(s, before, [id]);
      });

      it('a bad limit, from or direction in readStream gives INVALID_ARGUMENT', async () => {
        const s = store();
        const id = freshStream();
        await s.append(id, [ev('A'), ev('B')]);
        const bad: unknown[] = [
          { limit: 0 },
          { limit: -1 },
          { limit: 1.5 },
          { limit: '2' },
          { limit: Number.NaN },
          { from: -1 },
          { from: 1.5 },
          { from: 'start' },
          { direction: 'sideways' },
        ];
        for (const options of bad) {
          await expectCode(
            () => s.readStream(id, options as Parameters<EventStore['readStream']>[1]),
            'INVALID_ARGUMENT',
            `readStream ${JSON.stringify(options)}`,
          );
        }
      });

      it('a bad limit, from or filter in readAll gives INVALID_ARGUMENT', async () => {
        const s = store();
        const bad: unknown[] = [
          { limit: 0 },
          { limit: -5 },
          { limit: 2.5 },
          { from: -1 },
          { from: 0.5 },
          { filter: { types: 'A' } },
          { filter: { types: [1] } },
          { filter: { categories: 'order' } },
        ];
        for (const options of bad) {
          await expectCode(
            () => s.readAll(options as Parameters<EventStore['readAll']>[0]),
            'INVALID_ARGUMENT',
            `readAll ${JSON.stringify(options)}`,
          );
        }
      });

      it('bad subscribe options give INVALID_ARGUMENT', async () => {
        const s = store();
        const bad: unknown[] = [{ from: -1 }, { from: 1.5 }, { batchSize: 0 }, { batchSize: -1 }, { filter: { types: 'A' } }];
        for (const options of bad) {
          await expectSubscribeCode(s, options as SubscribeOptions, 'INVALID_ARGUMENT', `subscribe ${JSON.stringify(options)}`);
        }
      });
    });

    describeQueryCases(block, runner);
    describeConditionCases(block, runner);
    describeRaceCases(factory, runner);
    describeLifecycleCases(block, factory, runner);

    it('close lets a pending append settle, then appends fail with CLOSED', async () => {
      const s = await factory.create();
      let closed = false;
      try {
        const id = freshStream();
        const pending = s.append(id, [ev('A')], { expectedVersion: 'no_stream' });
        const closing = s.close();
        const result = await pending;
        assert.equal(result.version, 1);
        await closing;
        closed = true;
        await expectCode(() => s.append(id, [ev('B')]), 'CLOSED', 'append after close');
      } finally {
        if (!closed) await s.close();
      }
    });
  });
}
