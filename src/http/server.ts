// A ready Fastify server with Chronicle's plugin and the server-level options only a factory can set.
import { randomUUID } from 'node:crypto';
import { type IncomingMessage, STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyServerOptions, LogController } from 'fastify';
import { problemOf, toProblem } from '../http-common/index.js';
import { logRedaction } from './log-redaction.js';
import { type ChronicleHttpOptions, chronicleHttp, REQUEST_ID_IS_CORRELATION_ID, sendProblem } from './plugin.js';
import { CORRELATION_ID_HEADER, correlationIdFrom } from './request-context.js';

export type CreateServerOptions = ChronicleHttpOptions & {
  /**
   * `true` (default) for pino JSON at info with credentials redacted (see logRedaction), `false` for none, or your own
   * pino logger (give it `redact: logRedaction`).
   */
  logger?: boolean | FastifyBaseLogger;
  /** Log every request and response (costs throughput). Default false; errors are always logged. */
  requestLogging?: boolean;
  /** Adds your own routes or plugins before the server becomes ready. */
  configure?: (app: FastifyInstance) => void | Promise<void>;
  /**
   * Time a client has to send a whole request, headers and body, in ms; then it gets 408 (when the socket still
   * takes it) and the connection is closed, so a body trickled in a byte at a time cannot hold a socket. The
   * response may take longer (a `minPosition` wait). Default 30000; 0 turns it off (Fastify's own default).
   */
  requestTimeoutMs?: number;
  /** Any other Fastify server option (e.g. `trustProxy`, `keepAliveTimeout`). */
  fastify?: Omit<FastifyServerOptions, 'logger' | 'loggerInstance' | 'logController'>;
};

const MiB = 1024 * 1024;
const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
// Node's own limit on receiving the headers; never longer than the whole request may take.
const NODE_HEADERS_TIMEOUT_MS = 60_000;

/**
 * Builds a Fastify server with `chronicleHttp` registered and `ready()` awaited; call `listen()` on it.
 * @throws INVALID_ARGUMENT when `serve` asks for a side whose bus is missing
 */
export async function createServer(options: CreateServerOptions = {}): Promise<FastifyInstance> {
  const { logger = true, requestLogging = false, configure, requestTimeoutMs, fastify: extra, ...http } = options;
  const requestTimeout = requestTimeoutMs ?? extra?.requestTimeout ?? DEFAULT_REQUEST_TIMEOUT_MS;
  // Unless told otherwise, the request id is the correlation id: every log line of a request names it.
  const ownIds = extra?.genReqId === undefined;
  const app = Fastify({
    ...(ownIds && { genReqId: (request: IncomingMessage) => correlationIdFrom(request.headers) }),
    ...extra,
    ...(typeof logger === 'object' ? { loggerInstance: logger } : { logger: logger && { redact: logRedaction } }),
    bodyLimit: http.bodyLimit ?? MiB,
    requestTimeout,
    // Node checks its request and header timeouts only this often (30 s by default), so a short timeout would
    // otherwise be overshot many times over.
    http: {
      ...(requestTimeout > 0 && {
        headersTimeout: Math.min(requestTimeout, NODE_HEADERS_TIMEOUT_MS),
        connectionsCheckingInterval: Math.max(100, Math.min(30_000, Math.ceil(requestTimeout / 4))),
      }),
    },
    clientErrorHandler: extra?.clientErrorHandler ?? answerClientError,
    logController: new LogController({
      disableRequestLogging: !requestLogging,
      ...(ownIds && { requestIdLogLabel: 'correlationId' }),
    }),
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    return503OnClosing: true,
    // Malformed URLs are rejected before routing; answer them as problem+json too.
    frameworkErrors: (err, request, reply) => {
      if (ownIds) request.chronicleCorrelationId = request.id;
      sendProblem(reply, toProblem(err));
    },
  }) as unknown as FastifyInstance;
  await app.register(chronicleHttp, Object.assign({ ...http }, { [REQUEST_ID_IS_CORRELATION_ID]: ownIds }));
  await configure?.(app);
  await app.ready();
  return app;
}

// What Node hands over as a client error (a request that timed out, headers too large, unparsable HTTP) is
// answered as problem+json like everything else, on the raw socket: no request object exists yet.
function answerClientError(err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const timedOut = err.code === 'ERR_HTTP_REQUEST_TIMEOUT';
  const status = timedOut ? 408 : err.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
  const problem =
    status === 408
      ? problemOf('REQUEST_TIMEOUT')
      : { ...problemOf('BAD_REQUEST', status === 431 ? 'request headers too large' : 'malformed HTTP request'), status };
  if (status === 431) problem.title = STATUS_CODES[431] ?? 'Request Header Fields Too Large';
  // No request was parsed, so there is no client id to echo; a fresh one still lets the client quote this answer.
  const correlationId = randomUUID();
  const body = JSON.stringify({ ...problem, correlationId });
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/problem+json; charset=utf-8\r\n` +
        `${CORRELATION_ID_HEADER}: ${correlationId}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}
