// What every adapter reads off request headers besides the body: correlation id, idempotency key, traceparent.
import { createHash, randomUUID } from 'node:crypto';
import { ChronicleError, type Principal, parseTraceparent } from 'chronicle-es';

/** Request headers as Node gives them (lower-case names); a fetch `Headers` is read into this shape. */
export type HeaderMap = Readonly<Record<string, string | string[] | undefined>>;

/** The header carrying a correlation id both ways. */
export const CORRELATION_ID_HEADER = 'x-correlation-id';
// Visible ASCII, bounded: safe to echo in a header and to log.
const CORRELATION_ID = /^[\x21-\x7e]{1,128}$/;
const PLAIN_ID = /^[\w.@-]{1,64}$/;
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

/** The client's `X-Correlation-Id` when it is sane (1–128 visible ASCII characters), else a fresh UUID. */
export function correlationIdFrom(headers: HeaderMap): string {
  const value = headers[CORRELATION_ID_HEADER];
  return typeof value === 'string' && CORRELATION_ID.test(value) ? value : randomUUID();
}

/**
 * `Idempotency-Key`, scoped to the principal so one signed-in client can never replay (or pre-empt) another's
 * command. Anonymous callers (commands whose policy admits no principal) share one scope: any of them can see
 * another's status for a known key, so use unguessable keys there.
 * @throws INVALID_ARGUMENT for a key that is not 1–255 visible ASCII characters
 */
export function idempotencyKeyFrom(headers: HeaderMap, principal: Principal | undefined): string | undefined {
  const value = headers['idempotency-key'];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !IDEMPOTENCY_KEY.test(value)) {
    throw new ChronicleError('INVALID_ARGUMENT', 'Idempotency-Key must be 1 to 255 visible ASCII characters');
  }
  const owner = principal?.id;
  if (owner === undefined) return `http::${value}`;
  // Long or odd ids are hashed ('~' marks it and cannot appear in a plain id) to keep the key short and unambiguous.
  const scope = PLAIN_ID.test(owner) ? owner : `~${createHash('sha256').update(owner).digest('base64url').slice(0, 22)}`;
  return `http:${scope}:${value}`;
}

/** `value` when it is a valid W3C traceparent, else undefined (anything else is dropped, never stored in an event). */
export function validTraceparent(value: string | string[] | undefined): string | undefined {
  return parseTraceparent(value) ? (value as string) : undefined;
}
