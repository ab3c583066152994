import { ChronicleError } from 'chronicle-es';
import { describe, expect, it } from 'vitest';
import { isNoScript, redisError } from './redis-error.js';

describe('redisError', () => {
  it('wraps a client error as STORE_ERROR, keeping it as cause, with the command name but not its arguments', () => {
    const reply = Object.assign(new Error('WRONGTYPE Operation against a key holding the wrong kind of value'), {
      name: 'ReplyError',
      command: { name: 'evalsha', args: ['sha', '1', 'secret row'] },
    });
    const err = redisError(reply, 'applying a batch');
    expect(err).toMatchObject({
      code: 'STORE_ERROR',
      message: 'redis: applying a batch: WRONGTYPE Operation against a key holding the wrong kind of value',
      details: { operation: 'applying a batch', redisError: 'ReplyError', command: 'evalsha' },
    });
    expect(err.cause).toBe(reply);
    expect(JSON.stringify(err.details)).not.toContain('secret');
  });

  it('passes a ChronicleError through and copes with things that are not errors', () => {
    const own = new ChronicleError('CLOSED', 'closed');
    expect(redisError(own, 'x')).toBe(own);
    expect(redisError('boom', 'x')).toMatchObject({ code: 'STORE_ERROR', message: 'redis: x: boom' });
  });

  it('tells a NOSCRIPT reply from others', () => {
    expect(isNoScript(new Error('NOSCRIPT No matching script. Please use EVAL.'))).toBe(true);
    expect(isNoScript(new Error('ERR something'))).toBe(false);
    expect(isNoScript(undefined)).toBe(false);
  });
});
