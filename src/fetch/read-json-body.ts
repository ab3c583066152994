// A request body read as the Fastify plugin reads one: JSON only, bounded in size and depth, prototype keys refused.
import { ChronicleError } from 'chronicle-es';
import { deeperThan } from '../http-common/index.js';

/** A transport refusal of the body; its code is in the shared problem table (core knows no transport codes). */
export class BodyProblem extends Error {
  constructor(
    readonly code: 'BODY_TOO_LARGE' | 'MALFORMED_JSON' | 'UNSUPPORTED_MEDIA_TYPE',
    message: string,
  ) {
    super(message);
  }
}

const JSON_MEDIA = /^application\/(?:json|[\w.-]+\+json)\s*(?:;|$)/i;

/**
 * The parsed JSON body, or undefined when there is none.
 * @throws BodyProblem (415, 413, 400) and INVALID_ARGUMENT for JSON nested deeper than `maxDepth`
 */
export async function readJsonBody(request: Request, limit: number, maxDepth: number): Promise<unknown> {
  const type = request.headers.get('content-type');
  if (type !== null && !JSON_MEDIA.test(type)) {
    throw new BodyProblem('UNSUPPORTED_MEDIA_TYPE', `unsupported media type ${type.slice(0, 100)}`);
  }
  const declared = request.headers.get('content-length');
  if (declared !== null && Number(declared) > limit) throw tooLarge(limit);
  const text = await readText(request, limit);
  if (text.length === 0) {
    if (type === null) return undefined;
    throw new BodyProblem('MALFORMED_JSON', "Body cannot be empty when content-type is set to 'application/json'");
  }
  if (type === null) throw new BodyProblem('UNSUPPORTED_MEDIA_TYPE', 'a body needs Content-Type: application/json');
  let value: unknown;
  try {
    // The reviver only when a dangerous key may be present: it slows every parse otherwise.
    value = text.includes('__proto__') || text.includes('constructor') ? JSON.parse(text, refusePoisoning) : JSON.parse(text);
  } catch (err) {
    throw new BodyProblem('MALFORMED_JSON', (err as Error).message);
  }
  if (deeperThan(value, maxDepth)) throw new ChronicleError('INVALID_ARGUMENT', `JSON nested deeper than ${maxDepth} levels`);
  return value;
}

function tooLarge(limit: number): BodyProblem {
  return new BodyProblem('BODY_TOO_LARGE', `Request body is too large (limit ${limit} bytes)`);
}

// Stops reading (and cancels the stream) as soon as the limit is passed, so a huge body is never buffered.
async function readText(request: Request, limit: number): Promise<string> {
  if (request.body === null) return '';
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => {});
      throw tooLarge(limit);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

// What secure-json-parse refuses under Fastify's `onProtoPoisoning: 'error'` and `onConstructorPoisoning: 'error'`.
function refusePoisoning(key: string, value: unknown): unknown {
  if (key === '__proto__') throw new SyntaxError('Object contains forbidden prototype property');
  if (key === 'constructor' && typeof value === 'object' && value !== null && 'prototype' in value) {
    throw new SyntaxError('Object contains forbidden prototype property');
  }
  return value;
}
