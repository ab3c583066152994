import { describe, expect, it } from 'vitest';
import { demoKeyBlock, formatLogLine } from './terminal.js';

describe('terminal output', () => {
  it('prints the demo keys as role → key lines', () => {
    const block = demoKeyBlock({ admin: 'demo-admin-1', customer: 'demo-customer-2' }, 'data/demo-keys.json');
    expect(block.split('\n')).toEqual([
      '',
      'Demo API keys (development only; kept in data/demo-keys.json). Send one as X-API-Key: <key>.',
      '  admin     demo-admin-1',
      '  customer  demo-customer-2',
      '',
      '',
    ]);
  });

  it('formats a pino line as time, level, message and fields, with the stack below', () => {
    const line = JSON.stringify({
      level: 50,
      time: Date.UTC(2026, 0, 2, 3, 4, 5, 678),
      pid: 1,
      hostname: 'h',
      msg: 'request failed',
      correlationId: 'c-1',
      err: { message: 'boom', stack: 'Error: boom\n    at x.ts:1' },
    });
    expect(formatLogLine(line, false)).toBe(
      '03:04:05.678 ERROR request failed correlationId=c-1\n    Error: boom\n        at x.ts:1\n',
    );
    expect(formatLogLine(line, true)).toContain('\x1b[31mERROR\x1b[0m');
    expect(formatLogLine('not json', false)).toBe('not json\n');
  });
});
