// Chronicle errors as Nest HTTP exceptions, and the filter answering every error with chronicle-es/http's problem body.
import type { ServerResponse } from 'node:http';
import { type ArgumentsHost, Catch, type ExceptionFilter, HttpException } from '@nestjs/common';
import {
  CORRELATION_ID_HEADER,
  correlationIdFrom,
  type HeaderMap,
  type Problem,
  problemOf,
  toProblem,
} from '../http-common/index.js';

/** The problem chronicle-es/http answers for `err`, also for Nest's own exceptions and express body-parser errors. */
export function problemFor(err: unknown): Problem {
  const parserProblem = bodyParserProblem(err instanceof HttpException ? err.cause : err);
  if (parserProblem) return parserProblem;
  if (err instanceof HttpException) {
    const status = err.getStatus();
    const response = err.getResponse();
    // Already a problem (from toHttpException): keep it as it is.
    if (typeof response === 'object' && response !== null && 'code' in response && 'type' in response) return response as Problem;
    if (status === 404) return problemOf('ROUTE_NOT_FOUND', err.message);
    if (status === 413) return problemOf('BODY_TOO_LARGE', err.message);
    if (status === 415) return problemOf('UNSUPPORTED_MEDIA_TYPE');
    if (status >= 400 && status < 500) return { ...problemOf('BAD_REQUEST', err.message), status };
    return problemOf('INTERNAL');
  }
  return toProblem(err);
}

// express's body-parser (when the app keeps it on) reports its refusals by `type`; Nest's express adapter wraps them
// in an HttpException whose `cause` they are.
function bodyParserProblem(err: unknown): Problem | undefined {
  const type = (err as { type?: unknown } | null | undefined)?.type;
  if (type === 'entity.too.large') return problemOf('BODY_TOO_LARGE', 'Request body is too large');
  if (type === 'entity.parse.failed') return problemOf('MALFORMED_JSON', (err as Error).message);
  if (type === 'encoding.unsupported' || type === 'charset.unsupported') return problemOf('UNSUPPORTED_MEDIA_TYPE');
  return undefined;
}

/** A Nest `HttpException` whose status and body are the problem chronicle-es/http answers for `err`. */
export function toHttpException(err: unknown): HttpException {
  const problem = problemFor(err);
  return new HttpException(problem, problem.status, { cause: err });
}

/**
 * Answers every error a controller throws as `application/problem+json`, with the status and body chronicle-es/http
 * gives it and the request's correlation id. Register with `app.useGlobalFilters(new ChronicleExceptionFilter())` or
 * `@UseFilters`. Works on the express platform (and any whose response is a Node `ServerResponse` or wraps one as `raw`).
 */
@Catch()
export class ChronicleExceptionFilter implements ExceptionFilter {
  constructor(private readonly onError?: (err: unknown) => void) {}

  catch(err: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const request = http.getRequest<{ headers: HeaderMap }>();
    const reply = http.getResponse<ServerResponse | { raw: ServerResponse }>();
    const res = 'raw' in reply ? reply.raw : reply;
    const problem = problemFor(err);
    if (problem.status >= 500 && problem.code === 'INTERNAL') this.onError?.(err);
    const existing = res.getHeader(CORRELATION_ID_HEADER);
    problem.correlationId = typeof existing === 'string' ? existing : correlationIdFrom(request.headers);
    if (res.headersSent) {
      res.destroy();
      return;
    }
    res.statusCode = problem.status;
    res.setHeader('content-type', 'application/problem+json; charset=utf-8');
    res.setHeader(CORRELATION_ID_HEADER, problem.correlationId);
    if (problem.status === 401) {
      const details = (err as { details?: { credentials?: unknown } } | null)?.details;
      res.setHeader('www-authenticate', details?.credentials === 'invalid' ? 'Bearer error="invalid_token"' : 'Bearer');
    }
    res.end(JSON.stringify(problem));
  }
}
