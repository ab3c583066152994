import { ChronicleError, type ChronicleErrorCode } from 'chronicle-es';
import { describe, expect, it } from 'vitest';
import { PROBLEM_TABLE, problemOf, toProblem } from './problem.js';

describe('problem table', () => {
  it.each([
    ['VALIDATION_FAILED', 400],
    ['INVALID_ARGUMENT', 400],
    ['UNAUTHENTICATED', 401],
    ['FORBIDDEN', 403],
    ['UNKNOWN_MESSAGE', 404],
    ['NOT_FOUND', 404],
    ['CONCURRENCY_CONFLICT', 409],
    ['STREAM_DELETED', 410],
    ['DOMAIN_RULE', 422],
    ['IDEMPOTENCY_MISMATCH', 422],
    ['PROJECTION_FAILED', 503],
    ['CLOSED', 503],
    ['TIMEOUT', 504],
    ['STORE_ERROR', 500],
  ] as [ChronicleErrorCode, number][])('maps %s to %i', (code, status) => {
    const problem = toProblem(new ChronicleError(code, 'why'));
    expect(problem.status).toBe(status);
    expect(problem.code).toBe(code);
    expect(problem.type).toBe(`urn:chronicle:problem:${code.toLowerCase().replaceAll('_', '-')}`);
    expect(problem.title).toBe(PROBLEM_TABLE[code].title);
  });

  it('keeps the message of client errors as detail and lists validation issues', () => {
    const err = new ChronicleError('VALIDATION_FAILED', 'invalid X: by: too small', {
      details: { errors: [{ path: 'by', message: 'too small' }] },
    });
    expect(toProblem(err)).toEqual({
      type: 'urn:chronicle:problem:validation-failed',
      title: 'Invalid input',
      status: 400,
      detail: 'invalid X: by: too small',
      code: 'VALIDATION_FAILED',
      errors: [{ path: 'by', message: 'too small' }],
    });
    expect(toProblem(new ChronicleError('DOMAIN_RULE', 'out of stock')).detail).toBe('out of stock');
  });

  it('never shows server internals: store errors, projection failures and unknown errors get a generic detail', () => {
    for (const err of [
      new ChronicleError('STORE_ERROR', 'SQLITE_FULL at /var/data/events.db', { cause: new Error('disk') }),
      new ChronicleError('PROJECTION_FAILED', 'projection orders failed: TypeError at handler.ts:12'),
      new Error('connection string postgres://user:secret@db'),
      new TypeError('cannot read x of undefined'),
      'a string',
      null,
    ]) {
      const problem = toProblem(err);
      expect(JSON.stringify(problem)).not.toMatch(/secret|SQLITE|handler\.ts|undefined|string/);
      expect(problem.status).toBeGreaterThanOrEqual(500);
    }
  });

  it('maps fastify body errors', () => {
    const fst = (code: string, statusCode: number) => Object.assign(new Error('m'), { code, statusCode });
    expect(toProblem(fst('FST_ERR_CTP_INVALID_MEDIA_TYPE', 415)).status).toBe(415);
    expect(toProblem(fst('FST_ERR_CTP_BODY_TOO_LARGE', 413)).status).toBe(413);
    expect(toProblem(fst('FST_ERR_CTP_EMPTY_JSON_BODY', 400)).code).toBe('MALFORMED_JSON');
    expect(toProblem(fst('FST_ERR_CTP_INVALID_JSON_BODY', 400)).code).toBe('MALFORMED_JSON');
    expect(toProblem(Object.assign(new SyntaxError('Unexpected token'), { statusCode: 400 })).code).toBe('MALFORMED_JSON');
    expect(toProblem(fst('FST_ERR_SOMETHING_NEW', 418))).toMatchObject({
      status: 418,
      type: 'about:blank',
      title: "I'm a Teapot",
    });
    expect(toProblem(fst('FST_ERR_SOMETHING_NEW', 502)).status).toBe(500);
  });

  it('withholds the detail where the table says so', () => {
    expect(problemOf('UNSUPPORTED_MEDIA_TYPE', 'raw parser text').detail).toBe('send the body as application/json');
    expect(problemOf('ROUTE_NOT_FOUND', 'no route for GET /x').detail).toBe('no route for GET /x');
  });

  it('lists at most 100 validation errors, says how many more, and bounds the detail', () => {
    const errors = Array.from({ length: 40_000 }, (_, i) => ({ path: `items.${i}`, message: 'expected number' }));
    const summary = errors.map((e) => `${e.path}: ${e.message}`).join('; ');
    const problem = toProblem(new ChronicleError('VALIDATION_FAILED', `invalid X: ${summary}`, { details: { errors } }));
    expect(problem.errors).toHaveLength(100);
    expect(problem.errors?.[99]).toEqual({ path: 'items.99', message: 'expected number' });
    expect(problem.errorsOmitted).toBe(39_900);
    expect(problem.detail.length).toBeLessThanOrEqual(1000);
    expect(problem.detail).toMatch(/^invalid X: items\.0: expected number; .*…$/);
    const few = toProblem(new ChronicleError('VALIDATION_FAILED', 'x', { details: { errors: errors.slice(0, 100) } }));
    expect(few.errors).toHaveLength(100);
    expect(few).not.toHaveProperty('errorsOmitted');
    // The core already capped its list: its count of the rest carries over.
    const capped = toProblem(
      new ChronicleError('VALIDATION_FAILED', 'x', { details: { errors: errors.slice(0, 100), omitted: 4900 } }),
    );
    expect(capped.errorsOmitted).toBe(4900);
  });
});
