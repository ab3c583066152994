import { Writable } from 'node:stream';
import { ChronicleError } from 'chronicle-es';
import { describe, expect, it } from 'vitest';
import { Output, oneLine } from './output.js';

function streams(tty = false) {
  const written = { stdout: '', stderr: '' };
  const sink = (name: 'stdout' | 'stderr') =>
    Object.assign(
      new Writable({
        write(chunk, _encoding, done) {
          written[name] += String(chunk);
          done();
        },
      }),
      { isTTY: tty },
    );
  return { written, streams: { stdout: sink('stdout'), stderr: sink('stderr') } };
}

describe('Output', () => {
  it('prints a result as text, or as one JSON line with --json', () => {
    const text = streams();
    new Output(false, text.streams).result({ a: 1 }, ['first', 'second']);
    expect(text.written.stdout).toBe('first\nsecond\n');
    const json = streams();
    new Output(true, json.streams).result({ a: 1 }, 'ignored');
    expect(json.written.stdout).toBe('{"a":1}\n');
  });

  it('prints a failure as one line on stderr, with its code in JSON', () => {
    const text = streams();
    new Output(false, text.streams).failure(new Error('first line\n    at somewhere (file.ts:1:1)'));
    expect(text.written.stderr).toBe('error: first line\n');
    const json = streams();
    new Output(true, json.streams).failure(new ChronicleError('NOT_FOUND', 'no such thing'));
    expect(JSON.parse(json.written.stderr)).toEqual({ error: { code: 'NOT_FOUND', message: 'no such thing' } });
    expect(oneLine('\n\n  only this  \nnot this')).toBe('only this');
  });

  it('reports progress as plain lines on stderr when not on a terminal, and as JSON lines with --json', () => {
    const plain = streams();
    const p = new Output(false, plain.streams).progress('export', { fromZero: true });
    p.update(10, 100);
    p.update(20, 100);
    p.update(100, 100);
    p.stop();
    const lines = plain.written.stderr.trim().split('\n');
    expect(lines[0]).toMatch(/^export: 10\/100 events \(10%\), \d+ events\/s, ETA /);
    // Throttled to a line a second, and the last state is always printed once.
    expect(lines.at(-1)).toMatch(/^export: 100\/100 events \(100%\)/);
    expect(plain.written.stdout).toBe('');

    const json = streams(true);
    const q = new Output(true, json.streams).progress('rebuild orders');
    q.update(5, 50);
    q.stop();
    expect(JSON.parse(json.written.stderr.trim().split('\n')[0])).toMatchObject({
      progress: { label: 'rebuild orders', done: 5, total: 50 },
    });
  });

  it('draws a bar when both streams are terminals', () => {
    const tty = streams(true);
    const p = new Output(false, tty.streams).progress('import', { fromZero: true });
    p.update(50, 100);
    p.stop();
    expect(tty.written.stderr).toContain('import [');
    expect(tty.written.stderr).toContain('50/100 events');
  });
});
