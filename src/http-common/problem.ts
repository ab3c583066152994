// The one table from error code to HTTP status, and the RFC 9457 problem bodies built from it.
import { STATUS_CODES } from 'node:http';
import { type ChronicleErrorCode, isChronicleError, type ValidationIssue } from 'chronicle-es';

/** Codes only the HTTP layer raises (transport problems the core never sees). */
export type HttpProblemCode =
  | 'MALFORMED_JSON'
  | 'BODY_TOO_LARGE'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'ROUTE_NOT_FOUND'
  | 'METHOD_NOT_ALLOWED'
  | 'REQUEST_TIMEOUT'
  | 'BAD_REQUEST'
  | 'UNAVAILABLE'
  | 'NOT_IMPLEMENTED'
  | 'INTERNAL';

export type ProblemCode = ChronicleErrorCode | HttpProblemCode;

/** An RFC 9457 problem body; `code`, `errors`, `errorsOmitted` and `correlationId` are extension members. */
export type Problem = {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: ProblemCode;
  /** The failing fields, at most {@link MAX_LISTED_ERRORS} of them. */
  errors?: ValidationIssue[];
  /** How many failing fields were left out of `errors`. */
  errorsOmitted?: number;
  /** The request's correlation id (also in the `X-Correlation-Id` header). */
  correlationId?: string;
  [member: string]: unknown;
};

/** Most validation issues a problem lists; a payload can fail on every one of thousands of items. */
export const MAX_LISTED_ERRORS = 100;
/** Longest detail sent; a validation summary of thousands of fields would otherwise be megabytes. */
const MAX_DETAIL = 1000;

type Row = { status: number; title: string /** Replaces the error's message: it may carry server internals. */; detail?: string };

/** The single mapping from code to status; a new ChronicleErrorCode fails to compile until it is added here. */
export const PROBLEM_TABLE: Readonly<Record<ProblemCode, Row>> = {
  VALIDATION_FAILED: { status: 400, title: 'Invalid input' },
  INVALID_ARGUMENT: { status: 400, title: 'Invalid argument' },
  MALFORMED_JSON: { status: 400, title: 'Malformed JSON' },
  BAD_REQUEST: { status: 400, title: 'Bad request' },
  UNAUTHENTICATED: { status: 401, title: 'Authentication required' },
  FORBIDDEN: { status: 403, title: 'Forbidden' },
  UNKNOWN_MESSAGE: { status: 404, title: 'Unknown message' },
  NOT_FOUND: { status: 404, title: 'Not found' },
  ROUTE_NOT_FOUND: { status: 404, title: 'Route not found' },
  METHOD_NOT_ALLOWED: { status: 405, title: 'Method not allowed' },
  REQUEST_TIMEOUT: { status: 408, title: 'Request timeout', detail: 'the request was not received in time' },
  CONCURRENCY_CONFLICT: { status: 409, title: 'Version conflict' },
  STREAM_DELETED: { status: 410, title: 'Stream deleted' },
  BODY_TOO_LARGE: { status: 413, title: 'Body too large' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, title: 'Unsupported media type', detail: 'send the body as application/json' },
  DOMAIN_RULE: { status: 422, title: 'Business rule violated' },
  IDEMPOTENCY_MISMATCH: { status: 422, title: 'Idempotency key reused' },
  READ_STORE_CORRUPT: {
    status: 503,
    title: 'Read side unavailable',
    detail: 'the read store is damaged and is being rebuilt from the event log; try again later',
  },
  INTERNAL: {
    status: 500,
    title: 'Internal server error',
    detail: 'the server failed to handle the request; it has been logged',
  },
  UPCAST_FAILED: {
    status: 500,
    title: 'Internal server error',
    detail: 'a stored event could not be read in its current shape; it has been logged',
  },
  STORE_ERROR: {
    status: 500,
    title: 'Internal server error',
    detail: 'the server failed to handle the request; it has been logged',
  },
  PROJECTION_FAILED: {
    status: 503,
    title: 'Read side unavailable',
    detail: 'a projection this query reads has failed; try again later',
  },
  LEASE_LOST: {
    status: 503,
    title: 'Service unavailable',
    detail: 'the projection moved to another worker; try again',
  },
  NOT_IMPLEMENTED: { status: 501, title: 'Not implemented' },
  CLOSED: { status: 503, title: 'Service unavailable', detail: 'the service is shutting down' },
  UNAVAILABLE: { status: 503, title: 'Service unavailable', detail: 'the service is not ready' },
  TIMEOUT: { status: 504, title: 'Consistency wait timed out' },
};

/** Fastify's own error codes, mapped onto the table. */
const FASTIFY_CODES: Readonly<Record<string, ProblemCode>> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_BODY_TOO_LARGE: 'BODY_TOO_LARGE',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'MALFORMED_JSON',
  FST_ERR_CTP_INVALID_JSON_BODY: 'MALFORMED_JSON',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'BAD_REQUEST',
  FST_ERR_BAD_URL: 'BAD_REQUEST',
  FST_ERR_MAX_PARAM_LENGTH: 'ROUTE_NOT_FOUND',
  FST_ERR_NOT_FOUND: 'ROUTE_NOT_FOUND',
  FST_ERR_VALIDATION: 'VALIDATION_FAILED',
  FST_ERR_ROUTE_MISSING_CONTENT_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
};

/** The URI naming a problem type, e.g. `urn:chronicle:problem:validation-failed`. */
export function problemType(code: ProblemCode): string {
  return `urn:chronicle:problem:${code.toLowerCase().replaceAll('_', '-')}`;
}

/** Builds the problem for a code; `detail` is ignored where the table withholds it. */
export function problemOf(code: ProblemCode, detail?: string, errors?: ValidationIssue[]): Problem {
  const row = PROBLEM_TABLE[code];
  const problem: Problem = {
    type: problemType(code),
    title: row.title,
    status: row.status,
    detail: row.detail ?? bounded(detail) ?? row.title,
    code,
  };
  if (errors !== undefined) {
    if (errors.length > MAX_LISTED_ERRORS) {
      problem.errors = errors.slice(0, MAX_LISTED_ERRORS);
      problem.errorsOmitted = errors.length - MAX_LISTED_ERRORS;
    } else {
      problem.errors = errors;
    }
  }
  return problem;
}

function bounded(detail: string | undefined): string | undefined {
  return detail !== undefined && detail.length > MAX_DETAIL ? `${detail.slice(0, MAX_DETAIL - 1)}…` : detail;
}

/** Translates anything thrown while serving a request into a problem that is safe to show a client. */
export function toProblem(err: unknown): Problem {
  if (isChronicleError(err)) {
    if (err.code === 'VALIDATION_FAILED') {
      const problem = problemOf('VALIDATION_FAILED', err.message, issuesOf(err.details.errors));
      // The core lists at most its own cap and counts the rest in details.omitted.
      const omitted = err.details.omitted;
      if (typeof omitted === 'number' && omitted > 0) problem.errorsOmitted = (problem.errorsOmitted ?? 0) + omitted;
      return problem;
    }
    return problemOf(err.code, err.message);
  }
  if (typeof err !== 'object' || err === null) return problemOf('INTERNAL');
  const e = err as { code?: unknown; statusCode?: unknown; message?: unknown; validation?: unknown };
  const mapped = typeof e.code === 'string' ? FASTIFY_CODES[e.code] : undefined;
  const message = typeof e.message === 'string' ? e.message : undefined;
  if (mapped === 'VALIDATION_FAILED') return problemOf(mapped, message, ajvIssues(e.validation));
  if (mapped !== undefined) return problemOf(mapped, message);
  // secure-json-parse and the JSON parser throw SyntaxError; fastify marks body errors with a 4xx statusCode.
  const status = typeof e.statusCode === 'number' ? e.statusCode : undefined;
  if (err instanceof SyntaxError && (status === undefined || status === 400)) return problemOf('MALFORMED_JSON', message);
  if (status !== undefined && status >= 400 && status < 500) {
    return {
      type: 'about:blank',
      title: STATUS_CODES[status] ?? 'Client error',
      status,
      detail: bounded(message) ?? '',
      code: 'BAD_REQUEST',
    };
  }
  return problemOf('INTERNAL');
}

function issuesOf(value: unknown): ValidationIssue[] {
  if (!Array.isArray(value)) return [];
  return value.map((i: { path?: unknown; message?: unknown }) => ({
    path: String(i.path ?? ''),
    message: String(i.message ?? ''),
  }));
}

function ajvIssues(value: unknown): ValidationIssue[] {
  if (!Array.isArray(value)) return [];
  return value.map((i: { instancePath?: unknown; message?: unknown }) => ({
    path: String(i.instancePath ?? '')
      .replace(/^\//, '')
      .replaceAll('/', '.'),
    message: String(i.message ?? ''),
  }));
}
