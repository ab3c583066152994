// A ready Fastify server with Chronicle's plugin and the server-level options only a factory can set.
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyServerOptions, LogController } from 'fastify';
import { type ChronicleHttpOptions, chronicleHttp, sendProblem } from './plugin.js';
import { toProblem } from './problem.js';

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
  const app = Fastify({
    ...extra,
    ...(typeof logger === 'object' ? { loggerInstance: logger } : { logger }),
    bodyLimit: http.bodyLimit ?? MiB,
    logController: new LogController({ disableRequestLogging: !requestLogging }),
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    return503OnClosing: true,
    // Malformed URLs are rejected before routing; answer them as problem+json too.
    frameworkErrors: (err, _request, reply) => {
      sendProblem(reply, toProblem(err));
    },
  }) as unknown as FastifyInstance;
  await app.register(chronicleHttp, http);
  await configure?.(app);
  await app.ready();
  return app;
}
