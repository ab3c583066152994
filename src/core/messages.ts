// Commands, queries and events: declared once with a name and a zod schema.
import { z } from 'zod';
import { ChronicleError, type ValidationIssue } from './errors.js';

/** Who sends a message. Travels with every dispatch; policies read it. */
export type Principal = {
  id: string;
  roles: readonly string[];
  /** Extra claims (e.g. from a JWT). */
  claims?: Record<string, unknown>;
};

/** Decides whether `principal` may send/run a message with `payload`. Return true, or a reason string to deny. */
export type Policy<P> = (principal: Principal | undefined, payload: P) => boolean | string;

export type CommandDefinition<Name extends string = string, S extends z.ZodType = z.ZodType> = {
  readonly kind: 'command';
  readonly name: Name;
  readonly schema: S;
  readonly description?: string;
  /** Who may send it; the bus enforces this for every caller. Method syntax keeps definitions assignable to the generic type. */
  policy?(principal: Principal | undefined, payload: z.output<S>): boolean | string;
};

export type QueryDefinition<Name extends string = string, S extends z.ZodType = z.ZodType, R = unknown> = {
  readonly kind: 'query';
  readonly name: Name;
  readonly schema: S;
  readonly description?: string;
  /** Optional schema of the result (documentation / OpenAPI). */
  readonly result?: z.ZodType<R>;
  /** Projections this query reads; read-your-writes waits for these only. */
  readonly reads?: readonly string[];
  /** Who may run it; the bus enforces this for every caller. */
  policy?(principal: Principal | undefined, payload: z.output<S>): boolean | string;
  /** Checked against the result before it is returned (e.g. an order belongs to its customer). */
  resultPolicy?(principal: Principal | undefined, result: R, payload: z.output<S>): boolean | string;
};

export type EventDefinition<Type extends string = string, S extends z.ZodType = z.ZodType> = {
  readonly kind: 'event';
  readonly type: Type;
  readonly schema: S;
  readonly schemaVersion: number;
};

export type CommandOf<D> = D extends CommandDefinition<infer N, infer S> ? { type: N; data: z.output<S> } : never;
export type PayloadOf<D> = D extends { schema: infer S extends z.ZodType } ? z.output<S> : never;
export type InputOf<D> = D extends { schema: infer S extends z.ZodType } ? z.input<S> : never;
export type ResultOf<D> = D extends QueryDefinition<string, z.ZodType, infer R> ? R : never;
export type EventOf<D> = D extends EventDefinition<infer T, infer S> ? { type: T; data: z.output<S> } : never;

/** Declares a command. @throws INVALID_ARGUMENT for an empty name. */
export function defineCommand<Name extends string, S extends z.ZodType>(
  name: Name,
  schema: S,
  options: { description?: string; policy?: Policy<z.output<S>> } = {},
): CommandDefinition<Name, S> {
  assertName(name);
  return { kind: 'command', name, schema, ...options };
}

/** Declares a query. @throws INVALID_ARGUMENT for an empty name. */
export function defineQuery<Name extends string, S extends z.ZodType, R = unknown>(
  name: Name,
  schema: S,
  options: Omit<QueryDefinition<Name, S, R>, 'kind' | 'name' | 'schema'> = {},
): QueryDefinition<Name, S, R> {
  assertName(name);
  return { kind: 'query', name, schema, ...options };
}

/** Declares an event type. @throws INVALID_ARGUMENT for an empty name. */
export function defineEvent<Type extends string, S extends z.ZodType>(
  type: Type,
  schema: S,
  options: { schemaVersion?: number } = {},
): EventDefinition<Type, S> {
  assertName(type);
  return { kind: 'event', type, schema, schemaVersion: options.schemaVersion ?? 1 };
}

function assertName(name: string): void {
  if (typeof name !== 'string' || !/^[A-Za-z][A-Za-z0-9_.]*$/.test(name)) {
    throw new ChronicleError('INVALID_ARGUMENT', `message name must be an identifier, got ${JSON.stringify(name)}`);
  }
}

/** Validates `payload` against a message's schema. @throws VALIDATION_FAILED listing every failing field. */
export function validate<S extends z.ZodType>(
  definition: { name?: string; type?: string; schema: S },
  payload: unknown,
): z.output<S> {
  const parsed = definition.schema.safeParse(payload);
  if (parsed.success) return parsed.data;
  const errors: ValidationIssue[] = parsed.error.issues.map((issue) => ({
    path: issue.path.map(String).join('.'),
    message: issue.message,
  }));
  const label = definition.name ?? definition.type ?? 'message';
  const summary = errors.map((e) => (e.path ? `${e.path}: ${e.message}` : e.message)).join('; ');
  throw new ChronicleError('VALIDATION_FAILED', `invalid ${label}: ${summary}`, { details: { errors } });
}

/** JSON Schema (draft-07, which Fastify accepts) of a message's payload. */
export function toJsonSchema(schema: z.ZodType): Record<string, unknown> {
  return z.toJSONSchema(schema, { target: 'draft-7', unrepresentable: 'any', io: 'input' }) as Record<string, unknown>;
}
