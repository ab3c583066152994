// The console as a Fastify scope under its mount path: form bodies, security headers, HTML error pages, and the
// routes of each page.
import { ChronicleError, inspectorOf } from 'chronicle-es';
import type { FastifyInstance } from 'fastify';
import type { Authenticator } from '../../http-common/index.js';
import { problemOf, toProblem } from '../../http-common/index.js';
import { CONSOLE_SCRIPT, CONSOLE_STYLE, loadHtmx } from './assets.js';
import { type ConsoleDeps, cached, overviewSource } from './console-deps.js';
import type { ConsoleOptions } from './console-options.js';
import { createCsrf } from './csrf.js';
import { createGuard } from './guard.js';
import { securityHeaders } from './headers.js';
import { registerLive } from './live.js';
import { errorPage } from './pages/error-page.js';
import { sendHtml } from './respond.js';
import { registerActionRoutes } from './routes-actions.js';
import { registerMessageRoutes } from './routes-messages.js';
import { registerPageRoutes } from './routes-pages.js';
import { registerSessionRoutes } from './routes-session.js';

/** What chronicleHttp registers the console with. */
export type ConsolePluginOptions = ConsoleOptions & { base: string; authenticate: Authenticator };

const FORM_BODY_LIMIT = 256 * 1024;
const CATEGORIES_FRESH_MS = 5000;

/**
 * Registers the console's routes on `scope` (a scope prefixed with `options.base`).
 * @throws INVALID_ARGUMENT when the event store offers no inspector, htmx is not installed, or liveIntervalMs is bad
 */
export async function consolePlugin(scope: FastifyInstance, options: ConsolePluginOptions): Promise<void> {
  const inspector = inspectorOf(options.eventStore);
  if (!inspector) {
    throw new ChronicleError(
      'INVALID_ARGUMENT',
      'the console needs an event store with an inspector (the shipped stores have one)',
    );
  }
  const liveIntervalMs = options.liveIntervalMs ?? 2000;
  if (!(Number.isSafeInteger(liveIntervalMs) && liveIntervalMs >= 100)) {
    throw new ChronicleError(
      'INVALID_ARGUMENT',
      `console liveIntervalMs must be an integer of at least 100, got ${liveIntervalMs}`,
    );
  }
  const htmx = loadHtmx();
  const base = options.base;
  const viewRoles = options.viewRoles ?? ['admin', 'reader'];
  const adminRoles = options.adminRoles ?? ['admin'];
  const csrf = createCsrf(options.csrfSecret);
  const title = options.title ?? 'Chronicle console';
  const guard = createGuard({ base, title, authenticate: options.authenticate, csrf, viewRoles, adminRoles });
  const deps: ConsoleDeps = {
    inspector,
    eventStore: options.eventStore,
    projector: options.projector,
    processManagers: new Set(options.processManagers ?? []),
    commandBus: options.commandBus,
    queryBus: options.queryBus,
    viewRoles,
    adminRoles,
    rebuilds: new Map(),
    liveIntervalMs,
    overview: overviewSource(inspector, options.projector),
    categories: cached(() => inspector.categories(), CATEGORIES_FRESH_MS),
  };

  // HTML forms only: a JSON or multipart POST is 415, which a form of another site cannot make a simple request of.
  scope.removeAllContentTypeParsers();
  scope.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string', bodyLimit: FORM_BODY_LIMIT },
    (_request, body, done) => {
      done(null, Object.fromEntries(new URLSearchParams(body as string)));
    },
  );
  scope.addHook('onRequest', (_request, reply, done) => {
    securityHeaders(reply);
    done();
  });
  scope.setErrorHandler((err, request, reply) => {
    const problem = toProblem(err);
    if (problem.status >= 500) request.log.error({ err }, 'console request failed');
    else request.log.info({ status: problem.status, code: problem.code, detail: problem.detail }, 'console request refused');
    return sendHtml(reply, errorPage(guard.anonymous(), problem), problem.status);
  });
  scope.setNotFoundHandler((request, reply) =>
    sendHtml(
      reply,
      errorPage(guard.anonymous(), problemOf('ROUTE_NOT_FOUND', `no console page at ${request.url.slice(0, 200)}`)),
      404,
    ),
  );

  const asset = (name: string, type: string, body: string) =>
    scope.get(`/assets/${name}`, async (_request, reply) =>
      reply.header('cache-control', 'public, max-age=3600').type(type).send(body),
    );
  asset('htmx.min.js', 'text/javascript; charset=utf-8', htmx);
  asset('console.js', 'text/javascript; charset=utf-8', CONSOLE_SCRIPT);
  asset('console.css', 'text/css; charset=utf-8', CONSOLE_STYLE);

  registerSessionRoutes(scope, { base, guard, csrf, authenticate: options.authenticate, viewRoles });
  registerPageRoutes(scope, deps, guard);
  registerActionRoutes(scope, deps, guard);
  registerMessageRoutes(scope, deps, guard);
  registerLive(scope, deps, guard);
}
