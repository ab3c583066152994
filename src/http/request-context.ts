// What a Chronicle route reads off a request besides its body: principal, correlation id, idempotency key.
import type { HttpRequestTrace, Principal } from 'chronicle-es';
import type { FastifyRequest, onRequestHookHandler } from 'fastify';
import {
  type Authenticator,
  CORRELATION_ID_HEADER,
  correlationIdFrom,
  idempotencyKeyFrom,
  validTraceparent,
} from '../http-common/index.js';

export { CORRELATION_ID_HEADER, correlationIdFrom };

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
  return idempotencyKeyFrom(request.headers, request.chroniclePrincipal);
}

/**
 * The W3C trace context the buses get for this request: the server span's when a tracer listens, else the client's
 * `traceparent` header when it is a valid one (anything else is dropped, never stored in an event).
 */
export function traceparentOf(request: FastifyRequest): string | undefined {
  return validTraceparent(request.chronicleTrace?.traceparent ?? request.headers.traceparent);
}
