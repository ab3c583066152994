// What a Chronicle route reads off a request besides its body: principal, correlation id, idempotency key.
import { createHash, randomUUID } from 'node:crypto';
import { ChronicleError, type HttpRequestTrace, type Principal, parseTraceparent } from 'chronicle-es';
import type { FastifyRequest, onRequestHookHandler } from 'fastify';
import type { Authenticator } from './auth.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The principal `authenticate` resolved for this request (Chronicle routes only). */
    chroniclePrincipal?: Principal;
    /** This request's correlation id, once read (see correlationIdOf). */
    chronicleCorrelationId?: string;
    /** The request's trace, while a tracer listens (see traceparentOf). */
    chronicleTrace?: HttpRequestTrace;
  }
}

/** The header carrying a correlation id both ways. */
export const CORRELATION_ID_HEADER = 'x-correlation-id';
// Visible ASCII, bounded: safe to echo in a header and to log.
const CORRELATION_ID = /^[\x21-\x7e]{1,128}$/;
const PLAIN_ID = /^[\w.@-]{1,64}$/;
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

/** The onRequest hook that authenticates before the body is read; undefined when there is no authenticator. */
export function authHook(authenticate: Authenticator | undefined): onRequestHookHandler | undefined {
  if (!authenticate) return undefined;
  // Callback-style when the authenticator answers synchronously (API keys): no promise and no microtask hop per
  // request. A promise (or a throw, as a rejected promise) goes back to Fastify as an async hook's would.
  return (request, _reply, done) => {
    let result: ReturnType<Authenticator>;
    try {
      result = authenticate(request);
    } catch (err) {
      return Promise.reject(err);
    }
    if (typeof (result as PromiseLike<unknown> | undefined)?.then === 'function') {
      return Promise.resolve(result).then((principal) => {
        request.chroniclePrincipal = principal;
      });
    }
    request.chroniclePrincipal = result as Principal | undefined;
    done();
  };
}

/** The client's `X-Correlation-Id` when it is sane (1–128 visible ASCII characters), else a fresh UUID. */
export function correlationIdFrom(headers: Record<string, string | string[] | undefined>): string {
  const value = headers[CORRELATION_ID_HEADER];
  return typeof value === 'string' && CORRELATION_ID.test(value) ? value : randomUUID();
}

/** The request's correlation id: answered in `X-Correlation-Id`, in problem bodies, and passed to the buses. */
export function correlationIdOf(request: FastifyRequest): string {
  if (request.chronicleCorrelationId === undefined) request.chronicleCorrelationId = correlationIdFrom(request.headers);
  return request.chronicleCorrelationId;
}

/**
 * `Idempotency-Key`, scoped to the principal so one signed-in client can never replay (or pre-empt) another's
 * command. Anonymous callers (commands whose policy admits no principal) share one scope: any of them can see
 * another's status for a known key, so use unguessable keys there.
 * @throws INVALID_ARGUMENT for a key that is not 1–255 visible ASCII characters
 */
export function idempotencyKeyOf(request: FastifyRequest): string | undefined {
  const value = request.headers['idempotency-key'];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !IDEMPOTENCY_KEY.test(value)) {
    throw new ChronicleError('INVALID_ARGUMENT', 'Idempotency-Key must be 1 to 255 visible ASCII characters');
  }
  const owner = request.chroniclePrincipal?.id;
  if (owner === undefined) return `http::${value}`;
  // Long or odd ids are hashed ('~' marks it and cannot appear in a plain id) to keep the key short and unambiguous.
  const scope = PLAIN_ID.test(owner) ? owner : `~${createHash('sha256').update(owner).digest('base64url').slice(0, 22)}`;
  return `http:${scope}:${value}`;
}

/**
 * The W3C trace context the buses get for this request: the server span's when a tracer listens, else the client's
 * `traceparent` header when it is a valid one (anything else is dropped, never stored in an event).
 */
export function traceparentOf(request: FastifyRequest): string | undefined {
  const value = request.chronicleTrace?.traceparent ?? request.headers.traceparent;
  return parseTraceparent(value) ? (value as string) : undefined;
}
