// One error class for everything Chronicle raises; callers branch on `code`, never on instanceof.

/** Every code Chronicle raises. HTTP status mapping lives in chronicle/http, not here. */
export type ChronicleErrorCode =
  | 'VALIDATION_FAILED' // payload does not match its schema; `details.errors` lists the fields
  | 'UNKNOWN_MESSAGE' // no handler / definition registered under that name
  | 'INVALID_ARGUMENT' // a caller passed something malformed (stream id, expected version, limit…)
  | 'CONCURRENCY_CONFLICT' // expected version did not match, after any retries
  | 'DOMAIN_RULE' // a decider refused the command; the message is safe to show a client
  | 'NOT_FOUND' // an entity or stream a query/command needs does not exist
  | 'STREAM_DELETED' // the stream was soft-deleted
  | 'UNAUTHENTICATED' // no or bad credentials
  | 'FORBIDDEN' // a policy refused the principal
  | 'TIMEOUT' // a bounded wait (e.g. waitForPosition) ran out
  | 'PROJECTION_FAILED' // a projection handler threw; the projection is stopped
  | 'IDEMPOTENCY_MISMATCH' // an idempotency key was reused for a different request; nothing was written
  | 'READ_STORE_CORRUPT' // the read store's file is damaged; the projections on it fail until it is rebuilt
  | 'LEASE_LOST' // a projection worker's lease was taken over; its write was refused and nothing changed
  | 'CLOSED' // the component was closed
  | 'UPCAST_FAILED' // a stored event could not be read in its current shape (an upcaster threw or is missing)
  | 'STORE_ERROR'; // an adapter/driver failure; `cause` keeps the driver error

export type ValidationIssue = { path: string; message: string };

export type ChronicleErrorOptions = {
  details?: Record<string, unknown>;
  cause?: unknown;
};

/** The single error type of Chronicle. */
export class ChronicleError extends Error {
  readonly code: ChronicleErrorCode;
  readonly details: Record<string, unknown>;

  constructor(code: ChronicleErrorCode, message: string, options: ChronicleErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ChronicleError';
    this.code = code;
    this.details = options.details ?? {};
  }
}

/** True when `err` is a ChronicleError (optionally with the given code). Works across module copies. */
export function isChronicleError(err: unknown, code?: ChronicleErrorCode): err is ChronicleError {
  if (typeof err !== 'object' || err === null) return false;
  const e = err as { name?: unknown; code?: unknown };
  if (e.name !== 'ChronicleError' || typeof e.code !== 'string') return false;
  return code === undefined || e.code === code;
}

/** A decider's refusal: a business rule said no. The message is meant for the client. */
export function domainError(message: string, details?: Record<string, unknown>): ChronicleError {
  return new ChronicleError('DOMAIN_RULE', message, { details });
}

/** Exhaustiveness guard for switch statements over unions. */
export function assertNever(value: never): never {
  throw new ChronicleError('INVALID_ARGUMENT', `unexpected value: ${JSON.stringify(value)}`);
}
