// Conformance cases for tagged events and read(query): tags stored and handed back, and which events a query selects.
import assert from 'node:assert/strict';
import { type EventStore, type NewEvent, Query, type ReadOptions, type RecordedEvent } from 'chronicle-es';
import { type ConformanceRunner, expectCode, type StoreBlock } from './conformance-kit.js';
import {
  APPEND_FORMS,
  assertNothingWrittenSince,
  collect,
  ev,
  freshStream,
  freshTag,
  freshType,
  ns,
  POLL_MS,
  range,
  token,
  waitFor,
  within,
} from './event-store-case-kit.js';

/** The tags of each event, in the order given. */
const tagsOf = (events: readonly RecordedEvent[]) => events.map((e) => e.tags);

/** Positions strictly increase and no event comes twice. */
function assertInOrderOnce(events: readonly RecordedEvent[], what: string): void {
  for (let i = 1; i < events.length; i++) {
    assert.ok(
      events[i].position > events[i - 1].position,
      `${what}: position ${events[i].position} after ${events[i - 1].position}`,
    );
  }
  assert.equal(new Set(events.map((e) => e.id)).size, events.length, `${what}: an event came twice`);
}

/**
 * Six events over three fresh streams, types and tags, numbered n = 1..6, written through all three append forms:
 *
 *   n  stream  type  tags
 *   1  s1      A     t
 *   2  s1      B     t, u
 *   3  s2      A     u
 *   4  s2      B     (none)
 *   5  s1      A     t, u, v
 *   6  s3      C     s1        (tagged with another stream's id)
 */
async function writeFixture(s: EventStore) {
  const [A, B, C] = [freshType('A'), freshType('B'), freshType('C')];
  const [t, u, v] = [freshTag('t'), freshTag('u'), freshTag('v')];
  const [s1, s2, s3] = [freshStream('one'), freshStream('two'), freshStream('three')];
  const first = await s.append(s1, [ev(A, { n: 1 }, [t])]);
  await s.append(s1, [ev(B, { n: 2 }, [t, u])], { expectedVersion: 1 });
  await s.appendMany([{ streamId: s2, events: [ev(A, { n: 3 }, [u]), ev(B, { n: 4 })] }]);
  await s.append([{ streamId: s1, ...ev(A, { n: 5 }, [t, u, v]) }]);
  await s.append(s3, [ev(C, { n: 6 }, [s1])]);
  const ours = await s.readAll({ from: first.position, filter: { types: [A, B, C] } });
  assert.deepEqual(ns(ours), [1, 2, 3, 4, 5, 6], 'the fixture as written');
  const pos = (n: number) => ours[n - 1].position;
  return { A, B, C, t, u, v, s1, s2, s3, ours, pos };
}

const BAD_TAGS: readonly { what: string; tags: unknown }[] = [
  { what: 'a string', tags: 'tag' },
  { what: 'an object', tags: { a: 1 } },
  { what: 'null', tags: null },
  { what: 'a number', tags: 42 },
  { what: 'a number in the list', tags: [1] },
  { what: 'null in the list', tags: [null] },
  { what: 'an empty tag', tags: [''] },
  { what: 'a tag of 513 characters', tags: ['x'.repeat(513)] },
  { what: 'a line break', tags: ['line\nbreak'] },
  { what: 'a tab', tags: ['tab\there'] },
  { what: 'a NUL', tags: ['nul\u0000byte'] },
  { what: 'DEL', tags: ['delete\u007f'] },
  { what: 'a lone high surrogate', tags: ['lone\uD800surrogate'] },
  { what: 'a lone low surrogate', tags: ['trailing\uDC00'] },
  { what: '65 tags', tags: range(65).map((i) => `t${i}`) },
  { what: 'a bad tag after a good one', tags: ['fine', ''] },
];

/** Queries an adapter must refuse; a condition's query is checked the same way. */
export const BAD_QUERIES: readonly unknown[] = [
  [],
  'tag',
  {},
  null,
  undefined,
  42,
  [null],
  [[]],
  ['tag'],
  [{ tag: ['x'] }],
  [{ type: ['A'] }],
  [{ types: [] }],
  [{ tags: [] }],
  [{ types: 'A' }],
  [{ tags: 'x' }],
  [{ tags: [1] }],
  [{ types: [1] }],
  [{ tags: [''] }],
  [{ tags: ['line\nbreak'] }],
  [{ tags: ['x'.repeat(513)] }],
  [{ types: ['A'] }, { tgs: ['x'] }],
  [{}, { tags: [] }],
];

const BAD_READ_OPTIONS: readonly unknown[] = [
  { from: -1 },
  { from: 1.5 },
  { from: '1' },
  { from: Number.NaN },
  { limit: 0 },
  { limit: -1 },
  { limit: 1.5 },
  { limit: '2' },
  { limit: Number.NaN },
];

/** Registers the cases on tags and read(query). */
export function describeQueryCases(block: StoreBlock<EventStore>, runner: ConformanceRunner): void {
  const { it } = runner;

  block('tagged events', (store) => {
    it('tags round-trip through readStream, readAll, read and subscribe: [] when none, repeats once, in the order first given', async () => {
      const s = store();
      const T = freshType('Tagged');
      const [a, b] = [freshTag('a'), freshTag('b')];
      const [id, other] = [freshStream(), freshStream()];
      const first = await s.append(id, [ev(T, { n: 1 }, [a, b, a]), ev(T, { n: 2 }), ev(T, { n: 3 }, [])]);
      await s.appendMany([{ streamId: other, events: [ev(T, { n: 4 }, [b])] }]);
      await s.append([{ streamId: id, ...ev(T, { n: 5 }, [b, a, b]) }]);
      const expected = [[a, b], [], [], [b], [b, a]];

      const [{ position: from }] = await s.readStream(id, { limit: 1 });
      assert.ok(from <= first.position);
      const logged = await s.readAll({ from, filter: { types: [T] } });
      assert.deepEqual(ns(logged), [1, 2, 3, 4, 5]);
      assert.deepEqual(tagsOf(logged), expected, 'readAll');
      assert.deepEqual(tagsOf(await s.readStream(id)), [expected[0], expected[1], expected[2], expected[4]], 'readStream');
      assert.deepEqual(tagsOf(await s.readStream(id, { direction: 'backward', limit: 1 })), [expected[4]], 'readStream backward');
      const read = await s.read([{ types: [T] }]);
      assert.deepEqual(read.events, logged, 'read(query) must return the same recorded events as readAll');
      assert.deepEqual(ns((await s.read([{ tags: [b] }])).events), [1, 4, 5]);

      const c = collect(s, { from: logged[0].position, filter: { types: [T] }, pollIntervalMs: POLL_MS });
      try {
        await waitFor(() => c.events.length >= 5, 'the tagged events to be delivered');
        assert.deepEqual(c.events.slice(0, 5), logged, 'subscribe must deliver the same recorded events, tags included');
      } finally {
        await within(c.sub.stop(), 'stop()');
      }
    });

    it("a tag equal to the event's own stream id is kept, and the event is found once by it", async () => {
      const s = store();
      const T = freshType();
      const id = freshStream();
      await s.append(id, [ev(T, { n: 1 }, [id]), ev(T, { n: 2 })]);
      assert.deepEqual(tagsOf(await s.readStream(id)), [[id], []]);
      const byId = await s.read([{ tags: [id] }]);
      assert.deepEqual(ns(byId.events), [1, 2]);
      const both = await s.read([{ tags: [id] }, { types: [T] }, { types: [T], tags: [id] }]);
      assert.deepEqual(ns(both.events), [1, 2], 'an event matching several items (or its id twice) comes once');
    });

    it('tags are data: quotes, LIKE wildcards, case, spaces, unicode and the limits round-trip, each found by itself only', async () => {
      const s = store();
      const T = freshType('Odd');
      const r = token();
      const tags = [
        `single'quote${r}`,
        `double"quote${r}`,
        `back\\slash${r}`,
        `pct%${r}`,
        `pctX${r}`,
        `under_${r}`,
        `underX${r}`,
        `Case${r}`,
        `case${r}`,
        `with space${r}`,
        `trailing${r} `,
        `trailing${r}`,
        `comma,${r},{brace}`,
        `json["a"]${r}`,
        `ünïcødé-日本語-${r}`,
        `emoji🎉${r}`,
        `${r}\u00a0nbsp\u200bzero-width`,
        `'; drop table events; --${r}`,
        `${'x'.repeat(512 - r.length)}${r}`,
        `${'🎉'.repeat((512 - r.length) / 2)}${r}`,
      ];
      for (const tag of tags) assert.ok(tag.length <= 512);
      const id = freshStream();
      await s.append(
        id,
        tags.map((tag, n) => ev(T, { n }, [tag])),
      );
      assert.deepEqual(
        tagsOf(await s.readStream(id)),
        tags.map((tag) => [tag]),
      );
      for (const [n, tag] of tags.entries()) {
        assert.deepEqual(ns((await s.read([{ tags: [tag] }])).events), [n], `read by tag ${JSON.stringify(tag)}`);
      }

      const many = range(64).map((i) => `many${r}-${i}`);
      const other = freshStream();
      await s.append(other, [ev(T, { n: 100 }, many)]);
      assert.deepEqual(tagsOf(await s.readStream(other)), [many], '64 tags on one event');
      assert.deepEqual(ns((await s.read([{ tags: [many[63], many[0]] }])).events), [100]);
    });

    for (const form of APPEND_FORMS) {
      it(`invalid tags give INVALID_ARGUMENT through ${form.name} and write nothing`, async () => {
        const s = store();
        const T = freshType('BadTag');
        const [id, other] = [freshStream(), freshStream()];
        const before = await s.headPosition();
        for (const { what, tags } of BAD_TAGS) {
          const bad = { type: T, data: {}, tags } as unknown as NewEvent;
          const writes = form.multi
            ? [
                { streamId: id, events: [ev(T, {}, ['fine'])] },
                { streamId: other, events: [ev(T), bad] },
              ]
            : [{ streamId: id, events: [ev(T, {}, ['fine']), bad] }];
          await expectCode(() => form.write(s, writes), 'INVALID_ARGUMENT', `${form.name}, tags ${what}`);
        }
        await assertNothingWrittenSince(s, before, [id, other]);
      });
    }
  });

  block('read(query)', (store) => {
    it('selects by type, by one tag, by several tags (all of them), and by types and tags in one item', async () => {
      const s = store();
      const { A, B, C, t, u, v } = await writeFixture(s);
      const read = async (query: Query) => ns((await s.read(query)).events);
      assert.deepEqual(await read([{ types: [A] }]), [1, 3, 5]);
      assert.deepEqual(await read([{ types: [A, C] }]), [1, 3, 5, 6]);
      assert.deepEqual(await read([{ tags: [t] }]), [1, 2, 5]);
      assert.deepEqual(await read([{ tags: [t, u] }]), [2, 5]);
      assert.deepEqual(await read([{ tags: [u, t, v] }]), [5]);
      assert.deepEqual(await read(Query.tags(u, t)), [2, 5]);
      assert.deepEqual(await read([{ types: [A], tags: [u] }]), [3, 5]);
      assert.deepEqual(await read([{ types: [A, B], tags: [t] }]), [1, 2, 5]);
      assert.deepEqual(await read([{ types: [B], tags: [v] }]), []);
      assert.deepEqual(await read([{ tags: [t, freshTag()] }]), [], 'a tag nobody has narrows to nothing');
      assert.deepEqual(await read([{ tags: [freshTag()] }]), []);
      assert.deepEqual(await read([{ types: [freshType()] }]), []);
    });

    it('items are OR-ed: an event matching several items comes once, in position order', async () => {
      const s = store();
      const { A, B, C, t, u, v, ours } = await writeFixture(s);
      const read = async (query: Query) => {
        const { events } = await s.read(query);
        assertInOrderOnce(events, JSON.stringify(query));
        return ns(events);
      };
      assert.deepEqual(await read([{ tags: [v] }, { types: [B] }]), [2, 4, 5]);
      assert.deepEqual(await read([{ tags: [t] }, { tags: [u] }, { types: [A] }]), [1, 2, 3, 5]);
      assert.deepEqual(await read([{ types: [C] }, { tags: [t] }]), [1, 2, 5, 6]);
      assert.deepEqual(await read(Query.of({ tags: [u] }, { tags: [u] })), [2, 3, 5]);
      assert.deepEqual(await read([{ types: [A] }, { types: [A], tags: [t] }]), [1, 3, 5]);
      assert.deepEqual(await read([{ tags: [freshTag()] }, { types: [C] }]), [6]);
      // Every event, with whatever other writers add around ours: ours are there once each, in order.
      const all = await s.read(Query.all(), { from: ours[0].position });
      assertInOrderOnce(all.events, 'Query.all()');
      const ids = new Set(ours.map((e) => e.id));
      assert.deepEqual(
        all.events.filter((e) => ids.has(e.id)),
        ours,
      );
    });

    it("the stream id counts as a tag: untagged events are found by their stream's id, and so is an event tagged with it", async () => {
      const s = store();
      const { B, u, s1, s2, s3 } = await writeFixture(s);
      const read = async (query: Query) => ns((await s.read(query)).events);
      assert.deepEqual(await read([{ tags: [s1] }]), [1, 2, 5, 6]);
      assert.deepEqual(await read([{ tags: [s2] }]), [3, 4]);
      assert.deepEqual(await read([{ tags: [s2, u] }]), [3]);
      assert.deepEqual(await read([{ types: [B], tags: [s2] }]), [4]);
      assert.deepEqual(await read([{ tags: [s3] }]), [6]);
      assert.deepEqual(await read([{ tags: [s1, s3] }]), [6]);
      assert.deepEqual(await read([{ tags: [s1, s2] }]), []);
      assert.deepEqual(ns(await s.readStream(s1)), [1, 2, 5], 'a tag does not put an event in another stream');
    });

    it('from is inclusive; limit cuts the read short with head at the last event returned', async () => {
      const s = store();
      const { t, s1, pos } = await writeFixture(s);
      const read = (query: Query, options: ReadOptions) => s.read(query, options);
      assert.deepEqual(ns((await read([{ tags: [t] }], { from: 0 })).events), [1, 2, 5]);
      assert.deepEqual(ns((await read([{ tags: [t] }], { from: pos(2) })).events), [2, 5]);
      assert.deepEqual(ns((await read([{ tags: [t] }], { from: pos(2) + 1 })).events), [5]);
      assert.deepEqual(ns((await read([{ tags: [t] }], { from: pos(5) + 1 })).events), []);

      const cut = await read([{ tags: [t] }], { limit: 2 });
      assert.deepEqual(ns(cut.events), [1, 2]);
      assert.equal(cut.head, pos(2), 'a read that limit cut short covers up to its last event');
      const rest = await read([{ tags: [t] }], { from: cut.head + 1 });
      assert.deepEqual(ns(rest.events), [5]);
      const one = await read([{ tags: [t] }], { from: pos(2), limit: 1 });
      assert.deepEqual(ns(one.events), [2]);
      assert.equal(one.head, pos(2));
      const three = await read([{ tags: [s1] }], { limit: 3 });
      assert.deepEqual(ns(three.events), [1, 2, 5]);
      assert.equal(three.head, pos(5));
      const wide = await read([{ tags: [t] }], { limit: 1000 });
      assert.deepEqual(ns(wide.events), [1, 2, 5]);
      assert.ok(wide.head >= pos(5));

      // Paging by head: every matching event once, in order.
      const paged: RecordedEvent[] = [];
      for (let from = 0, pages = 0; ; pages++) {
        assert.ok(pages < 10, 'paging did not end');
        const page = await read([{ tags: [s1] }], { from, limit: 1 });
        if (page.events.length === 0) break;
        paged.push(...page.events);
        from = page.head + 1;
      }
      assert.deepEqual(ns(paged), [1, 2, 5, 6]);
    });

    it("head covers every matching event: at least each one's position, and the store's head when nobody writes", async () => {
      const s = store();
      const { t, pos } = await writeFixture(s);
      for (const query of [[{ tags: [t] }], [{ tags: [freshTag()] }]] as Query[]) {
        const before = await s.headPosition();
        const { events, head } = await s.read(query);
        const after = await s.headPosition();
        assert.ok(head <= after, `head ${head} is past the store's head ${after}`);
        if (before === after) assert.equal(head, before, 'with nobody writing, head is the store head');
        for (const e of events) assert.ok(e.position <= head, `event at ${e.position} is past head ${head}`);
      }
      assert.ok((await s.read([{ tags: [t] }])).head >= pos(5));

      const late = await s.append(freshStream(), [ev(freshType(), { n: 7 }, [t])]);
      const again = await s.read([{ tags: [t] }]);
      assert.ok(again.head >= late.position);
      assert.deepEqual(ns(again.events), [1, 2, 5, 7]);
    });

    it('a query of 1,000 items works; one of 1,001 is refused', async () => {
      const s = store();
      const base = freshTag('item');
      const T = freshType();
      await s.append(freshStream(), [ev(T, { n: 1 }, [`${base}-7`]), ev(T, { n: 2 }), ev(T, { n: 3 }, [`${base}-999`])]);
      const items = range(1000).map((i) => ({ tags: [`${base}-${i}`] }));
      assert.deepEqual(ns((await s.read(items)).events), [1, 3]);
      await expectCode(() => s.read([...items, { types: [T] }]), 'INVALID_ARGUMENT', 'a query of 1,001 items');
    });

    it('a malformed query, from or limit gives INVALID_ARGUMENT', async () => {
      const s = store();
      for (const query of BAD_QUERIES) {
        await expectCode(() => s.read(query as Query), 'INVALID_ARGUMENT', `read(${JSON.stringify(query) ?? String(query)})`);
      }
      for (const options of BAD_READ_OPTIONS) {
        await expectCode(
          () => s.read(Query.tags(freshTag()), options as ReadOptions),
          'INVALID_ARGUMENT',
          `read options ${JSON.stringify(options)}`,
        );
      }
    });
  });
}
