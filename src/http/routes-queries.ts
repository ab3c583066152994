// GET /queries/:name?… and POST /queries/:name → the query bus → the result, with read-your-writes.
import { type QueryBus, type QueryDefinition, toJsonSchema } from 'chronicle-es';
import type { FastifyInstance, FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify';
import {
  type ConsistencyOptions,
  createQueryStringCoercer,
  type QueryStringCoercer,
  readConsistency,
} from '../http-common/index.js';
import { type HttpMetrics, outcomeOf } from './metrics.js';
import { correlationIdOf, traceparentOf } from './request-context.js';
import { rolesHook } from './roles-hook.js';

export type QueryRoutesOptions = ConsistencyOptions & {
  bus: QueryBus;
  metrics: HttpMetrics;
  bodyLimit: number;
  onRequest?: onRequestHookHandler;
};

type Params = { Params: { name: string } };

/** Registers the query endpoints on `app`. */
export function registerQueryRoutes(app: FastifyInstance, options: QueryRoutesOptions): void {
  const { bus, metrics } = options;
  const coercers = new WeakMap<QueryDefinition, QueryStringCoercer>();
  const hooks = { onRequest: [...(options.onRequest ? [options.onRequest] : []), rolesHook(bus.definition, 'run')] };

  const coercerOf = (definition: QueryDefinition): QueryStringCoercer => {
    let coercer = coercers.get(definition);
    if (!coercer) {
      coercer = createQueryStringCoercer(safeJsonSchema(definition));
      coercers.set(definition, coercer);
    }
    return coercer;
  };

  const run = async (request: FastifyRequest<Params>, reply: FastifyReply, payload: unknown, minPosition: unknown) => {
    const { name } = request.params;
    const label = bus.definition(name) ? name : '(unknown)';
    try {
      const consistency = readConsistency(minPosition, request.headers, options);
      const result = await bus.run(name, payload, {
        principal: request.chroniclePrincipal,
        minPosition: consistency.minPosition,
        waitMs: consistency.waitMs,
        correlationId: correlationIdOf(request),
        requestId: request.id,
        traceparent: traceparentOf(request),
      });
      metrics.dispatch('query', label, 'ok');
      // undefined is not JSON; a handler that found nothing and did not throw NOT_FOUND answers null.
      return result === undefined ? reply.type('application/json; charset=utf-8').send('null') : result;
    } catch (err) {
      metrics.dispatch('query', label, outcomeOf(err));
      throw err;
    }
  };

  app.get<Params>('/queries/:name', { ...hooks }, async (request, reply) => {
    const { minPosition, ...rest } = request.query as Record<string, unknown>;
    const definition = bus.definition(request.params.name);
    return run(request, reply, definition ? coercerOf(definition)(rest) : rest, minPosition);
  });

  app.post<Params>('/queries/:name', { bodyLimit: options.bodyLimit, ...hooks }, async (request, reply) => {
    const { minPosition } = request.query as Record<string, unknown>;
    return run(request, reply, request.body === undefined ? {} : request.body, minPosition);
  });
}

function safeJsonSchema(definition: QueryDefinition): Record<string, unknown> {
  try {
    return toJsonSchema(definition.schema);
  } catch {
    return {};
  }
}
