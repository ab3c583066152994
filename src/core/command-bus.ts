// The command bus: one handler per command; validates, authorizes, then hands over.
import { randomUUID } from 'node:crypto';
import type { CommandContext, CommandHandler, CommandResult } from './command-handler.js';
import { createHandlerRegistry } from './handler-registry.js';
import { type CommandDefinition, type CommandOf, type InputOf, type Principal, validate } from './messages.js';
import { type Authorizer, type DispatchContext, enforce, enforceRoles, type Middleware, runPipeline } from './middleware.js';
import { commandChannel, traced } from './telemetry/channels.js';
import type { CommandTrace } from './telemetry/trace-types.js';
import { parseTraceparent } from './telemetry/traceparent.js';

export type CommandBusOptions = {
  /** Run around every dispatch, outermost first, before validation. */
  middleware?: readonly Middleware[];
  /** Checked for every command in addition to the command's own policy. */
  authorize?: Authorizer;
};

export type DispatchOptions = {
  principal?: Principal;
  idempotencyKey?: string;
  correlationId?: string;
  causationId?: string;
  /** The caller's request id (e.g. HTTP's), for logs and traces. */
  requestId?: string;
  /** The caller's W3C trace context (dropped when malformed); the events carry it, or the command span's when traced. */
  traceparent?: string;
};

export interface CommandBus {
  /** Registers the handler of a command. @throws INVALID_ARGUMENT when one is already registered */
  register<D extends CommandDefinition>(definition: D, handler: CommandHandler<CommandOf<D>>): this;
  /**
   * Checks the definition's roles, validates, runs the policies and handles a command; returns only its status.
   * The payload is typed by the definition's schema.
   * @throws UNKNOWN_MESSAGE, UNAUTHENTICATED, FORBIDDEN, VALIDATION_FAILED, DOMAIN_RULE, CONCURRENCY_CONFLICT,
   *   IDEMPOTENCY_MISMATCH, STORE_ERROR
   */
  dispatch<D extends CommandDefinition>(command: D, payload: InputOf<D>, options?: DispatchOptions): Promise<CommandResult>;
  /** Dispatches by name (e.g. from HTTP): the payload is checked only at run time. */
  dispatch(command: string, payload: unknown, options?: DispatchOptions): Promise<CommandResult>;
  /** The registered definition of a command, if any. */
  definition(name: string): CommandDefinition | undefined;
  /** Every registered command definition. */
  definitions(): CommandDefinition[];
}

/** Creates a command bus. */
export function createCommandBus(options: CommandBusOptions = {}): CommandBus {
  const handlers = createHandlerRegistry<CommandDefinition, CommandHandler<any>>('command');
  const middleware = options.middleware ?? [];

  const bus: CommandBus = {
    register(definition, handler) {
      handlers.add(definition, handler);
      return bus;
    },
    async dispatch(command: string | CommandDefinition, payload: unknown, dispatchOptions: DispatchOptions = {}) {
      const name = typeof command === 'string' ? command : command.name;
      const { definition, handler } = handlers.require(name);
      const correlationId = dispatchOptions.correlationId ?? randomUUID();
      // A malformed trace context is dropped, as W3C says, rather than stored in the events.
      const given = dispatchOptions.traceparent;
      const callerTrace = given !== undefined && parseTraceparent(given) ? given : undefined;
      const trace = (): CommandTrace => ({
        command: name,
        correlationId,
        requestId: dispatchOptions.requestId,
        traceparent: callerTrace,
      });
      // Traced around the middleware too, so a logging middleware's line and the span describe the same dispatch.
      return traced(commandChannel, trace, (span) => {
        const context: DispatchContext = {
          kind: 'command',
          definition,
          payload,
          principal: dispatchOptions.principal,
          tenantId: dispatchOptions.principal?.tenantId,
          correlationId,
          idempotencyKey: dispatchOptions.idempotencyKey,
          requestId: dispatchOptions.requestId,
          // A tracer's span wrote the events when there is one: a projection batch then links to it.
          traceparent: span?.traceparent ?? callerTrace,
          locals: {},
        };
        return runPipeline(middleware, context, async () => {
          const what = `send ${name}`;
          // Who may never send it is told so before anything about the body: 401/403 whatever the payload.
          enforceRoles(definition.roles, context.principal, what);
          const data = validate(definition, context.payload);
          context.payload = data;
          if (options.authorize) enforce(options.authorize(context.principal, definition, data), context.principal, what);
          if (definition.policy) enforce(definition.policy(context.principal, data), context.principal, what);
          const handlerContext: CommandContext = {
            principal: context.principal,
            tenantId: context.tenantId,
            idempotencyKey: context.idempotencyKey,
            correlationId: context.correlationId,
            causationId: dispatchOptions.causationId,
            traceparent: context.traceparent,
          };
          return handler({ type: name, data }, handlerContext);
        }) as Promise<CommandResult>;
      });
    },
    definition: handlers.definition,
    definitions: handlers.definitions,
  };
  return bus;
}
