// The pipeline every dispatch runs through: user middleware, then validation, then policies, then the handler.
import { ChronicleError } from './errors.js';
import type { CommandDefinition, Principal, QueryDefinition } from './messages.js';

/** What middleware sees of one dispatch. `payload` is the raw input until validation replaces it. */
export type DispatchContext = {
  readonly kind: 'command' | 'query';
  readonly definition: CommandDefinition | QueryDefinition;
  payload: unknown;
  readonly principal?: Principal;
  /** The principal's tenant, when it has one: the events a command writes carry it in `metadata.tenantId`. */
  readonly tenantId?: string;
  readonly correlationId: string;
  readonly idempotencyKey?: string;
  /** Read-your-writes position for queries. */
  readonly minPosition?: number;
  /** The caller's request id (e.g. HTTP's), for logs. */
  readonly requestId?: string;
  /** The W3C trace context of this dispatch (its span's, when traced). */
  readonly traceparent?: string;
  /** Free-form values middleware can share (e.g. a tracing span). */
  readonly locals: Record<string, unknown>;
};

/** Wraps a dispatch: call `next()` to continue, or throw to stop it. */
export type Middleware = (context: DispatchContext, next: () => Promise<unknown>) => Promise<unknown>;

/** A bus-wide rule on top of message policies, e.g. a role matrix. Return true, or a reason to deny. */
export type Authorizer = (
  principal: Principal | undefined,
  definition: CommandDefinition | QueryDefinition,
  payload: unknown,
) => boolean | string;

/** Runs `middleware` around `last`, outermost first. */
export function runPipeline(
  middleware: readonly Middleware[],
  context: DispatchContext,
  last: () => Promise<unknown>,
): Promise<unknown> {
  return step(middleware, context, last, 0);
}

// Module-level, so a dispatch allocates one `next` closure per middleware and no named helper (tsx's keepNames
// wraps every named closure in a defineProperty call each time it is created).
function step(
  middleware: readonly Middleware[],
  context: DispatchContext,
  last: () => Promise<unknown>,
  i: number,
): Promise<unknown> {
  return i === middleware.length ? last() : middleware[i](context, () => step(middleware, context, last, i + 1));
}

/** @throws UNAUTHENTICATED or FORBIDDEN when a policy answers other than true. */
export function enforce(verdict: boolean | string, principal: Principal | undefined, what: string): void {
  if (verdict === true) return;
  const reason = typeof verdict === 'string' ? verdict : `not allowed to ${what}`;
  if (principal === undefined) throw new ChronicleError('UNAUTHENTICATED', `authentication required to ${what}`);
  throw new ChronicleError('FORBIDDEN', reason, { details: { principal: principal.id, roles: principal.roles } });
}

/** @throws UNAUTHENTICATED without a principal, FORBIDDEN when it holds none of `roles` (no roles given: no check). */
export function enforceRoles(roles: readonly string[] | undefined, principal: Principal | undefined, what: string): void {
  if (roles === undefined) return;
  if (principal === undefined) throw new ChronicleError('UNAUTHENTICATED', `authentication required to ${what}`);
  if (!roles.some((role) => principal.roles.includes(role))) {
    throw new ChronicleError('FORBIDDEN', `requires role ${roles.join(' or ')} to ${what}`, {
      details: { principal: principal.id, roles: principal.roles },
    });
  }
}

/**
 * Logs each dispatch's outcome as one structured line through `log` (pino-compatible `info`/`warn`): the message,
 * `outcome` (`ok` or the error code), request and correlation ids, actor, trace id, time taken, and for a command its
 * stream, version and position. Never the payload, which may hold what a client would not have logged. With
 * `isLevelEnabled` (pino has it), a line whose level is off is not built at all.
 */
export function loggingMiddleware(log: {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  isLevelEnabled?(level: string): boolean;
}): Middleware {
  // Asked per dispatch: a pino logger's level can change at run time.
  const enabled = (level: 'info' | 'warn') => log.isLevelEnabled?.(level) ?? true;
  const line = (context: DispatchContext, started: number, outcome: string): Record<string, unknown> => ({
    kind: context.kind,
    message: context.definition.name,
    outcome,
    requestId: context.requestId,
    correlationId: context.correlationId,
    actor: context.principal?.id,
    // The trace id alone: what a log backend joins on to show the trace.
    traceId: context.traceparent?.slice(3, 35),
    ms: +(performance.now() - started).toFixed(2),
  });
  return async (context, next) => {
    const started = performance.now();
    try {
      const result = await next();
      if (enabled('info')) {
        const fields = line(context, started, 'ok');
        if (context.kind === 'command') {
          const status = result as { streamId?: unknown; version?: unknown; position?: unknown } | undefined;
          fields.streamId = status?.streamId;
          fields.version = status?.version;
          fields.position = status?.position;
        }
        log.info(fields, 'dispatched');
      }
      return result;
    } catch (err) {
      if (enabled('warn')) {
        const code = (err as { code?: unknown }).code;
        const outcome = typeof code === 'string' ? code : 'error';
        log.warn({ ...line(context, started, outcome), code, err: (err as Error).message }, 'dispatch failed');
      }
      throw err;
    }
  };
}
