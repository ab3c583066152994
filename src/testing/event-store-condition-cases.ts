// Conformance cases for append conditions, in each of the three append forms, and for the tagged append itself.
import assert from 'node:assert/strict';
import {
  type AppendCondition,
  type AppendResult,
  type EventStore,
  isChronicleError,
  Query,
  type TaggedEvent,
} from 'chronicle-es';
import { assertCode, type ConformanceRunner, expectCode, type StoreBlock } from './conformance-kit.js';
import {
  APPEND_FORMS,
  type AppendForm,
  assertNothingWrittenSince,
  ev,
  type FormWrite,
  freshStream,
  freshTag,
  freshType,
  ns,
  rejection,
  token,
} from './event-store-case-kit.js';
import { BAD_QUERIES } from './event-store-query-cases.js';

/** Asserts `error` is the conflict of a condition: CONCURRENCY_CONFLICT naming `position` and the `after` it had. */
function assertConditionConflict(error: unknown, position: number, after: number, what: string): void {
  assertCode(error, 'CONCURRENCY_CONFLICT', what);
  const details = (error as { details: Record<string, unknown> }).details;
  assert.equal(details.position, position, `${what}: details.position names the first conflicting event`);
  assert.equal(details.after, after, `${what}: details.after`);
}

/** The error the call rejects with (failing the case when it succeeds). */
async function failure(promise: Promise<unknown>, what: string): Promise<unknown> {
  const error = await rejection(promise);
  assert.ok(error !== undefined, `${what}: expected it to fail, but it succeeded`);
  return error;
}

const lastPosition = (results: readonly AppendResult[]) => Math.max(...results.map((r) => r.position));

const BAD_CONDITIONS: readonly unknown[] = [
  'condition',
  42,
  null,
  [],
  {},
  { after: 0 },
  ...BAD_QUERIES.map((failIfEventsMatch) => ({ failIfEventsMatch })),
  ...[-1, 1.5, '3', Number.NaN, Number.POSITIVE_INFINITY, true].map((after) => ({ failIfEventsMatch: Query.all(), after })),
];

/** Registers the cases on append conditions and the tagged append. */
export function describeConditionCases(block: StoreBlock<EventStore>, runner: ConformanceRunner): void {
  const { it } = runner;

  for (const form of APPEND_FORMS) describeFormCases(block, runner, form);

  block('tagged append', (store) => {
    it('writes events grouped by stream in the order streams first appear; versions continue each stream', async () => {
      const s = store();
      const T = freshType('Grouped');
      const [a, b, c] = [freshStream('a'), freshStream('b'), freshStream('c')];
      await s.append(a, [ev(T, { n: 0 }), ev(T, { n: 0 })]);
      const tag = freshTag();
      const events: TaggedEvent[] = [
        { streamId: b, ...ev(T, { n: 1 }, [tag]) },
        { streamId: a, ...ev(T, { n: 2 }) },
        { streamId: b, ...ev(T, { n: 3 }, [tag, a]) },
        { streamId: c, ...ev(T, { n: 4 }) },
        { streamId: a, ...ev(T, { n: 5 }, [tag]) },
      ];
      const results = await s.append(events);
      assert.deepEqual(
        results.map((r) => [r.streamId, r.version, r.duplicate]),
        [
          [b, 2, false],
          [a, 4, false],
          [c, 1, false],
        ],
      );
      assert.deepEqual(ns(await s.readStream(b)), [1, 3]);
      assert.deepEqual(ns(await s.readStream(a)), [0, 0, 2, 5]);
      assert.deepEqual(ns(await s.readStream(c)), [4]);
      const logged = await s.readAll({ from: (await s.readStream(b))[0].position, filter: { types: [T] } });
      assert.deepEqual(ns(logged), [1, 3, 2, 5, 4], 'one stream after another, each in the order given');
      for (const r of results) {
        const own = logged.filter((e) => e.streamId === r.streamId);
        assert.equal(r.position, own[own.length - 1].position, `position of ${r.streamId}`);
      }
      assert.deepEqual(
        logged.map((e) => e.tags),
        [[tag], [tag, a], [], [tag], []],
      );
      assert.deepEqual(ns((await s.read([{ tags: [a] }])).events), [0, 0, 3, 2, 5], "b's event tagged a is found by a");
    });

    it('takes no expected version: it appends at the end of each stream, whatever its version', async () => {
      const s = store();
      const id = freshStream();
      const T = freshType();
      for (let i = 1; i <= 3; i++) {
        const [r] = await s.append([{ streamId: id, ...ev(T, { n: i }) }]);
        assert.equal(r.version, i);
      }
      assert.deepEqual(ns(await s.readStream(id)), [1, 2, 3]);
    });

    it('[] events: no condition writes nothing; a condition is checked and the key recorded only when it holds', async () => {
      const s = store();
      const tag = freshTag();
      const before = await s.headPosition();
      assert.deepEqual(await s.append([]), []);
      const holds: AppendCondition = { failIfEventsMatch: Query.tags(tag), after: before };
      const key = `key-${token()}`;
      assert.deepEqual(await s.append([], { condition: holds, idempotencyKey: key }), []);
      assert.deepEqual(await s.findIdempotentResult(key), [], 'the key of an empty tagged append is recorded');

      const { position } = await s.append(freshStream(), [ev(freshType(), {}, [tag])]);
      const failing = await failure(s.append([], { condition: holds, idempotencyKey: `key-${token()}` }), '[] with a condition');
      assertConditionConflict(failing, position, before, '[] with a failing condition');
      const unused = `key-${token()}`;
      await failure(
        s.append([], { condition: { failIfEventsMatch: Query.tags(tag) }, idempotencyKey: unused }),
        '[] claiming a used tag',
      );
      assert.equal(await s.findIdempotentResult(unused), undefined, 'a failed empty append does not record its key');
      assert.deepEqual(await s.append([], { condition: holds, idempotencyKey: key }), [], 'the recorded key answers first');
    });

    it('an event without a proper stream id, or events that are not an array, give INVALID_ARGUMENT and write nothing', async () => {
      const s = store();
      const T = freshType();
      const good = freshStream();
      const before = await s.headPosition();
      const badIds: unknown[] = [undefined, '', 42, null, 'line\nbreak', 'lone\uD800', 'x'.repeat(513)];
      for (const streamId of badIds) {
        const events = [
          { streamId: good, ...ev(T) },
          { streamId, ...ev(T) },
        ] as TaggedEvent[];
        await expectCode(() => s.append(events), 'INVALID_ARGUMENT', `stream id ${JSON.stringify(streamId)}`);
      }
      for (const bad of ['events', {}, null, 42, [null], [{ streamId: good }], [{ streamId: good, type: '' }]]) {
        await expectCode(
          () => s.append(bad as unknown as TaggedEvent[]),
          'INVALID_ARGUMENT',
          `tagged events ${JSON.stringify(bad)}`,
        );
      }
      await assertNothingWrittenSince(s, before, [good]);
    });

    it('the same key again returns the first results in order with duplicate: true; another fingerprint is IDEMPOTENCY_MISMATCH', async () => {
      const s = store();
      const T = freshType();
      const [a, b] = [freshStream('a'), freshStream('b')];
      const key = `key-${token()}`;
      const options = { idempotencyKey: key, idempotencyFingerprint: 'fp-1' };
      const first = await s.append(
        [
          { streamId: a, ...ev(T) },
          { streamId: b, ...ev(T) },
          { streamId: a, ...ev(T) },
        ],
        options,
      );
      const head = await s.headPosition();
      const again = await s.append([{ streamId: b, ...ev(T) }], options);
      assert.deepEqual(
        again,
        first.map((r) => ({ ...r, duplicate: true })),
      );
      await expectCode(
        () => s.append([{ streamId: b, ...ev(T) }], { idempotencyKey: key, idempotencyFingerprint: 'fp-2' }),
        'IDEMPOTENCY_MISMATCH',
        'another fingerprint',
      );
      assert.deepEqual(
        (await s.readAll({ from: head + 1, filter: { types: [T] } })).map((e) => e.streamId),
        [],
      );
      assert.equal((await s.streamInfo(a)).version, 2);
    });
  });
}

/** The condition cases, run in one append form. */
function describeFormCases(block: StoreBlock<EventStore>, runner: ConformanceRunner, form: AppendForm): void {
  const { it } = runner;
  const one = (streamId: string, n: number, type: string, tags?: string[]): FormWrite[] => [
    { streamId, events: [ev(type, { n }, tags)] },
  ];
  // Two streams where the form takes several, else one: what "writes nothing in any stream" is checked over.
  const several = (ids: readonly string[], type: string): FormWrite[] =>
    (form.multi ? ids : ids.slice(0, 1)).map((streamId, i) => ({ streamId, events: [ev(type, { n: i }), ev(type, { n: i })] }));

  block(`append conditions: ${form.name}`, (store) => {
    it('passes when no matching event is stored after `after`, and fails naming the one that is', async () => {
      const s = store();
      const T = freshType();
      const t = freshTag();
      const seed = await s.append(freshStream(), [ev(T, { n: 0 }, [t])]);
      const id = freshStream();
      const condition = { failIfEventsMatch: Query.tags(t), after: seed.position };
      const written = await form.write(s, one(id, 1, T, [t]), { condition });
      assert.deepEqual(ns(await s.readStream(id)), [1]);
      const p1 = lastPosition(written);
      assert.ok(p1 > seed.position);

      const error = await failure(form.write(s, one(id, 2, T, [t]), { condition }), 'a stale condition');
      assertConditionConflict(error, p1, seed.position, 'a stale condition');
      assert.deepEqual(ns(await s.readStream(id)), [1], 'a failed append writes nothing');
      await form.write(s, one(id, 3, T, [t]), { condition: { failIfEventsMatch: Query.tags(t), after: p1 } });
      assert.deepEqual(ns(await s.readStream(id)), [1, 3]);
    });

    it('with several matching events after `after`, names the first of them', async () => {
      const s = store();
      const T = freshType();
      const [t, other] = [freshTag(), freshTag()];
      const at: number[] = [];
      for (let i = 0; i < 3; i++) {
        at.push((await s.append(freshStream(), [ev(T, { n: i }, [t])])).position);
        await s.append(freshStream(), [ev(T, { n: -1 }, [other])]);
      }
      const id = freshStream();
      const write = (after?: number) =>
        failure(form.write(s, one(id, 9, T), { condition: { failIfEventsMatch: Query.tags(t), after } }), `after ${after}`);
      assertConditionConflict(await write(at[0]), at[1], at[0], 'after the first');
      assertConditionConflict(await write(at[0] - 1), at[0], at[0] - 1, 'just before the first');
      assertConditionConflict(await write(at[1]), at[2], at[1], 'after the second');
      assertConditionConflict(await write(undefined), at[0], 0, 'without after');
      assert.equal((await s.streamInfo(id)).version, 0);
      await form.write(s, one(id, 9, T), { condition: { failIfEventsMatch: Query.tags(t), after: at[2] } });
      assert.equal((await s.streamInfo(id)).version, 1);
    });

    it('without `after` it is a uniqueness check: it fails when any matching event is stored at all', async () => {
      const s = store();
      const Claimed = freshType('Claimed');
      const email = freshTag('email');
      const unique = { failIfEventsMatch: [{ types: [Claimed], tags: [email] }] };
      const [first] = await form.write(s, one(freshStream('user'), 1, Claimed, [email]), { condition: unique });
      const second = freshStream('user');
      const error = await failure(form.write(s, one(second, 2, Claimed, [email]), { condition: unique }), 'a second claim');
      assertConditionConflict(error, first.position, 0, 'a second claim');
      assert.equal((await s.streamInfo(second)).version, 0);
      const elsewhere = freshTag('email');
      await form.write(s, one(second, 3, Claimed, [elsewhere]), {
        condition: { failIfEventsMatch: [{ types: [Claimed], tags: [elsewhere] }] },
      });
      assert.deepEqual(ns((await s.read([{ types: [Claimed] }])).events), [1, 3]);
    });

    it('events that do not match the query never conflict', async () => {
      const s = store();
      const [T, U] = [freshType('T'), freshType('U')];
      const [t, u] = [freshTag('t'), freshTag('u')];
      const watched = freshStream();
      const after = await s.headPosition();
      await s.append(freshStream(), [ev(T, {}, [u])]); // right type, other tag
      await s.append(freshStream(), [ev(U, {}, [t])]); // right tag, other type
      await s.append(freshStream(), [ev(T)]); // right type, no tags
      await s.append(freshStream(), [ev(T, {}, [`${t}x`, t.slice(0, -1), t.toUpperCase()])]); // tags that only look alike
      await s.append([{ streamId: freshStream(), ...ev(T, {}, [u, watched]) }]); // another stream's id, not watched's events
      await s.appendMany([{ streamId: watched, events: [ev(U, {}, [u])] }]); // watched's own event, without t
      const condition = {
        failIfEventsMatch: [
          { types: [T], tags: [t] },
          { types: [U], tags: [watched, t] },
        ],
        after,
      };
      const id = freshStream();
      await form.write(s, one(id, 1, T, [t]), { condition });
      assert.deepEqual(ns(await s.readStream(id)), [1]);
    });

    it('the condition sees events of every append form, untagged ones through their stream id', async () => {
      const s = store();
      const T = freshType();
      const target = freshStream();
      const cases: { what: string; write: () => Promise<number>; query: () => Query }[] = [];
      const [x, y, z, w] = [freshStream('x'), freshStream('y'), freshStream('z'), freshStream('w')];
      cases.push({
        what: 'an untagged stream append, by its stream id',
        write: async () => (await s.append(x, [ev(T)])).position,
        query: () => Query.tags(x),
      });
      cases.push({
        what: 'an untagged stream append, by its type',
        write: async () => (await s.append(freshStream(), [ev(T)])).position,
        query: () => [{ types: [T] }],
      });
      cases.push({
        what: 'an untagged appendMany, by its stream id',
        write: async () => (await s.appendMany([{ streamId: y, events: [ev(T)] }]))[0].position,
        query: () => Query.tags(y),
      });
      cases.push({
        what: 'a tagged append to another stream, by the stream id it is tagged with',
        write: async () => (await s.append([{ streamId: w, ...ev(T, {}, [z]) }]))[0].position,
        query: () => Query.tags(z),
      });
      for (const c of cases) {
        const after = await s.headPosition();
        const position = await c.write();
        const error = await failure(
          form.write(s, one(target, 1, freshType()), { condition: { failIfEventsMatch: c.query(), after } }),
          c.what,
        );
        assertConditionConflict(error, position, after, c.what);
      }
      assert.equal((await s.streamInfo(target)).version, 0);
    });

    it('a failed conditional append writes nothing in any stream and does not consume its key', async () => {
      const s = store();
      const T = freshType();
      const t = freshTag();
      const ids = [freshStream('a'), freshStream('b')];
      const after = await s.headPosition();
      const { position } = await s.append(freshStream(), [ev(T, {}, [t])]);
      const before = await s.headPosition();
      const key = `key-${token()}`;
      const error = await failure(
        form.write(s, several(ids, T), { condition: { failIfEventsMatch: Query.tags(t), after }, idempotencyKey: key }),
        'a failing condition with a key',
      );
      assertConditionConflict(error, position, after, 'a failing condition with a key');
      await assertNothingWrittenSince(s, before, ids);
      assert.equal(await s.findIdempotentResult(key), undefined, 'a failed append must not record its key');

      const ok = await form.write(s, several(ids, T), {
        condition: { failIfEventsMatch: Query.tags(t), after: position },
        idempotencyKey: key,
      });
      assert.ok(ok.every((r) => !r.duplicate));
      assert.deepEqual(
        await s.findIdempotentResult(key),
        ok.map((r) => ({ ...r, duplicate: true })),
      );
    });

    it('an idempotent repeat returns the first result even when its condition would now fail', async () => {
      const s = store();
      const T = freshType();
      const t = freshTag();
      const ids = [freshStream('a'), freshStream('b')];
      const key = `key-${token()}`;
      const options = {
        condition: { failIfEventsMatch: Query.tags(t), after: await s.headPosition() },
        idempotencyKey: key,
        idempotencyFingerprint: 'fp',
      };
      const first = await form.write(s, several(ids, T), options);
      await s.append(freshStream(), [ev(T, {}, [t])]);
      const head = await s.headPosition();
      const again = await form.write(s, several(ids, T), options);
      assert.deepEqual(
        again,
        first.map((r) => ({ ...r, duplicate: true })),
      );
      assert.deepEqual(
        (await s.readAll({ from: head + 1, filter: { types: [T] } })).map((e) => e.streamId),
        [],
        'a duplicate writes nothing',
      );
      await expectCode(
        () => form.write(s, several(ids, T), { ...options, idempotencyFingerprint: 'other' }),
        'IDEMPOTENCY_MISMATCH',
        'the same key with another fingerprint, condition failing',
      );
    });

    it('a malformed condition gives INVALID_ARGUMENT and writes nothing, even with a used key', async () => {
      const s = store();
      const T = freshType();
      const id = freshStream();
      const key = `key-${token()}`;
      await form.write(s, one(id, 1, T), { idempotencyKey: key });
      const before = await s.headPosition();
      for (const condition of BAD_CONDITIONS) {
        const what = `condition ${JSON.stringify(condition) ?? String(condition)}`;
        await expectCode(
          () => form.write(s, one(id, 2, T), { condition: condition as AppendCondition }),
          'INVALID_ARGUMENT',
          what,
        );
        await expectCode(
          () => form.write(s, one(id, 2, T), { condition: condition as AppendCondition, idempotencyKey: key }),
          'INVALID_ARGUMENT',
          `${what}, with a used key`,
        );
      }
      assert.equal(
        (await s.readAll({ from: before + 1, filter: { types: [T] } })).length,
        0,
        'a malformed condition wrote events',
      );
      assert.equal((await s.streamInfo(id)).version, 1);
    });

    it('a deleted stream is STREAM_DELETED whether or not the condition holds, and nothing is written', async () => {
      const s = store();
      const T = freshType();
      const t = freshTag();
      const [gone, other] = [freshStream('gone'), freshStream('other')];
      await s.append(gone, [ev(T)]);
      await s.deleteStream(gone);
      const after = await s.headPosition();
      await s.append(freshStream(), [ev(T, {}, [t])]);
      const before = await s.headPosition();
      const writes = form.multi
        ? [
            { streamId: other, events: [ev(T)] },
            { streamId: gone, events: [ev(T)] },
          ]
        : [{ streamId: gone, events: [ev(T)] }];
      for (const [what, condition] of [
        ['a condition that holds', { failIfEventsMatch: Query.tags(freshTag()) }],
        ['a condition that fails', { failIfEventsMatch: Query.tags(t), after }],
      ] as const) {
        await expectCode(
          () => form.write(s, writes, { condition }),
          'STREAM_DELETED',
          `${form.name} to a deleted stream, ${what}`,
        );
      }
      await assertNothingWrittenSince(s, before, [other]);
    });

    if (form.versions) {
      it('an expected version and a condition are both checked, the expected version first', async () => {
        const s = store();
        const T = freshType();
        const t = freshTag();
        const id = freshStream();
        await s.append(id, [ev(T, { n: 1 })]);
        const after = await s.headPosition();
        const { position } = await s.append(freshStream(), [ev(T, {}, [t])]);
        const failing = { failIfEventsMatch: Query.tags(t), after };
        const at = (expectedVersion: number): FormWrite[] => [{ streamId: id, events: [ev(T, { n: 2 })], expectedVersion }];

        const both = await failure(form.write(s, at(0), { condition: failing }), 'a stale version and a failing condition');
        assertCode(both, 'CONCURRENCY_CONFLICT', 'a stale version and a failing condition');
        assert.ok(isChronicleError(both) && both.details.position === undefined, 'the expected version is checked first');
        assert.equal((both as { details: Record<string, unknown> }).details.actualVersion, 1);
        assertConditionConflict(
          await failure(form.write(s, at(1), { condition: failing }), 'a failing condition'),
          position,
          after,
          'the right version and a failing condition',
        );
        await expectCode(
          () => form.write(s, at(0), { condition: { failIfEventsMatch: Query.tags(freshTag()) } }),
          'CONCURRENCY_CONFLICT',
          'a stale version and a condition that holds',
        );
        await form.write(s, at(1), { condition: { failIfEventsMatch: Query.tags(t), after: position } });
        assert.deepEqual(ns(await s.readStream(id)), [1, 2]);
      });
    }
  });
}
