// The Messages page and what its forms send: commands (POST, CSRF-checked) and queries (GET), dispatched with the
// signed-in principal through the same buses as the API, so roles and policies apply unchanged.
import { ChronicleError } from 'chronicle-es';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { toProblem } from '../../http-common/index.js';
import { correlationIdOf } from '../request-context.js';
import type { ConsoleDeps } from './console-deps.js';
import type { Guard } from './guard.js';
import { fieldsOf, payloadOf } from './message-form.js';
import { type MessageOutcome, messagesPage, schemaOf } from './pages/messages.js';
import { sendHtml } from './respond.js';

type Named = { Params: { name: string } };

/** Registers GET /messages, POST /messages/commands/:name and GET /messages/queries/:name. */
export function registerMessageRoutes(scope: FastifyInstance, deps: ConsoleDeps, guard: Guard): void {
  const commands = () => deps.commandBus?.definitions() ?? [];
  const queries = () => deps.queryBus?.definitions() ?? [];

  scope.get('/messages', async (request, reply) => {
    const ctx = await guard.require(request, reply);
    if (!ctx) return reply;
    return sendHtml(reply, messagesPage(ctx, commands(), queries()));
  });

  // The outcome of one message, and the status the page is sent with (the problem's, when refused).
  async function send(
    request: FastifyRequest,
    name: string,
    values: Record<string, unknown>,
    run: (payload: unknown) => Promise<unknown>,
    definition: Parameters<typeof schemaOf>[0],
  ): Promise<{ outcome: MessageOutcome; status: number }> {
    try {
      const result = await run(payloadOf(fieldsOf(schemaOf(definition)), values));
      return { outcome: { message: name, ok: true, result }, status: 200 };
    } catch (err) {
      const problem = toProblem(err);
      if (problem.status >= 500) request.log.error({ err }, 'console message failed');
      return { outcome: { message: name, ok: false, problem }, status: problem.status };
    }
  }

  scope.post<Named>('/messages/commands/:name', async (request, reply) => {
    const session = await guard.session(request);
    const ctx = await guard.require(request, reply);
    if (!ctx || !session) return reply;
    guard.checkCsrf(request, session);
    const bus = deps.commandBus;
    const definition = bus?.definition(request.params.name);
    if (!bus || !definition)
      throw new ChronicleError('UNKNOWN_MESSAGE', `no command named ${JSON.stringify(request.params.name)}`);
    const values = (request.body ?? {}) as Record<string, unknown>;
    const { outcome, status } = await send(
      request,
      definition.name,
      values,
      (payload) => bus.dispatch(definition.name, payload, { principal: ctx.principal, correlationId: correlationIdOf(request) }),
      definition,
    );
    return sendHtml(reply, messagesPage(ctx, commands(), queries(), outcome, values), status);
  });

  scope.get<Named>('/messages/queries/:name', async (request, reply) => {
    const ctx = await guard.require(request, reply);
    if (!ctx) return reply;
    const bus = deps.queryBus;
    const definition = bus?.definition(request.params.name);
    if (!bus || !definition) throw new ChronicleError('UNKNOWN_MESSAGE', `no query named ${JSON.stringify(request.params.name)}`);
    const values = request.query as Record<string, unknown>;
    const { outcome, status } = await send(
      request,
      definition.name,
      values,
      (payload) => bus.run(definition.name, payload, { principal: ctx.principal }),
      definition,
    );
    return sendHtml(reply, messagesPage(ctx, commands(), queries(), outcome, values), status);
  });
}
