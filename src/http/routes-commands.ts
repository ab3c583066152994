// POST /commands/:name → the command bus → `{ok, streamId, version, position}`.
import type { CommandBus } from 'chronicle-es';
import type { FastifyInstance, onRequestHookHandler } from 'fastify';
import { type HttpMetrics, outcomeOf } from './metrics.js';
import { correlationIdOf, idempotencyKeyOf, traceparentOf } from './request-context.js';
import { rolesHook } from './roles-hook.js';

export type CommandRoutesOptions = {
  bus: CommandBus;
  metrics: HttpMetrics;
  bodyLimit: number;
  onRequest?: onRequestHookHandler;
};

const STATUS_SCHEMA = {
  type: 'object',
  properties: {
    ok: { type: 'boolean' },
    streamId: { type: 'string' },
    version: { type: 'integer' },
    position: { type: 'integer' },
  },
} as const;

/** Registers the command endpoint on `app`. */
export function registerCommandRoutes(app: FastifyInstance, options: CommandRoutesOptions): void {
  const { bus, metrics } = options;

  app.post<{ Params: { name: string } }>(
    '/commands/:name',
    {
      bodyLimit: options.bodyLimit,
      // Compiled once here: the status is serialized without JSON.stringify's generic walk.
      schema: { response: { 200: STATUS_SCHEMA } },
      onRequest: [...(options.onRequest ? [options.onRequest] : []), rolesHook(bus.definition, 'send')],
    },
    async (request) => {
      const { name } = request.params;
      const label = bus.definition(name) ? name : '(unknown)';
      try {
        const result = await bus.dispatch(name, request.body === undefined ? {} : request.body, {
          principal: request.chroniclePrincipal,
          idempotencyKey: idempotencyKeyOf(request),
          correlationId: correlationIdOf(request),
          requestId: request.id,
          traceparent: traceparentOf(request),
        });
        metrics.dispatch('command', label, 'ok');
        return { ok: true, streamId: result.streamId, version: result.version, position: result.position };
      } catch (err) {
        metrics.dispatch('command', label, outcomeOf(err));
        throw err;
      }
    },
  );
}
