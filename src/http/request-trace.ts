// The trace of one HTTP request, for whatever listens on Chronicle's `chronicle:http.request` channel (the
// OpenTelemetry bridge makes it a server span): started in the first hook, ended at the response or when the client
// goes away first. Nothing is built while nothing listens.
import { type HttpRequestTrace, httpRequestTraced, reportHttpRequestEnd, reportHttpRequestStart } from 'chronicle-es';
import type { FastifyReply, FastifyRequest } from 'fastify';

/** Starts the request's trace when a tracer listens (call it in onRequest). */
export function startRequestTrace(request: FastifyRequest, reply: FastifyReply): void {
  if (!httpRequestTraced()) return;
  const header = request.headers.traceparent;
  const trace: HttpRequestTrace = {
    method: request.method,
    route: request.routeOptions.url ?? '(unmatched)',
    traceparent: typeof header === 'string' ? header : undefined,
  };
  request.chronicleTrace = trace;
  reportHttpRequestStart(trace);
  // A response that never finishes (the client closed the connection first) has no onResponse: end the trace here.
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) endRequestTrace(request, undefined);
  });
}

/** Ends the request's trace, once, with the status sent (undefined: none was, the client went away). */
export function endRequestTrace(request: FastifyRequest, statusCode: number | undefined): void {
  const trace = request.chronicleTrace;
  if (!trace || trace.statusCode !== undefined || trace.aborted) return;
  if (statusCode === undefined) trace.aborted = true;
  else trace.statusCode = statusCode;
  reportHttpRequestEnd(trace);
}
