// The query bus: one handler per query; validates, authorizes, waits for read-your-writes, checks the result.
import { randomUUID } from 'node:crypto';
import { ChronicleError } from './errors.js';
import { createHandlerRegistry } from './handler-registry.js';
import { type InputOf, type PayloadOf, type Principal, type QueryDefinition, type ResultOf, validate } from './messages.js';
import { type Authorizer, type DispatchContext, enforce, enforceRoles, type Middleware, runPipeline } from './middleware.js';
import { queryChannel, traced } from './telemetry/channels.js';
import { reportConsistencyWait } from './telemetry/report.js';
import type { QueryTrace } from './telemetry/trace-types.js';

/** Handles one query; reads only the read store and returns data. */
export type QueryHandler<P = any, R = unknown> = (payload: P, context: { principal?: Principal }) => Promise<R> | R;

export type QueryBusOptions = {
  middleware?: readonly Middleware[];
  authorize?: Authorizer;
  /** Waits until the read side has passed a position (usually projector.waitForPosition). */
  waitForPosition?: (position: number, options: { projections?: readonly string[]; timeoutMs: number }) => Promise<void>;
  /** Default bound for minPosition waits, in ms. Default 5000. */
  defaultWaitMs?: number;
};

export type QueryOptions = {
  principal?: Principal;
  /** Do not answer before the read side has passed this position. */
  minPosition?: number;
  /** How long to wait for minPosition, in ms. */
  waitMs?: number;
  correlationId?: string;
  /** The caller's request id (e.g. HTTP's), for logs and traces. */
  requestId?: string;
  /** The caller's W3C trace context: the query's span (when traced) is its child. */
  traceparent?: string;
};

export interface QueryBus {
  /** Registers the handler of a query. @throws INVALID_ARGUMENT when one is already registered */
  register<D extends QueryDefinition<string, any, any>>(definition: D, handler: QueryHandler<PayloadOf<D>, ResultOf<D>>): this;
  /**
   * Checks the definition's roles, validates, runs the policies and the query; the payload and the result are
   * typed by the definition.
   * @throws UNKNOWN_MESSAGE, UNAUTHENTICATED, FORBIDDEN, VALIDATION_FAILED, INVALID_ARGUMENT, NOT_FOUND, TIMEOUT
   */
  run<D extends QueryDefinition<string, any, any>>(query: D, payload: InputOf<D>, options?: QueryOptions): Promise<ResultOf<D>>;
  /** Runs a query by name (e.g. from HTTP): the payload is checked only at run time and the result is unknown. */
  run(query: string, payload: unknown, options?: QueryOptions): Promise<unknown>;
  /** The registered definition of a query, if any. */
  definition(name: string): QueryDefinition | undefined;
  /** Every registered query definition. */
  definitions(): QueryDefinition[];
}

/** Creates a query bus. */
export function createQueryBus(options: QueryBusOptions = {}): QueryBus {
  const handlers = createHandlerRegistry<QueryDefinition, QueryHandler>('query');
  const middleware = options.middleware ?? [];

  const bus: QueryBus = {
    register(definition, handler) {
      handlers.add(definition, handler);
      return bus;
    },
    async run(query: string | QueryDefinition, payload: unknown, queryOptions: QueryOptions = {}): Promise<any> {
      const name = typeof query === 'string' ? query : query.name;
      const { definition, handler } = handlers.require(name);
      const { minPosition } = queryOptions;
      const correlationId = queryOptions.correlationId ?? randomUUID();
      const trace = (): QueryTrace => ({
        query: name,
        correlationId,
        requestId: queryOptions.requestId,
        minPosition,
        traceparent: queryOptions.traceparent,
      });
      return traced(queryChannel, trace, (span) => {
        const context: DispatchContext = {
          kind: 'query',
          definition,
          payload,
          principal: queryOptions.principal,
          tenantId: queryOptions.principal?.tenantId,
          correlationId,
          minPosition,
          requestId: queryOptions.requestId,
          traceparent: span?.traceparent ?? queryOptions.traceparent,
          locals: {},
        };
        return runPipeline(middleware, context, async () => {
          const what = `run ${name}`;
          const { principal } = context;
          enforceRoles(definition.roles, principal, what);
          if (minPosition !== undefined && !(Number.isSafeInteger(minPosition) && minPosition >= 0)) {
            throw new ChronicleError(
              'INVALID_ARGUMENT',
              `minPosition must be a non-negative integer, got ${JSON.stringify(minPosition)}`,
            );
          }
          const data = validate(definition, context.payload);
          context.payload = data;
          if (options.authorize) enforce(options.authorize(principal, definition, data), principal, what);
          if (definition.policy) enforce(definition.policy(principal, data), principal, what);
          if (minPosition !== undefined && minPosition > 0) {
            if (!options.waitForPosition) {
              throw new ChronicleError('INVALID_ARGUMENT', 'minPosition needs a query bus created with waitForPosition');
            }
            const timeoutMs = queryOptions.waitMs ?? options.defaultWaitMs ?? 5000;
            await waitFor(options.waitForPosition, minPosition, { projections: definition.reads, timeoutMs });
          }
          const result = await handler(data, { principal });
          if (definition.resultPolicy) enforce(definition.resultPolicy(principal, result, data), principal, what);
          return result;
        });
      });
    },
    definition: handlers.definition,
    definitions: handlers.definitions,
  };
  return bus;
}

// The wait, with how it ended reported for metrics: reached, timed out (the client's bound), or failed otherwise.
async function waitFor(
  wait: NonNullable<QueryBusOptions['waitForPosition']>,
  position: number,
  options: { projections?: readonly string[]; timeoutMs: number },
): Promise<void> {
  const started = performance.now();
  try {
    await wait(position, options);
    reportConsistencyWait('reached', (performance.now() - started) / 1000);
  } catch (err) {
    const timedOut = (err as { code?: unknown } | null)?.code === 'TIMEOUT';
    reportConsistencyWait(timedOut ? 'timeout' : 'error', (performance.now() - started) / 1000);
    throw err;
  }
}
