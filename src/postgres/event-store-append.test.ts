// How the append client forms groups around conditions, and how it encodes them for append_events: no database, a
// fake `run` records each group it is sent.
import { isChronicleError, type PreparedEvent, prepareWrite, Query } from 'chronicle-es';
import { describe, expect, it } from 'vitest';
import { type AppendCall, createAppendWriter, encodeGroup } from './event-store-append.js';
import { GroupEvents, lockNames, sqlCondition } from './event-store-conditions.js';
import { LIST_SEPARATOR, MAX_CONDITION_LOCKS } from './event-store-schema-v2.js';

const now = new Date().toISOString();
const write = (streamId: string, events: Array<{ type: string; tags?: string[] }>) =>
  prepareWrite({ streamId, events: events.map((e) => ({ ...e, data: {} })) }, now);
const call = (streamId: string, tags: string[], condition?: { query: Query; after: number }): AppendCall => ({
  writes: [write(streamId, [{ type: 'Reserved', tags }])],
  key: undefined,
  fingerprint: undefined,
  condition: sqlCondition(condition),
});

// A writer whose groups are recorded (as the stream ids of their appends) and answered as all written.
function recordingWriter() {
  const groups: string[][] = [];
  let position = 0;
  const writer = createAppendWriter(
    async (args) => {
      const wStream = args[0] as string[];
      const aWrites = args[4] as number[];
      const wCount = args[3] as number[];
      const answers: unknown[] = [];
      let w = 0;
      const streams: string[] = [];
      for (const n of aWrites) {
        const r: Array<[number, number]> = [];
        for (let i = 0; i < n; i++, w++) {
          position += wCount[w];
          r.push([wCount[w], position]);
          streams.push(wStream[w]);
        }
        answers.push({ r });
      }
      groups.push(streams);
      return JSON.stringify(answers);
    },
    () => {},
  );
  return { writer, groups };
}

describe('append groups and conditions', () => {
  it('a conditional append matching an earlier append of the group waits for the next group; others join', async () => {
    const { writer, groups } = recordingWriter();
    await Promise.all([
      writer.enqueue(call('order-1', ['product:p1'])),
      // Matches order-1's event: next group.
      writer.enqueue(call('order-2', ['product:p1'], { query: Query.tags('product:p1'), after: 0 })),
      // Queries another product, and a type no event of the group has: this group.
      writer.enqueue(call('order-3', ['product:p2'], { query: Query.tags('product:p2'), after: 0 })),
      writer.enqueue(call('order-4', [], { query: [{ types: ['Shipped'] }], after: 0 })),
      // Matches order-1's event by its stream id: next group.
      writer.enqueue(call('order-5', [], { query: [{ tags: ['order-1'] }], after: 0 })),
    ]);
    expect(groups).toEqual([
      ['order-1', 'order-3', 'order-4'],
      ['order-2', 'order-5'],
    ]);
  });

  it('the condition of a deferred append sees the earlier group committed: an answer names the conflict', async () => {
    const writer = createAppendWriter(
      async () => JSON.stringify([{ e: 'condition', p: 7 }]),
      () => {},
    );
    const err = await writer.enqueue(call('order-9', [], { query: Query.all(), after: 3 })).catch((e: unknown) => e);
    expect(isChronicleError(err, 'CONCURRENCY_CONFLICT')).toBe(true);
    expect((err as { details: unknown }).details).toEqual({ position: 7, after: 3 });
  });

  it('a group stops short of MAX_CONDITION_LOCKS lock names; one call past it goes alone', async () => {
    const { writer, groups } = recordingWriter();
    // The first call names g, its stream, its 10 tags and the type (13); each further one 11 new names.
    const tagsOf = (i: number) => Array.from({ length: 10 }, (_, k) => `t${i}-${k}`);
    const big = Array.from({ length: MAX_CONDITION_LOCKS }, (_, k) => `bulk-${k}`);
    await Promise.all([
      ...Array.from({ length: 40 }, (_, i) => writer.enqueue(call(`s-${i}`, tagsOf(i)))),
      writer.enqueue({
        writes: [
          write(
            'bulk',
            big.map((tag) => ({ type: 'Imported', tags: [tag] })),
          ),
        ],
        key: undefined,
        fingerprint: undefined,
      }),
    ]);
    const perGroup = 1 + Math.floor((MAX_CONDITION_LOCKS - 13) / 11);
    expect(groups[0]).toHaveLength(perGroup);
    expect(groups.flat()).toHaveLength(41);
    expect(groups.find((g) => g.includes('bulk'))).toEqual(['bulk']);
    for (const g of groups) {
      if (g.includes('bulk')) continue;
      const names = new Set<string>();
      for (const id of g) lockNames(call(id, tagsOf(Number(id.slice(2)))), names);
      expect(names.size).toBeLessThanOrEqual(MAX_CONDITION_LOCKS);
    }
  });

  it('encodes tags per event, after per append and one row per condition item', () => {
    const calls: AppendCall[] = [
      call('a', ['x', 'y']),
      call('b', [], { query: [{ tags: ['x', 'z'], types: ['T1', 'T2'] }, { types: ['T3'] }, {}], after: 5 }),
    ];
    const args = encodeGroup(calls);
    expect(args).toHaveLength(18);
    const [eTags, aAfter, qAppend, qTags, qTypes] = args.slice(13);
    expect(eTags).toEqual([`x${LIST_SEPARATOR}y`, null]);
    expect(aAfter).toEqual([null, 5]);
    expect(qAppend).toEqual([2, 2, 2]);
    expect(qTags).toEqual([`x${LIST_SEPARATOR}z`, null, null]);
    expect(qTypes).toEqual([`T1${LIST_SEPARATOR}T2`, 'T3', null]);
  });
});

describe('conditions as append_events takes them', () => {
  it('drops types no event can have, and items left with none; nothing left is no condition', () => {
    expect(sqlCondition({ query: [{ types: ['', 'A\u001fB', 'Real'] }, { types: ['\u0000'] }], after: 2 })).toEqual({
      items: [{ types: ['Real'] }],
      after: 2,
    });
    expect(sqlCondition({ query: [{ types: [''] }], after: 0 })).toBeUndefined();
    expect(sqlCondition(undefined)).toBeUndefined();
  });

  it('names the locks append_events takes: shared on what is written, exclusive on what is queried', () => {
    const c = call('order-1', ['product:p1'], {
      query: [{ tags: ['product:p2', 'product:p3'] }, { types: ['A', 'B'] }, {}],
      after: 0,
    });
    expect([...lockNames(c)].sort()).toEqual(['g', 't:order-1', 't:product:p1', 't:product:p2', 'y:A', 'y:B', 'y:Reserved']);
  });

  it('GroupEvents matches a query against the events taken so far, stream ids counting as tags', () => {
    const group = new GroupEvents();
    expect(group.matches({ items: [{}], after: 0 })).toBe(false);
    group.add([{ streamId: 'order-1', events: [{ type: 'Placed', tags: ['product:p1'] } as PreparedEvent] }]);
    expect(group.matches({ items: [{}], after: 0 })).toBe(true);
    expect(group.matches({ items: [{ tags: ['order-1', 'product:p1'] }], after: 0 })).toBe(true);
    expect(group.matches({ items: [{ tags: ['product:p1'], types: ['Other'] }], after: 0 })).toBe(false);
    expect(group.matches({ items: [{ types: ['Placed'] }], after: 0 })).toBe(true);
    expect(group.matches({ items: [{ tags: ['product:p2'] }, { types: ['Other'] }], after: 0 })).toBe(false);
  });
});
