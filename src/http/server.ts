// A ready Fastify server with Chronicle's plugin and the server-level options only a factory can set.
import type { IncomingMessage } from 'node:http';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyServerOptions, LogController } from 'fastify';
import { type ChronicleHttpOptions, chronicleHttp, REQUEST_ID_IS_CORRELATION_ID, sendProblem } from './plugin.js';
import { toProblem } from './problem.js';
import { correlationIdFrom } from './request-context.js';

export type CreateServerOptions = ChronicleHttpOptions & {
  /** `true` (default) for pino JSON at info, `false` for none, or your own pino logger. */
  logger?: boolean | FastifyBaseLogger;
  /** Log every request and response (costs throughput). Default false; errors are always logged. */
  requestLogging?: boolean;
  /** Adds your own routes or plugins before the server becomes ready. */
  configure?: (app: FastifyInstance) => void | Promise<void>;
  /** Any other Fastify server option (e.g. `trustProxy`, `keepAliveTimeout`). */
  fastify?: Omit<FastifyServerOptions, 'logger' | 'loggerInstance' | 'logController'>;
};

const MiB = 1024 * 1024;

/**
 * Builds a Fastify server with `chronicleHttp` registered and `ready()` awaited; call `listen()` on it.
 * @throws INVALID_ARGUMENT when `serve` asks for a side whose bus is missing
 */
export async function createServer(options: CreateServerOptions = {}): Promise<FastifyInstance> {
  const { logger = true, requestLogging = false, configure, fastify: extra, ...http } = options;
  // Unless told otherwise, the request id is the correlation id: every log line of a request names it.
  const ownIds = extra?.genReqId === undefined;
  const app = Fastify({
    ...(ownIds && { genReqId: (request: IncomingMessage) => correlationIdFrom(request.headers) }),
    ...extra,
    ...(typeof logger === 'object' ? { loggerInstance: logger } : { logger }),
    bodyLimit: http.bodyLimit ?? MiB,
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
