import { describe, expect, it } from 'vitest';
import { isChronicleError } from '../errors.js';
import { createInMemoryEventStore } from '../in-memory-event-store.js';
import { exportLog } from './export-log.js';
import { PREVIOUS_VERSION_LOG } from './fixtures/previous-version-log.js';
import { LOG_FORMAT_VERSION, scanLog } from './log-format.js';

async function sampleLines(): Promise<string[]> {
  const store = createInMemoryEventStore();
  await store.append('a-1', [{ type: 'A', data: { n: 1 } }]);
  await store.append('b-1', [{ type: 'B', data: { n: 2 } }]);
  await store.append('a-1', [{ type: 'A', data: { n: 3 } }]);
  const lines: string[] = [];
  for await (const line of exportLog(store)) lines.push(line);
  return lines;
}

// Lines are [header, a-1 v1, b-1 v1, a-1 v2, stream a-1, stream b-1, end].
const edit = (lines: string[], at: number, change: (o: Record<string, unknown>) => void) => {
  const copy = [...lines];
  const o = JSON.parse(copy[at]);
  change(o);
  copy[at] = JSON.stringify(o);
  return copy;
};

async function refusal(lines: string[]): Promise<{ message: string; line: unknown }> {
  try {
    await scanLog(lines);
  } catch (err) {
    if (!isChronicleError(err, 'INVALID_ARGUMENT')) throw err;
    return { message: err.message, line: err.details.line };
  }
  throw new Error('the file was accepted');
}

describe('scanLog', () => {
  it('accepts a complete export and counts it', async () => {
    const lines = await sampleLines();
    expect(lines).toHaveLength(7);
    expect(await scanLog(lines)).toEqual({ headPosition: 3, events: 3, streams: 2 });
  });

  it('accepts a file written before events had tags', async () => {
    expect(await scanLog(PREVIOUS_VERSION_LOG)).toEqual({ headPosition: 3, events: 3, streams: 2 });
  });

  it('refuses an event line with malformed tags, with its number', async () => {
    for (const tags of ['x', [''], [1], ['line\nbreak'], ['x'.repeat(513)], Array.from({ length: 65 }, (_, i) => `t${i}`)]) {
      const lines = edit(await sampleLines(), 2, (o) => {
        o.tags = tags;
      });
      const { message, line } = await refusal(lines);
      expect(line).toBe(3);
      expect(message).toMatch(/tag/);
    }
    const tagged = edit(await sampleLines(), 2, (o) => {
      o.tags = ['product-1', 'b-1'];
    });
    expect(await scanLog(tagged)).toMatchObject({ events: 3 });
  });

  it('accepts CRLF line ends and blank lines after the end line', async () => {
    const lines = (await sampleLines()).map((l) => `${l}\r`);
    expect(await scanLog([...lines, '', '  '])).toMatchObject({ events: 3 });
  });

  it('refuses a file of another format version, naming both versions', async () => {
    const lines = edit(await sampleLines(), 0, (o) => {
      o.version = LOG_FORMAT_VERSION + 1;
    });
    const { message, line } = await refusal(lines);
    expect(line).toBe(1);
    expect(message).toContain(`version ${LOG_FORMAT_VERSION + 1} is not supported`);
    expect(message).toContain(`reads version ${LOG_FORMAT_VERSION}`);
  });

  it('refuses a file that is not an export', async () => {
    expect((await refusal(['{"hello":"world"}'])).message).toContain('not a Chronicle log export');
    expect((await refusal(['id,type,data'])).message).toContain('not a JSON object');
  });

  it('refuses a line cut short, with its number', async () => {
    const lines = await sampleLines();
    lines[2] = lines[2].slice(0, 25);
    expect(await refusal(lines)).toEqual({ message: expect.stringContaining('truncated'), line: 3 });
  });

  it('refuses a file that ends before its end line', async () => {
    const lines = (await sampleLines()).slice(0, 4);
    const { message } = await refusal(lines);
    expect(message).toContain('truncated');
    expect(message).toContain('after line 4');
  });

  it('refuses an event whose version does not follow its stream', async () => {
    const lines = edit(await sampleLines(), 3, (o) => {
      o.version = 3;
    });
    const { message, line } = await refusal(lines);
    expect(line).toBe(4);
    expect(message).toContain('"a-1" has version 3 here, expected 2');
  });

  it('refuses an event moved to another stream: the stream it left no longer matches its stream line', async () => {
    const lines = edit(await sampleLines(), 3, (o) => {
      o.streamId = 'b-1';
    });
    expect(await refusal(lines)).toEqual({
      message: expect.stringContaining('"a-1" is at version 2 here, but its events end at 1'),
      line: 5,
    });
  });

  it('refuses positions that do not increase', async () => {
    const lines = edit(await sampleLines(), 2, (o) => {
      o.position = 1;
    });
    expect((await refusal(lines)).message).toContain('above the previous one (1)');
  });

  it('refuses an event without its original timestamp, or with a malformed type', async () => {
    const noTime = edit(await sampleLines(), 1, (o) => {
      delete (o.metadata as Record<string, unknown>).timestamp;
    });
    expect((await refusal(noTime)).message).toContain('original timestamp');
    const badType = edit(await sampleLines(), 1, (o) => {
      o.type = 'not a type!';
    });
    expect((await refusal(badType)).message).toContain('event type must be an identifier');
  });

  it('refuses a stream line that disagrees with the events', async () => {
    const wrongVersion = edit(await sampleLines(), 4, (o) => {
      o.version = 1;
    });
    expect((await refusal(wrongVersion)).message).toContain('"a-1" is at version 1 here, but its events end at 2');
    const unknown = edit(await sampleLines(), 4, (o) => {
      o.streamId = 'c-1';
    });
    expect((await refusal(unknown)).message).toContain('"c-1" has no events in this file');
  });

  it('refuses events after the stream lines, text after the end, and wrong counts', async () => {
    const lines = await sampleLines();
    expect((await refusal([lines[0], lines[1], lines[2], lines[5], lines[3]])).message).toContain(
      'an event after the stream lines',
    );
    expect((await refusal([...lines, '{"kind":"event"}'])).message).toContain('text after the end line');
    const counts = edit(lines, 6, (o) => {
      o.events = 4;
    });
    expect((await refusal(counts)).message).toContain('end line counts 4 events');
    expect((await refusal([...lines.slice(0, 5), lines[6]])).message).toContain('1 streams have no stream line');
  });
});
