import { describe, expect, it } from 'vitest';
import { ChronicleError, isChronicleError } from '../errors.js';
import { Query } from '../event-query.js';
import type { EventStore, StreamWrite } from '../event-store.js';
import { createInMemoryEventStore } from '../in-memory-event-store.js';
import { exportLog, type LogTransferProgress } from './export-log.js';
import { PREVIOUS_VERSION_LOG } from './fixtures/previous-version-log.js';
import { expectSameLog, readWholeLog, writeSampleLog } from './fixtures/sample-log.js';
import { importLog } from './import-log.js';

async function exported(store: EventStore): Promise<string[]> {
  const lines: string[] = [];
  for await (const line of exportLog(store)) lines.push(line);
  return lines;
}

async function sampleSource(orders = 40): Promise<{ source: EventStore; lines: string[] }> {
  const source = createInMemoryEventStore();
  await writeSampleLog(source, orders);
  return { source, lines: await exported(source) };
}

/** The store, with `before` run ahead of the n-th appendMany (from 1). */
function hookAppendMany(store: EventStore, before: (call: number, writes: readonly StreamWrite[]) => Promise<void>): EventStore {
  let calls = 0;
  return {
    ...store,
    async appendMany(writes, options) {
      await before(++calls, writes);
      return store.appendMany(writes, options);
    },
  };
}

async function codeOf(promise: Promise<unknown>): Promise<ChronicleError> {
  try {
    await promise;
  } catch (err) {
    if (isChronicleError(err)) return err;
    throw err;
  }
  throw new Error('it succeeded');
}

describe('importLog', () => {
  it('rebuilds the same log: ids, streams, versions, types, data, metadata with timestamps, order, stream states', async () => {
    const { source, lines } = await sampleSource();
    const target = createInMemoryEventStore();
    const progress: LogTransferProgress[] = [];
    const result = await importLog(target, lines, { batchSize: 50, onProgress: (p) => progress.push(p) });

    const log = await expectSameLog(source, target);
    expect(log.length).toBeGreaterThan(400);
    expect(result).toMatchObject({ events: log.length, written: log.length, skipped: 0 });
    expect(result.streams).toBe(new Set(log.map((e) => e.streamId)).size);
    // Batched: the 300-event run alone is split in six; runs of distinct streams share an appendMany.
    expect(result.appends).toBeLessThan(log.length / 2);
    expect(result.appends).toBeGreaterThanOrEqual(Math.ceil(log.length / 50));
    expect((await target.streamInfo('order-7')).deleted).toBe(true);
    expect((await target.readAll({ limit: 2 }))[1].metadata.timestamp).toBe('2021-01-01T00:00:00.000Z');
    expect(progress[progress.length - 1]).toMatchObject({ phase: 'streams', events: log.length, streams: result.streams });
    expect(progress.filter((p) => p.phase === 'events').every((p, i, all) => i === 0 || p.position > all[i - 1].position)).toBe(
      true,
    );
  });

  it("carries tags: each event's own, and reads by tag find the same events in the target", async () => {
    const { source, lines } = await sampleSource(24);
    const target = createInMemoryEventStore();
    await importLog(target, lines, { batchSize: 50 });
    const log = await expectSameLog(source, target);
    expect(log.filter((e) => e.tags.length > 1).length).toBeGreaterThan(24);
    for (const query of [Query.tags('product-3'), Query.tags('customer:1'), [{ types: ['OrderPaid'], tags: ['customer:0'] }]]) {
      const [inSource, inTarget] = await Promise.all([source.read(query), target.read(query)]);
      expect(inTarget.events.map((e) => e.id)).toEqual(inSource.events.map((e) => e.id));
      expect(inTarget.events.length).toBeGreaterThan(1);
    }
  });

  it('imports a file written before events had tags: every event has none, and is found by its stream id', async () => {
    const target = createInMemoryEventStore();
    const result = await importLog(target, PREVIOUS_VERSION_LOG);
    expect(result).toMatchObject({ events: 3, written: 3, streams: 2, positionsKept: true });
    const log = await readWholeLog(target);
    expect(log.map((e) => [e.streamId, e.version, e.type, e.tags])).toEqual([
      ['account-1', 1, 'AccountOpened', []],
      ['account-2', 1, 'AccountOpened', []],
      ['account-1', 2, 'Deposited', []],
    ]);
    expect(log[2]).toMatchObject({ id: '01a23224-bad2-7f84-8189-f44fbd6ac848', metadata: { correlationId: 'c-1' } });
    expect((await target.read(Query.tags('account-1'))).events.map((e) => e.type)).toEqual(['AccountOpened', 'Deposited']);
    expect((await target.streamInfo('account-2')).metadata).toEqual({ tier: 'gold' });
  });

  it('refuses to resume into a target whose events carry other tags than the file', async () => {
    const { lines } = await sampleSource(8);
    const target = createInMemoryEventStore();
    // What an import that dropped tags would have left: the same events, untagged.
    const untagged = lines.map((l) => l.replace(/,"tags":\[[^\]]*\]/, ''));
    expect((await codeOf(importLog(target, untagged.slice(0, 120), { batchSize: 50 }))).message).toContain('truncated');
    const held = await readWholeLog(target);
    expect(held.length).toBe(100);
    expect(held.every((e) => e.tags.length === 0)).toBe(true);
    const err = await codeOf(importLog(target, lines));
    expect(err.code).toBe('CONCURRENCY_CONFLICT');
    expect(err.message).toContain('the target already holds other events');
  });

  it('says whether every event kept its position: yes from a log without gaps, no from one with gaps', async () => {
    const { lines } = await sampleSource(8);
    expect((await importLog(createInMemoryEventStore(), lines)).positionsKept).toBe(true);
    // PostgreSQL sequences leave gaps where appends rolled back; a target without them numbers the events anew.
    const gappy = lines.map((l) =>
      l.replace(/^\{"kind":"event","position":(\d+)/, (_, p) => `{"kind":"event","position":${Number(p) * 2}`),
    );
    const target = createInMemoryEventStore();
    expect((await importLog(target, gappy)).positionsKept).toBe(false);
    expect(await target.headPosition()).toBe(lines.filter((l) => l.includes('"kind":"event"')).length);
  });

  it('imports consecutive events of one stream as one write at the version before them', async () => {
    const source = createInMemoryEventStore();
    await source.append('a-1', [{ type: 'A', data: 1 }]);
    await source.append('b-1', [{ type: 'B', data: 1 }]);
    await source.append('a-1', [
      { type: 'A', data: 2 },
      { type: 'A', data: 3 },
    ]);
    await source.append('b-1', [{ type: 'B', data: 2 }]);
    const seen: unknown[] = [];
    const target = hookAppendMany(createInMemoryEventStore(), async (_, writes) => {
      seen.push(writes.map((w) => [w.streamId, w.expectedVersion, w.events.length]));
    });
    await importLog(target, await exported(source));
    // b-1 comes back after a-1's second run: the first appendMany ends there, keeping the global order.
    expect(seen).toEqual([
      [
        ['a-1', 0, 1],
        ['b-1', 0, 1],
      ],
      [
        ['a-1', 1, 2],
        ['b-1', 1, 1],
      ],
    ]);
    await expectSameLog(source, target);
  });

  it('resumes an import interrupted between batches: skips what the target holds and goes on', async () => {
    const { source, lines } = await sampleSource();
    const target = createInMemoryEventStore();
    const crashing = hookAppendMany(target, async (call) => {
      if (call === 4) throw new ChronicleError('STORE_ERROR', 'connection lost');
    });
    const first = await codeOf(importLog(crashing, lines, { batchSize: 40 }));
    expect(first.code).toBe('STORE_ERROR');
    const held = (await readWholeLog(target)).length;
    expect(held).toBeGreaterThan(0);

    const result = await importLog(target, lines, { batchSize: 40 });
    expect(result.skipped).toBe(held);
    expect(result.written).toBe(result.events - held);
    await expectSameLog(source, target);

    // Once more over a complete import: nothing to write, nothing changed.
    const again = await importLog(target, lines, { batchSize: 40 });
    expect(again).toMatchObject({ written: 0, skipped: result.events, appends: 0 });
    await expectSameLog(source, target);
  });

  it('resumes after the stream lines were half applied', async () => {
    const { source, lines } = await sampleSource(30);
    const target = createInMemoryEventStore();
    const firstStream = lines.findIndex((l) => l.includes('"kind":"stream"'));
    await expect(importLog(target, lines.slice(0, firstStream + 20))).rejects.toThrow('truncated');
    await importLog(target, lines);
    await expectSameLog(source, target);
  });

  it('refuses a target that holds other events, writing nothing', async () => {
    const { lines } = await sampleSource(8);
    const target = createInMemoryEventStore();
    await target.append('other-1', [{ type: 'Other', data: {} }]);
    const err = await codeOf(importLog(target, lines));
    expect(err.code).toBe('CONCURRENCY_CONFLICT');
    expect(err.message).toContain('the target already holds other events');
    expect(await target.headPosition()).toBe(1);
  });

  it('refuses a target that holds more than the file (written after an import)', async () => {
    const { lines } = await sampleSource(8);
    const target = createInMemoryEventStore();
    await importLog(target, lines);
    await target.append('later-1', [{ type: 'Later', data: {} }]);
    const err = await codeOf(importLog(target, lines));
    expect(err.code).toBe('CONCURRENCY_CONFLICT');
    expect(err.message).toContain("the target holds events past the file's last one");
  });

  it('stops with CONCURRENCY_CONFLICT when the target is written during the import, to a stream of the file', async () => {
    const { lines } = await sampleSource();
    const target = createInMemoryEventStore();
    const meddled = hookAppendMany(target, async (call, writes) => {
      if (call === 2) await target.append(writes[0].streamId, [{ type: 'Meddle', data: {} }]);
    });
    const err = await codeOf(importLog(meddled, lines, { batchSize: 100 }));
    expect(err.code).toBe('CONCURRENCY_CONFLICT');
    expect(err.message).toMatch(/^import stopped at line \d+: stream/);
    expect(err.details).toMatchObject({ line: expect.any(Number), actualVersion: expect.any(Number) });
  });

  it('stops with CONCURRENCY_CONFLICT when the target is written during the import, to any other stream', async () => {
    const { lines } = await sampleSource();
    const target = createInMemoryEventStore();
    const meddled = hookAppendMany(target, async (call) => {
      if (call === 2) await target.append('elsewhere-1', [{ type: 'Meddle', data: {} }]);
    });
    const err = await codeOf(importLog(meddled, lines, { batchSize: 100 }));
    expect(err.code).toBe('CONCURRENCY_CONFLICT');
    expect(err.message).toContain('the target was written during the import');
    expect(err.details).toMatchObject({ position: 101 });
  });

  it('reads the log back when positions do not follow on (a gap), and goes on when only its own events are there', async () => {
    const { source, lines } = await sampleSource(8);
    const target = createInMemoryEventStore();
    let reads = 0;
    // As a PostgreSQL sequence after a rolled-back append: results that do not follow on from the last batch.
    const gappy: EventStore = {
      ...target,
      async appendMany(writes, options) {
        return (await target.appendMany(writes, options)).map((r) => ({ ...r, position: r.position + 1000 }));
      },
      async readAll(options) {
        reads++;
        return target.readAll(options);
      },
    };
    const result = await importLog(gappy, lines, { batchSize: 50 });
    expect(reads).toBeGreaterThanOrEqual(result.appends);
    await expectSameLog(source, target);

    // Positions that follow on need no read back: one read, finding the target empty.
    const plain = createInMemoryEventStore();
    let plainReads = 0;
    const counted: EventStore = {
      ...plain,
      async readAll(options) {
        plainReads++;
        return plain.readAll(options);
      },
    };
    await importLog(counted, lines, { batchSize: 50 });
    expect(plainReads).toBe(1);
    await expectSameLog(source, plain);
  });

  it('on a bad line, stops before it and leaves only whole batches, then resumes once the file is fixed', async () => {
    const { source, lines } = await sampleSource();
    const target = createInMemoryEventStore();
    const broken = [...lines];
    broken[130] = broken[130].slice(0, 40);
    const err = await codeOf(importLog(target, broken, { batchSize: 50 }));
    expect(err.code).toBe('INVALID_ARGUMENT');
    expect(err.details.line).toBe(131);
    const held = await readWholeLog(target);
    // Lines 2–101 are events 1–100: two whole batches; the batch holding line 131 was never sent.
    expect(held.length).toBe(100);
    expect(held.map((e) => e.id)).toEqual((await source.readAll({ limit: 100 })).map((e) => e.id));

    await importLog(target, lines, { batchSize: 50 });
    await expectSameLog(source, target);
  });

  it('writes nothing from a file of another format version', async () => {
    const { lines } = await sampleSource(8);
    const target = createInMemoryEventStore();
    const header = JSON.parse(lines[0]);
    const err = await codeOf(importLog(target, [JSON.stringify({ ...header, version: 2 }), ...lines.slice(1)]));
    expect(err.code).toBe('INVALID_ARGUMENT');
    expect(err.message).toContain('log format version 2 is not supported');
    expect(await target.headPosition()).toBe(0);
  });

  it('refuses a line whose stream version does not follow, after the whole batches before it', async () => {
    const { lines } = await sampleSource(8);
    const target = createInMemoryEventStore();
    const bad = [...lines];
    const at = bad.findIndex((l) => l.includes('"streamId":"order-0","version":1'));
    bad[at] = bad[at].replace('"version":1', '"version":2');
    const err = await codeOf(importLog(target, bad, { batchSize: 1000 }));
    expect(err.code).toBe('INVALID_ARGUMENT');
    expect(err.message).toContain('"order-0" has version 2 here, expected 1');
    expect(await target.headPosition()).toBe(0);
  });
});
