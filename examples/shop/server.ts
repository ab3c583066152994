// The Shop over HTTP: chronicle/http does the work; the Shop only supplies its buses, auth and read-side state.
import type { Authenticator } from 'chronicle-es/http';
import { createReadiness, createServer, projectionMetrics } from 'chronicle-es/http';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import type { Shop } from './app.js';

export type ShopServerOptions = {
  authenticate: Authenticator;
  /** `write`: commands only; `read`: queries and the event stream only. Default `all`. */
  serve?: 'all' | 'write' | 'read';
  /** A pino logger, or false for none. Default: pino JSON at info. */
  logger?: boolean | FastifyBaseLogger;
};

/** Builds the Shop's HTTP server (not yet listening). */
export function createShopServer(shop: Shop, options: ShopServerOptions): Promise<FastifyInstance> {
  const serve = options.serve ?? 'all';
  const { projector, eventStore, readStore } = shop;
  return createServer({
    commandBus: serve === 'read' ? undefined : shop.commandBus,
    queryBus: serve === 'write' ? undefined : shop.queryBus,
    serve,
    authenticate: options.authenticate,
    notifications: projector && ((listener) => projector.onChange(listener)),
    metrics: projector && projectionMetrics(projector),
    // /health/ready: both stores answer and no projection has failed (GET /health stays a cheap liveness probe).
    readiness: createReadiness({
      projector,
      stores: { events: () => eventStore.headPosition(), ...(readStore && { read: () => readStore.list() }) },
    }),
    openapi: { title: 'Shop — the Chronicle reference application', version: '1.0.0' },
    logger: options.logger ?? true,
  });
}
