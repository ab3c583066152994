// Commands, queries and events: declared once with a name and a zod schema.
import { z } from 'zod';
import { ChronicleError, type ValidationIssue } from './errors.js';
import { checkEvolution, type UpcasterChain, type UpcastStep } from './evolution/upcasters.js';
import { personalPaths } from './shredding/personal-fields.js';

/** Who sends a message. Travels with every dispatch; policies read it. */
export type Principal = {
  id: string;
  roles: readonly string[];
  /** Extra claims (e.g. from a JWT). */
  claims?: Record<string, unknown>;
  /** The tenant it acts for, on a multi-tenant app (see createTenantCommandBus); stamped on the events it writes. */
  tenantId?: string;
};

/** Decides whether `principal` may send/run a message with `payload`. Return true, or a reason string to deny. */
export type Policy<P> = (principal: Principal | undefined, payload: P) => boolean | string;

export type CommandDefinition<Name extends string = string, S extends z.ZodType = z.ZodType> = {
  readonly kind: 'command';
  readonly name: Name;
  readonly schema: S;
  readonly description?: string;
  /**
   * Roles that may ever send it. Checked before the payload is validated: no principal is UNAUTHENTICATED,
   * a principal holding none of them is FORBIDDEN, whatever the body. Absent: anyone (subject to `policy`).
   */
  readonly roles?: readonly string[];
  /** Who may send it; the bus enforces this for every caller. Method syntax keeps definitions assignable to the generic type. */
  policy?(principal: Principal | undefined, payload: z.output<S>): boolean | string;
};

/** A query result declared by type only (no runtime schema): `result: returns<OrderView>()`. */
export type ResultType<R> = { readonly kind: 'result-type'; readonly __result?: R };

/** Declares a query's result type without a schema; prefer a zod schema, which also feeds OpenAPI and serialization. */
export function returns<R>(): ResultType<R> {
  return { kind: 'result-type' };
}

/** The zod schema of a query's result, when it declares one (not a bare `returns<T>()`). */
export function resultSchemaOf(definition: QueryDefinition<string, any, any>): z.ZodType | undefined {
  const { result } = definition;
  return result === undefined || (result as ResultType<unknown>).kind === 'result-type' ? undefined : (result as z.ZodType);
}

export type QueryDefinition<Name extends string = string, S extends z.ZodType = z.ZodType, R = unknown> = {
  readonly kind: 'query';
  readonly name: Name;
  readonly schema: S;
  readonly description?: string;
  /** The result: a zod schema (OpenAPI, response serialization) or `returns<T>()`; `run` is typed by it. */
  readonly result?: z.ZodType<R> | ResultType<R>;
  /** Projections this query reads; read-your-writes waits for these only. */
  readonly reads?: readonly string[];
  /** Roles that may ever run it; checked before validation, like CommandDefinition.roles. */
  readonly roles?: readonly string[];
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
  /** Steps from each older schema version to the next, ending at `schemaVersion` (see `upcasters`). */
  readonly upcasters?: readonly UpcastStep[];
  /** Former names of the type: stored events under them are read as this type. */
  readonly aliases?: readonly string[];
  /**
   * Its fields marked `personal(...)` and the field naming whose they are: `withCryptoShredding` encrypts them with
   * that subject's key.
   */
  readonly personal?: { readonly subject: string; readonly fields: readonly (readonly string[])[] };
};

type AnyDefinition = CommandDefinition<string, any> | QueryDefinition<string, any, any> | EventDefinition<string, any>;

/** The definitions in `D`: one definition, a union of them, a tuple/array, or an object of them (a module's exports). */
export type DefinitionsIn<D> = D extends readonly (infer X)[]
  ? X
  : D extends AnyDefinition
    ? D
    : D extends Record<string, unknown>
      ? Extract<D[keyof D], AnyDefinition>
      : never;

/** The command (`{ type, data }`) a command definition, or the union of a set of them, describes. */
export type CommandOf<D> =
  DefinitionsIn<D> extends infer X
    ? X extends CommandDefinition<infer N, infer S>
      ? { type: N; data: z.output<S> }
      : never
    : never;
/** The event (`{ type, data }`) an event definition, or the union of a set of them, describes. */
export type EventOf<D> =
  DefinitionsIn<D> extends infer X
    ? X extends EventDefinition<infer T, infer S>
      ? { type: T; data: z.output<S> }
      : never
    : never;
/** The payload after validation (defaults applied, transforms run): what handlers and policies receive. */
export type PayloadOf<D> = D extends { schema: infer S extends z.ZodType } ? z.output<S> : never;
/** What a caller passes: the schema's input type. */
export type InputOf<D> = D extends { schema: infer S extends z.ZodType } ? z.input<S> : never;
/** A query's declared result (`unknown` when it declares none). */
export type ResultOf<D> = D extends QueryDefinition<string, any, infer R> ? R : never;

/** Declares a command. @throws INVALID_ARGUMENT for a name that is not an identifier or roles that are not strings */
export function defineCommand<Name extends string, S extends z.ZodType>(
  name: Name,
  schema: S,
  options: { description?: string; roles?: readonly string[]; policy?: Policy<z.output<S>> } = {},
): CommandDefinition<Name, S> {
  assertName(name);
  assertRoles(name, options.roles);
  return { kind: 'command', name, schema, ...options };
}

/** Declares a query. @throws INVALID_ARGUMENT for a name that is not an identifier or roles that are not strings */
export function defineQuery<Name extends string, S extends z.ZodType, R = unknown>(
  name: Name,
  schema: S,
  options: Omit<QueryDefinition<Name, S, R>, 'kind' | 'name' | 'schema'> = {},
): QueryDefinition<Name, S, R> {
  assertName(name);
  assertRoles(name, options.roles);
  return { kind: 'query', name, schema, ...options };
}

/** How an event type evolved: its current schema version, the upcasters from older ones, its former names. */
export type EventEvolutionOptions<Data> = {
  /** The version of `schema`; new appends through `withUpcasting` are stamped with it. Default 1. */
  schemaVersion?: number;
  /** `upcasters<V1>().from(1, …).from(2, …)`, ending at `schemaVersion`; the last step must return the schema's data. */
  upcasters?: UpcasterChain<Data>;
  /** Former names of the type (a rename): stored events under them are read as this type, same version numbering. */
  aliases?: readonly string[];
  /**
   * The top-level string field naming whose personal data the event holds (`'customerId'`): required when the schema
   * marks fields `personal(...)`, whose values are then encrypted with that subject's key (see `withCryptoShredding`).
   */
  subject?: StringFieldOf<Data>;
};

/** The keys of `Data` whose values are strings (an optional string field counts). */
export type StringFieldOf<Data> = {
  [K in keyof Data]-?: NonNullable<Data[K]> extends string ? K : never;
}[keyof Data] &
  string;

/**
 * Declares an event type.
 * @throws INVALID_ARGUMENT a type that is not an identifier, a schemaVersion that is not a positive integer, upcasters
 *   that do not end at it, aliases that are not event type names, personal fields without a `subject`, or a `subject`
 *   that is itself personal
 */
export function defineEvent<Type extends string, S extends z.ZodType>(
  type: Type,
  schema: S,
  options: EventEvolutionOptions<z.output<S>> = {},
): EventDefinition<Type, S> {
  assertName(type);
  const schemaVersion = options.schemaVersion ?? 1;
  const chain = options.upcasters as UpcasterChain<unknown> | undefined;
  checkEvolution(type, schemaVersion, chain, options.aliases, (name) => /^[A-Za-z][A-Za-z0-9_.:-]{0,199}$/.test(name));
  const personal = personalOf(type, schema, options.subject);
  return {
    kind: 'event',
    type,
    schema,
    schemaVersion,
    ...(chain && chain.steps.length > 0 && { upcasters: chain.steps }),
    ...(options.aliases && options.aliases.length > 0 && { aliases: Object.freeze([...options.aliases]) }),
    ...(personal && { personal }),
  };
}

// The personal fields of an event schema and its subject field, checked. The subject must stay readable: it is how a
// reader finds the key.
function personalOf(type: string, schema: z.ZodType, subject: unknown): EventDefinition['personal'] {
  const fields = personalPaths(schema);
  if (subject !== undefined && (typeof subject !== 'string' || subject === '')) {
    throw new ChronicleError('INVALID_ARGUMENT', `event ${type}: subject must be the name of a field`);
  }
  if (fields.length === 0) {
    if (subject !== undefined) {
      throw new ChronicleError('INVALID_ARGUMENT', `event ${type}: a subject is given but no field is marked personal`);
    }
    return undefined;
  }
  if (subject === undefined) {
    throw new ChronicleError('INVALID_ARGUMENT', `event ${type}: it marks fields personal, so give the subject field`);
  }
  if (fields.some((path) => path.length === 0 || path[0] === subject)) {
    throw new ChronicleError('INVALID_ARGUMENT', `event ${type}: its subject field ${subject} must not be personal`);
  }
  return Object.freeze({ subject: subject as string, fields: Object.freeze(fields.map((f) => Object.freeze(f))) });
}

function assertRoles(name: string, roles: unknown): void {
  if (roles === undefined) return;
  if (!Array.isArray(roles) || roles.some((r) => typeof r !== 'string' || r === '')) {
    throw new ChronicleError('INVALID_ARGUMENT', `${name}: roles must be an array of non-empty strings`);
  }
}

function assertName(name: string): void {
  if (typeof name !== 'string' || !/^[A-Za-z][A-Za-z0-9_.]*$/.test(name)) {
    throw new ChronicleError('INVALID_ARGUMENT', `message name must be an identifier, got ${JSON.stringify(name)}`);
  }
}

/** Issues listed in a VALIDATION_FAILED error; the rest are counted in `details.omitted`. */
export const MAX_VALIDATION_ISSUES = 100;
const MAX_ISSUE_MESSAGE = 300;

/**
 * Validates `payload` against a message's schema, and refuses strings that are not well-formed Unicode (a lone
 * surrogate would be stored, then served back as replacement characters).
 * @throws VALIDATION_FAILED listing the failing fields (at most MAX_VALIDATION_ISSUES; `details.omitted` counts the rest)
 */
export function validate<S extends z.ZodType>(
  definition: { name?: string; type?: string; schema: S },
  payload: unknown,
): z.output<S> {
  const label = definition.name ?? definition.type ?? 'message';
  const parsed = definition.schema.safeParse(payload);
  if (parsed.success) {
    // The output is what gets stored: it holds every key a schema keeps, and catches a transform that cuts a pair in
    // half. Keys a schema strips are never stored, and a strict schema refuses them itself.
    const badString = illFormedStringPath(parsed.data, []);
    if (badString !== undefined) {
      const issue = { path: badString, message: 'not well-formed Unicode (lone surrogate)' };
      throw new ChronicleError('VALIDATION_FAILED', `invalid ${label}: ${issue.path}: ${issue.message}`, {
        details: { errors: [issue] },
      });
    }
    return parsed.data;
  }
  const { issues } = parsed.error;
  const errors: ValidationIssue[] = issues.slice(0, MAX_VALIDATION_ISSUES).map((issue) => ({
    path: issue.path.map(String).join('.').slice(0, MAX_ISSUE_MESSAGE),
    message: issue.message.length > MAX_ISSUE_MESSAGE ? `${issue.message.slice(0, MAX_ISSUE_MESSAGE)}…` : issue.message,
  }));
  const omitted = issues.length - errors.length;
  const shown = errors.slice(0, 5).map((e) => (e.path ? `${e.path}: ${e.message}` : e.message));
  const more = issues.length > shown.length ? ` (and ${issues.length - shown.length} more)` : '';
  throw new ChronicleError('VALIDATION_FAILED', `invalid ${label}: ${shown.join('; ')}${more}`, {
    details: omitted > 0 ? { errors, omitted } : { errors },
  });
}

// In unicode mode a proper surrogate pair is one code point, so the surrogate category matches only lone halves.
const LONE_SURROGATE = /\p{Cs}/u;
const LONE_SURROGATE_ALL = /\p{Cs}/gu;

// The path of the first string (as a key or a value) in `value` that is not well-formed UTF-16, if any. `path` is
// one array pushed and popped on the way down: this runs on every dispatch, and a well-formed payload allocates nothing.
function illFormedStringPath(value: unknown, path: Array<string | number>): string | undefined {
  if (typeof value === 'string') return LONE_SURROGATE.test(value) ? path.join('.') : undefined;
  if (typeof value !== 'object' || value === null) return undefined;
  const keys = Array.isArray(value) ? undefined : Object.keys(value);
  const count = keys ? keys.length : (value as unknown[]).length;
  for (let i = 0; i < count; i++) {
    const key = keys ? keys[i] : i;
    if (typeof key === 'string' && LONE_SURROGATE.test(key))
      return [...path, key.replace(LONE_SURROGATE_ALL, '\uFFFD')].join('.');
    path.push(key);
    const found = illFormedStringPath((value as Record<string | number, unknown>)[key], path);
    path.pop();
    if (found !== undefined) return found;
  }
  return undefined;
}

/** JSON Schema (draft-07, which Fastify accepts) of a message's payload. */
export function toJsonSchema(schema: z.ZodType): Record<string, unknown> {
  return z.toJSONSchema(schema, { target: 'draft-7', unrepresentable: 'any', io: 'input' }) as Record<string, unknown>;
}
