// The Shop on the fetch standard (chronicle-es/fetch): the same API as its Fastify server, for Hono and other runtimes.
import type { Authenticator } from 'chronicle-es/fetch';
import { createFetchHandler, type FetchHandler } from 'chronicle-es/fetch';
import { Registry } from 'prom-client';
import type { Shop } from './app.js';
import { EVENT_STREAM_ROLES, METRICS_ROLES, metricsOf, shopReadiness } from './server.js';

/** Builds the Shop's API as one fetch handler (every role: commands, queries, events, health, metrics). */
export async function createShopFetchHandler(shop: Shop, options: { authenticate: Authenticator }): Promise<FetchHandler> {
  const { changes } = shop;
  const registry = new Registry();
  await metricsOf(shop)?.(registry);
  return createFetchHandler({
    commandBus: shop.commandBus,
    queryBus: shop.queryBus,
    authenticate: options.authenticate,
    notifications: changes && ((listener) => changes.onChange(listener)),
    events: { roles: EVENT_STREAM_ROLES, positions: changes && (() => changes.positions()) },
    metrics: { registry, access: { roles: METRICS_ROLES } },
    readiness: shopReadiness(shop),
    openapi: { title: 'Shop — the Chronicle reference application', version: '1.0.0' },
  });
}
