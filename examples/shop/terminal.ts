// What the Shop prints for a person at a terminal: readable log lines (on a TTY; JSON anywhere else) and the demo keys.
import { Writable } from 'node:stream';

const LEVELS: Record<number, [string, string]> = {
  10: ['TRACE', '\x1b[90m'],
  20: ['DEBUG', '\x1b[36m'],
  30: ['INFO ', '\x1b[32m'],
  40: ['WARN ', '\x1b[33m'],
  50: ['ERROR', '\x1b[31m'],
  60: ['FATAL', '\x1b[35m'],
};
const OMITTED = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'name', 'err']);

/** One pino JSON line as `12:00:01.234 INFO  message key=value …`, the error's stack indented below it. */
export function formatLogLine(line: string, color: boolean): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line);
  } catch {
    return line.endsWith('\n') ? line : `${line}\n`;
  }
  const [label, tint] = LEVELS[entry.level as number] ?? [String(entry.level).padEnd(5), ''];
  const time = typeof entry.time === 'number' ? new Date(entry.time).toISOString().slice(11, 23) : '';
  const paint = (text: string, code: string) => (color && code ? `${code}${text}\x1b[0m` : text);
  const fields = Object.entries(entry)
    .filter(([k, v]) => !OMITTED.has(k) && v !== undefined)
    .map(([k, v]) => paint(`${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`, '\x1b[90m'));
  const err = entry.err as { stack?: string; message?: string } | undefined;
  const stack = err ? `\n    ${(err.stack ?? err.message ?? '').split('\n').join('\n    ')}` : '';
  return (
    `${paint(time, '\x1b[90m')} ${paint(label, tint)} ${String(entry.msg ?? '')} ${fields.join(' ')}`.trimEnd() + `${stack}\n`
  );
}

/** A stream for `pino(options, stream)` that writes formatted lines to `out`. */
export function prettyStream(out: NodeJS.WriteStream, color = out.hasColors?.() ?? false): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      const lines = chunk.toString('utf8').split('\n');
      if (lines.at(-1) === '') lines.pop();
      // Anything that is not a log line (the demo-key block) passes through as it is.
      let text = '';
      for (const line of lines) text += line.startsWith('{') ? formatLogLine(line, color) : `${line}\n`;
      out.write(text, () => done());
    },
  });
}

/** The demo keys as a block a developer can read and copy from: one `role  key` line each. */
export function demoKeyBlock(keys: Readonly<Record<string, string>>, file: string): string {
  const width = Math.max(...Object.keys(keys).map((role) => role.length));
  const lines = Object.entries(keys).map(([role, key]) => `  ${role.padEnd(width)}  ${key}`);
  return ['', `Demo API keys (development only; kept in ${file}). Send one as X-API-Key: <key>.`, ...lines, '', ''].join('\n');
}
