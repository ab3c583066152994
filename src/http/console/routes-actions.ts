// The admin actions on projections — rebuild, retry, skip — each behind a confirmation page, a CSRF token and an
// admin role checked here on the server (the buttons are only hidden from others).
import { ChronicleError } from 'chronicle-es';
import type { FastifyInstance } from 'fastify';
import { href } from './console-context.js';
import type { ConsoleDeps } from './console-deps.js';
import type { Guard } from './guard.js';
import { ACTIONS, actionsFor, confirmPage, type ProjectionAction } from './pages/projections.js';
import { sendHtml } from './respond.js';
import { statusOf } from './routes-pages.js';

type Params = { name: string; action: string };

function actionOf(value: string): ProjectionAction {
  if (!(ACTIONS as readonly string[]).includes(value)) {
    throw new ChronicleError('NOT_FOUND', `no action ${JSON.stringify(value)}; the actions are ${ACTIONS.join(', ')}`);
  }
  return value as ProjectionAction;
}

/** Registers the confirmation pages and the POSTs of the actions. */
export function registerActionRoutes(scope: FastifyInstance, deps: ConsoleDeps, guard: Guard): void {
  scope.get<{ Params: Params }>('/projections/:name/confirm/:action', async (request, reply) => {
    const ctx = await guard.require(request, reply);
    if (!ctx) return reply;
    guard.requireAdmin(ctx);
    const action = actionOf(request.params.action);
    const status = await statusOf(deps, request.params.name);
    if (!actionsFor(status).includes(action)) {
      throw new ChronicleError('INVALID_ARGUMENT', `${action} does not apply to ${status.name} while it is ${status.state}`);
    }
    return sendHtml(reply, confirmPage(ctx, status, action));
  });

  scope.post<{ Params: Params }>('/projections/:name/:action', async (request, reply) => {
    const session = await guard.session(request);
    const ctx = await guard.require(request, reply);
    if (!ctx || !session) return reply;
    guard.checkCsrf(request, session);
    guard.requireAdmin(ctx);
    const action = actionOf(request.params.action);
    const { name } = await statusOf(deps, request.params.name);
    const projector = deps.projector;
    if (!projector) throw new ChronicleError('NOT_FOUND', 'no projector is attached to this console');
    if (action === 'rebuild') {
      if (deps.rebuilds.get(name)?.running) throw new ChronicleError('INVALID_ARGUMENT', `${name} is already being rebuilt`);
      const rebuild: { running: boolean; error?: string } = { running: true };
      deps.rebuilds.set(name, rebuild);
      // It resolves after the swap, long after this response: the page follows it through the progress block.
      projector.rebuild(name).then(
        () => {
          rebuild.running = false;
        },
        (err: unknown) => {
          rebuild.running = false;
          rebuild.error = err instanceof Error ? err.message : String(err);
          request.log.warn({ err, projection: name }, 'console rebuild failed');
        },
      );
    } else if (action === 'retry') await projector.retry(name);
    else await projector.skip(name);
    request.log.info({ projection: name, action, actor: ctx.principal?.id }, 'console projection action');
    return reply.redirect(`${href(ctx, 'projections', name)}?done=${action}`, 303);
  });
}
