import { describe, expect, it } from 'vitest';
import { isChronicleError } from '../errors.js';
import { createInMemoryEventStore } from '../in-memory-event-store.js';
import { exportLog, type LogTransferProgress } from './export-log.js';
import { readWholeLog, writeSampleLog } from './fixtures/sample-log.js';
import { importLog } from './import-log.js';
import type { LogLine } from './log-format.js';

async function collect(lines: AsyncIterable<string>): Promise<LogLine[]> {
  const out: LogLine[] = [];
  for await (const line of lines) out.push(JSON.parse(line));
  return out;
}

describe('exportLog', () => {
  it('exports only the streams of the given categories, whole, as a file an empty store imports', async () => {
    const store = createInMemoryEventStore();
    await writeSampleLog(store, 12);
    const log = await readWholeLog(store);
    const orders = log.filter((e) => e.streamId.startsWith('order-'));
    const lines = await collect(exportLog(store, { pageSize: 7, categories: ['order'] }));
    const events = lines.filter((l) => l.kind === 'event');
    expect(events.map((e) => e.id)).toEqual(orders.map((e) => e.id));
    expect(lines.filter((l) => l.kind === 'stream').every((l) => l.streamId.startsWith('order-'))).toBe(true);
    expect(lines[lines.length - 1]).toMatchObject({ kind: 'end', events: orders.length });
    const target = createInMemoryEventStore();
    const result = await importLog(
      target,
      lines.map((l) => JSON.stringify(l)),
    );
    expect(result.written).toBe(orders.length);
    expect((await readWholeLog(target)).map((e) => e.id)).toEqual(orders.map((e) => e.id));
  });

  it('writes a header, every event in position order, one line per stream, and the counts', async () => {
    const store = createInMemoryEventStore();
    await writeSampleLog(store, 12);
    const log = await readWholeLog(store);
    const progress: LogTransferProgress[] = [];
    const lines = await collect(exportLog(store, { pageSize: 100, onProgress: (p) => progress.push(p) }));

    expect(lines[0]).toMatchObject({ kind: 'header', format: 'chronicle-log', version: 1, headPosition: log.length });
    const events = lines.filter((l) => l.kind === 'event');
    // A line holds the recorded event, its tags only when it has some.
    expect(events).toEqual(log.map(({ tags, ...e }) => ({ kind: 'event', ...e, ...(tags.length > 0 ? { tags } : {}) })));
    expect(events.filter((l) => l.tags !== undefined).length).toBeGreaterThan(log.length / 10);
    expect(events.filter((l) => l.tags === undefined).length).toBeGreaterThan(log.length / 10);
    const streams = lines.filter((l) => l.kind === 'stream');
    const ids = [...new Set(log.map((e) => e.streamId))];
    expect(streams.map((s) => s.streamId)).toEqual(ids);
    expect(streams.find((s) => s.streamId === 'order-7')).toEqual({
      kind: 'stream',
      streamId: 'order-7',
      version: 1,
      deleted: true,
      metadata: { archived: true },
    });
    expect(streams.find((s) => s.streamId === 'catalog-1')?.metadata).toEqual({ owner: 'ops', retention: { days: 30 } });
    expect(lines[lines.length - 1]).toEqual({ kind: 'end', events: log.length, streams: ids.length });
    // Events first, then streams, then the end: the order a reader checks.
    expect(lines.map((l) => l.kind).join(' ')).toMatch(/^header( event)+( stream)+ end$/);

    const last = progress[progress.length - 1];
    expect(last).toMatchObject({ phase: 'streams', events: log.length, streams: ids.length, position: log.length });
    expect(progress.filter((p) => p.phase === 'events').length).toBe(Math.ceil(log.length / 100));
  });

  it("writes an event's tags as given (repeats once), and no tags field for an event without them", async () => {
    const store = createInMemoryEventStore();
    await store.append('a-1', [
      { type: 'A', data: 1, tags: ['x', 'y', 'x'] },
      { type: 'A', data: 2 },
      { type: 'A', data: 3, tags: [] },
    ]);
    await store.append([{ streamId: 'b-1', type: 'B', data: 4, tags: ['a-1'] }]);
    const lines: string[] = [];
    for await (const line of exportLog(store)) lines.push(line);
    const events = lines.map((l) => JSON.parse(l)).filter((l) => l.kind === 'event');
    expect(events.map((l) => l.tags)).toEqual([['x', 'y'], undefined, undefined, ['a-1']]);
    expect(lines.filter((l) => l.includes('"tags"'))).toHaveLength(2);
  });

  it('exports an empty store as a header and an end line', async () => {
    const lines = await collect(exportLog(createInMemoryEventStore()));
    expect(lines.map((l) => l.kind)).toEqual(['header', 'end']);
    expect(lines[1]).toEqual({ kind: 'end', events: 0, streams: 0 });
  });

  it('fails rather than export a log written after its events were read', async () => {
    const cases = [
      ['s-19', 'stream "s-19" is at version 2, exported up to 1'],
      ['new-1', "the log's head moved from 20 to 21"],
    ];
    for (const [streamId, message] of cases) {
      const store = createInMemoryEventStore();
      for (let i = 0; i < 20; i++) await store.append(`s-${i}`, [{ type: 'A', data: i }]);
      const lines = exportLog(store);
      // Up to the first stream line: the events are all out, the stream states are being read.
      for (let line = await lines.next(); !line.done && !line.value.includes('"kind":"stream"'); line = await lines.next());
      await store.append(streamId, [{ type: 'A', data: 'late' }]);
      const rest = collect(lines);
      await expect(rest).rejects.toSatisfy((err) => isChronicleError(err, 'CONCURRENCY_CONFLICT'));
      await expect(rest).rejects.toThrow(message);
      await expect(rest).rejects.toThrow('the source was written during the export');
    }
  });

  it('takes in an append made while its events are being read: the file is the log as it ended', async () => {
    const store = createInMemoryEventStore();
    await store.append('a-1', [{ type: 'A', data: 1 }]);
    const lines = exportLog(store);
    await lines.next(); // header
    await lines.next(); // the first page is read
    await store.append('a-1', [{ type: 'A', data: 2 }]);
    const rest = await collect(lines);
    expect(rest.filter((l) => l.kind === 'event').map((l) => l.data)).toEqual([2]);
    expect(rest[rest.length - 1]).toEqual({ kind: 'end', events: 2, streams: 1 });
  });
});
