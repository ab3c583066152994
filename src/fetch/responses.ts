// Fetch-standard responses: JSON, problem+json with the correlation id, and the header map the shared code reads.
import { CORRELATION_ID_HEADER, type HeaderMap, type Problem } from '../http-common/index.js';

const JSON_TYPE = 'application/json; charset=utf-8';
const PROBLEM_TYPE = 'application/problem+json; charset=utf-8';

/** A `Headers` as the plain lower-case map the shared header readers take. */
export function headerMap(headers: Headers): HeaderMap {
  const map: Record<string, string> = Object.create(null);
  headers.forEach((value, name) => {
    map[name] = value;
  });
  return map;
}

/** A JSON response from already serialized text. */
export function jsonResponse(body: string, correlationId: string, status = 200): Response {
  return new Response(body, { status, headers: { 'content-type': JSON_TYPE, [CORRELATION_ID_HEADER]: correlationId } });
}

/**
 * A problem as `application/problem+json` carrying the correlation id, as the Fastify plugin sends it (401 adds
 * `WWW-Authenticate: Bearer`, with `error="invalid_token"` for credentials that were presented and refused).
 */
export function problemResponse(problem: Problem, correlationId: string, extra?: Record<string, string>): Response {
  problem.correlationId = correlationId;
  const headers: Record<string, string> = { 'content-type': PROBLEM_TYPE, [CORRELATION_ID_HEADER]: correlationId, ...extra };
  if (problem.status === 401 && headers['www-authenticate'] === undefined) headers['www-authenticate'] = 'Bearer';
  return new Response(JSON.stringify(problem), { status: problem.status, headers });
}
