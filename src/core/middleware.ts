// The pipeline every dispatch runs through: user middleware, then validation, then policies, then the handler.
import { ChronicleError } from './errors.js';
import type { CommandDefinition, Principal, QueryDefinition } from './messages.js';

/** What middleware sees of one dispatch. `payload` is the raw input until validation replaces it. */
export type DispatchContext = {
  readonly kind: 'command' | 'query';
  readonly definition: CommandDefinition | QueryDefinition;
  payload: unknown;
  readonly principal?: Principal;
  readonly correlationId: string;
  readonly idempotencyKey?: string;
  /** Read-your-writes position for queries. */
  readonly minPosition?: number;
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
  const step = (i: number): Promise<unknown> => (i === middleware.length ? last() : middleware[i](context, () => step(i + 1)));
  return step(0);
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

/** Logs each dispatch as one structured line through `log` (pino-compatible `info`/`warn`). */
export function loggingMiddleware(log: {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}): Middleware {
  return async (context, next) => {
    const started = performance.now();
    const base = {
      kind: context.kind,
      message: context.definition.name,
      correlationId: context.correlationId,
      actor: context.principal?.id,
    };
    try {
      const result = await next();
      log.info({ ...base, ms: +(performance.now() - started).toFixed(2) }, 'dispatched');
      return result;
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      log.warn({ ...base, ms: +(performance.now() - started).toFixed(2), code, err: (err as Error).message }, 'dispatch failed');
      throw err;
    }
  };
}
