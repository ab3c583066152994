import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { logRedaction } from './log-redaction.js';

function capture() {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  });
  return { log: pino({ redact: logRedaction }, sink), lines };
}

describe('logRedaction', () => {
  it('hides credentials in request and response headers and secret-named fields, and keeps the rest', () => {
    const { log, lines } = capture();
    const jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhZGEifQ.c2lnbmF0dXJl';
    log.info({
      req: {
        method: 'POST',
        url: '/commands/X',
        headers: { authorization: `Bearer ${jwt}`, cookie: 'sid=s3cr3t', 'x-api-key': 'key-1', accept: 'json' },
      },
      res: { statusCode: 200, headers: { 'set-cookie': 'sid=s3cr3t; HttpOnly' } },
      headers: { 'proxy-authorization': 'Basic dXNlcjpwYXNz' },
      apiKey: 'key-2',
      password: 'hunter2',
      user: { token: jwt, name: 'ada' },
      jwt,
    });
    expect(lines).toHaveLength(1);
    for (const secret of [jwt, 's3cr3t', 'key-1', 'key-2', 'hunter2', 'dXNlcjpwYXNz']) expect(lines[0]).not.toContain(secret);
    const line = JSON.parse(lines[0]);
    expect(line.req.headers).toEqual({
      authorization: '[redacted]',
      cookie: '[redacted]',
      'x-api-key': '[redacted]',
      accept: 'json',
    });
    expect(line.res.headers['set-cookie']).toBe('[redacted]');
    expect(line.user).toEqual({ token: '[redacted]', name: 'ada' });
    expect(line.req.url).toBe('/commands/X');
  });
});
