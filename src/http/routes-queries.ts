// GET /queries/:name?… and POST /queries/:name → the query bus → the result, with read-your-writes.
import { type QueryBus, type QueryDefinition, resultSchemaOf, toJsonSchema } from 'chronicle-es';
import type { FastifyInstance, FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify';
import type { z } from 'zod';
import { type ConsistencyOptions, readConsistency } from './consistency.js';
import { type HttpMetrics, outcomeOf } from './metrics.js';
import { createQueryStringCoercer, type QueryStringCoercer } from './query-string.js';
import { correlationIdOf } from './request-context.js';

export type QueryRoutesOptions = ConsistencyOptions & {
  bus: QueryBus;
  metrics: HttpMetrics;
  bodyLimit: number;
  onRequest?: onRequestHookHandler;
};

type Params = { Params: { name: string } };
type Serialize = (value: unknown) => string;

/** Registers the query endpoints on `app`. */
export function registerQueryRoutes(app: FastifyInstance, options: QueryRoutesOptions): void {
  const { bus, metrics } = options;
  const coercers = new WeakMap<QueryDefinition, QueryStringCoercer>();
  // null: the query declares no result schema, or it does not compile; its results go through JSON.stringify.
  const serializers = new WeakMap<QueryDefinition, Serialize | null>();
  const hooks = options.onRequest ? { onRequest: options.onRequest } : {};

  const coercerOf = (definition: QueryDefinition): QueryStringCoercer => {
    let coercer = coercers.get(definition);
    if (!coercer) {
      coercer = createQueryStringCoercer(safeJsonSchema(definition));
      coercers.set(definition, coercer);
    }
    return coercer;
  };

  const serializerOf = (definition: QueryDefinition, reply: FastifyReply): Serialize | null => {
    let serialize = serializers.get(definition);
    if (serialize === undefined) {
      const resultSchema = resultSchemaOf(definition);
      serialize = resultSchema ? compileResultSerializer(resultSchema, reply) : null;
      serializers.set(definition, serialize);
    }
    return serialize;
  };

  const run = async (request: FastifyRequest<Params>, reply: FastifyReply, payload: unknown, minPosition: unknown) => {
    const { name } = request.params;
    const definition = bus.definition(name);
    const label = definition ? name : '(unknown)';
    try {
      const consistency = readConsistency(minPosition, request.headers, options);
      const result = await bus.run(name, payload, {
        principal: request.chroniclePrincipal,
        minPosition: consistency.minPosition,
        waitMs: consistency.waitMs,
        correlationId: correlationIdOf(request),
      });
      metrics.dispatch('query', label, 'ok');
      // undefined is not JSON; a handler that found nothing and did not throw NOT_FOUND answers null.
      if (result === undefined) return reply.type(JSON_TYPE).send('null');
      const serialize = definition && typeof result === 'object' && result !== null ? serializerOf(definition, reply) : null;
      const body = serialize ? serializeOrUndefined(serialize, result) : undefined;
      return body === undefined ? result : reply.type(JSON_TYPE).send(body);
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

const JSON_TYPE = 'application/json; charset=utf-8';

/**
 * A serializer compiled (by Fastify's serializer compiler, fast-json-stringify) from a query's declared result
 * schema: several times quicker than JSON.stringify's generic walk. Made lenient first so that a result straying
 * from its schema is still sent whole: objects keep properties the schema does not list, and a missing property is
 * left out instead of failing the request. null when the schema cannot be compiled.
 */
function compileResultSerializer(result: z.ZodType, reply: FastifyReply): Serialize | null {
  try {
    return reply.compileSerializationSchema(lenient(toJsonSchema(result)) as Record<string, unknown>) as Serialize;
  } catch {
    return null;
  }
}

// A value the compiled serializer cannot convert to its declared type (e.g. "abc" for an integer) goes through
// JSON.stringify instead, as it did before there was a serializer.
function serializeOrUndefined(serialize: Serialize, value: unknown): string | undefined {
  try {
    return serialize(value);
  } catch {
    return undefined;
  }
}

const VALUES = new Set(['enum', 'const', 'default', 'examples']);
const SCHEMA_MAPS = new Set(['properties', 'patternProperties', 'definitions', '$defs']);

function lenient(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(lenient);
  if (typeof schema !== 'object' || schema === null) return schema;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key === 'required') continue;
    if (VALUES.has(key)) out[key] = value;
    // Under these keys every value is a schema, whatever its name (a property may well be called "required").
    else if (SCHEMA_MAPS.has(key) && typeof value === 'object' && value !== null) {
      out[key] = Object.fromEntries(Object.entries(value).map(([name, sub]) => [name, lenient(sub)]));
    } else out[key] = lenient(value);
  }
  if (out.type === 'object' && (out.additionalProperties === undefined || out.additionalProperties === false)) {
    out.additionalProperties = true;
  }
  return out;
}

function safeJsonSchema(definition: QueryDefinition): Record<string, unknown> {
  try {
    return toJsonSchema(definition.schema);
  } catch {
    return {};
  }
}
