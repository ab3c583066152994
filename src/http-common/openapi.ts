// The OpenAPI 3.1 document, generated from the registered command and query definitions.
import { type CommandDefinition, type QueryDefinition, resultSchemaOf, toJsonSchema } from 'chronicle-es';
import { PROBLEM_TABLE } from './problem.js';

type Json = Record<string, unknown>;

export type OpenApiInfo = { title: string; version: string; description?: string };

export type OpenApiInput = {
  info: OpenApiInfo;
  commands: readonly CommandDefinition[];
  queries: readonly QueryDefinition[];
  /** Route prefix, e.g. `/api`. */
  prefix?: string;
  /** Whether an authenticator is configured (adds bearer and API-key security schemes). */
  secured?: boolean;
  /** Whether `GET /events/stream` is served. */
  events?: boolean;
  /** Whether `/health` and `/metrics` are served. */
  operations?: boolean;
};

const COMMAND_ERRORS = [400, 401, 403, 404, 409, 410, 413, 415, 422, 500];
const QUERY_GET_ERRORS = [400, 401, 403, 404, 500, 503, 504];
const QUERY_POST_ERRORS = [400, 401, 403, 404, 413, 415, 500, 503, 504];
const COMPONENT_NAME = /[^A-Za-z0-9._-]/g;

/** Builds an OpenAPI 3.1 document describing every given command and query. */
export function buildOpenApiDocument(input: OpenApiInput): Json {
  const prefix = input.prefix ?? '';
  const schemas: Json = {
    Problem: problemSchema(),
    CommandStatus: {
      type: 'object',
      properties: {
        ok: { const: true },
        streamId: { type: 'string' },
        version: { type: 'integer', minimum: 0 },
        position: { type: 'integer', minimum: 0, description: 'Pass as minPosition to read your writes.' },
      },
      required: ['ok', 'streamId', 'version', 'position'],
    },
  };
  const paths: Json = {};

  for (const command of input.commands) {
    const body = embed(command.schema, `${command.name}Command`, schemas);
    paths[`${prefix}/commands/${command.name}`] = {
      post: {
        operationId: command.name,
        tags: ['commands'],
        summary: command.description ?? `Send ${command.name}`,
        parameters: [{ $ref: '#/components/parameters/IdempotencyKey' }],
        requestBody: { required: true, content: { 'application/json': { schema: body.ref } } },
        responses: {
          '200': {
            description: 'Accepted: the stream written, its new version and the global position.',
            content: { 'application/json': { schema: { $ref: '#/components/schemas/CommandStatus' } } },
          },
          ...problemRefs(COMMAND_ERRORS),
        },
      },
    };
  }

  for (const query of input.queries) {
    const payload = embed(query.schema, `${query.name}Query`, schemas);
    const resultSchema = resultSchemaOf(query);
    const result = resultSchema ? embed(resultSchema, `${query.name}Result`, schemas).ref : {};
    const ok = { description: 'The result.', content: { 'application/json': { schema: result } } };
    const consistency = [{ $ref: '#/components/parameters/MinPositionHeader' }, { $ref: '#/components/parameters/WaitMs' }];
    const summary = query.description ?? `Run ${query.name}`;
    paths[`${prefix}/queries/${query.name}`] = {
      get: {
        operationId: query.name,
        tags: ['queries'],
        summary,
        parameters: [...queryParameters(payload.schema), ...consistency],
        responses: { '200': ok, ...problemRefs(QUERY_GET_ERRORS) },
      },
      post: {
        operationId: `${query.name}ByBody`,
        tags: ['queries'],
        summary,
        parameters: [{ $ref: '#/components/parameters/MinPosition' }, ...consistency],
        requestBody: { required: false, content: { 'application/json': { schema: payload.ref } } },
        responses: { '200': ok, ...problemRefs(QUERY_POST_ERRORS) },
      },
    };
  }

  if (input.events) {
    paths[`${prefix}/events/stream`] = {
      get: {
        operationId: 'eventStream',
        tags: ['operations'],
        summary: 'Server-sent events: `event: projection`, `data: {"projection","position"}` on every read-model change.',
        responses: {
          '200': { description: 'An event stream.', content: { 'text/event-stream': { schema: { type: 'string' } } } },
        },
      },
    };
  }
  if (input.operations !== false) {
    paths[`${prefix}/health`] = {
      get: {
        operationId: 'health',
        tags: ['operations'],
        security: [],
        responses: {
          '200': {
            description: 'Ready.',
            content: { 'application/json': { schema: { type: 'object', properties: { status: { const: 'ok' } } } } },
          },
          ...problemRefs([503]),
        },
      },
    };
    paths[`${prefix}/metrics`] = {
      get: {
        operationId: 'metrics',
        tags: ['operations'],
        security: [],
        responses: {
          '200': { description: 'Prometheus text format.', content: { 'text/plain': { schema: { type: 'string' } } } },
        },
      },
    };
  }

  const components: Json = { schemas, responses: problemResponses(), parameters: sharedParameters() };
  const document: Json = { openapi: '3.1.0', info: { ...input.info }, paths, components };
  if (input.secured) {
    components.securitySchemes = {
      bearer: { type: 'http', scheme: 'bearer', description: 'An API key or an HS256 JWT (claims sub, roles, exp).' },
      apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
    };
    // The empty requirement: anonymous calls are allowed where the message policy allows them.
    document.security = [{ bearer: [] }, { apiKey: [] }, {}];
  }
  return document;
}

/** Puts a message schema (and its definitions) under components.schemas; returns its $ref and the inlined root. */
function embed(schema: Parameters<typeof toJsonSchema>[0], name: string, schemas: Json): { ref: Json; schema: Json } {
  const component = name.replace(COMPONENT_NAME, '_');
  let json: Json;
  try {
    json = toJsonSchema(schema);
  } catch {
    json = {};
  }
  const { $schema: _dialect, definitions, ...root } = json;
  const refName = (def: string) => `${component}.${def.replace(COMPONENT_NAME, '_')}`;
  const rewritten = rewrite(root, component, refName) as Json;
  schemas[component] = rewritten;
  if (definitions && typeof definitions === 'object') {
    for (const [def, value] of Object.entries(definitions)) schemas[refName(def)] = rewrite(value, component, refName);
  }
  return { ref: { $ref: `#/components/schemas/${component}` }, schema: rewritten };
}

// Draft-07 output from zod, made to resolve inside the OpenAPI document (whose dialect is 2020-12).
function rewrite(node: unknown, component: string, refName: (def: string) => string): unknown {
  if (Array.isArray(node)) return node.map((n) => rewrite(n, component, refName));
  if (typeof node !== 'object' || node === null) return node;
  const out: Json = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === '$ref' && typeof value === 'string') {
      const def = /^#\/definitions\/(.+)$/.exec(value);
      out.$ref = value === '#' ? `#/components/schemas/${component}` : def ? `#/components/schemas/${refName(def[1])}` : value;
    } else if (key === 'items' && Array.isArray(value)) {
      out.prefixItems = rewrite(value, component, refName);
    } else if (key === 'additionalItems' && Array.isArray((node as Json).items)) {
      if (value !== undefined) out.items = rewrite(value, component, refName);
    } else {
      out[key] = rewrite(value, component, refName);
    }
  }
  return out;
}

function queryParameters(schema: Json): Json[] {
  const properties = schema.properties;
  if (typeof properties !== 'object' || properties === null) return [{ $ref: '#/components/parameters/MinPosition' }];
  const required = new Set(Array.isArray(schema.required) ? schema.required : []);
  const parameters: Json[] = Object.entries(properties).map(([name, property]) => {
    const parameter: Json = { name, in: 'query', required: required.has(name), schema: property };
    const description = (property as Json).description;
    if (typeof description === 'string') parameter.description = description;
    if ((property as Json).type === 'array') Object.assign(parameter, { style: 'form', explode: true });
    return parameter;
  });
  if (!('minPosition' in properties)) parameters.push({ $ref: '#/components/parameters/MinPosition' });
  return parameters;
}

function sharedParameters(): Json {
  const position = { type: 'integer', minimum: 0 };
  return {
    IdempotencyKey: {
      name: 'Idempotency-Key',
      in: 'header',
      required: false,
      description: 'Same key (per principal) → same response, nothing written twice.',
      schema: { type: 'string', minLength: 1, maxLength: 255 },
    },
    MinPosition: {
      name: 'minPosition',
      in: 'query',
      required: false,
      description: 'Wait until the read side has passed this position (read your writes).',
      schema: position,
    },
    MinPositionHeader: { name: 'Chronicle-Min-Position', in: 'header', required: false, schema: position },
    WaitMs: {
      name: 'Chronicle-Wait-Ms',
      in: 'header',
      required: false,
      description: 'How long to wait for minPosition before answering 504.',
      schema: { type: 'integer', minimum: 0 },
    },
  };
}

function problemSchema(): Json {
  return {
    type: 'object',
    description: 'RFC 9457 problem details.',
    properties: {
      type: { type: 'string', format: 'uri-reference' },
      title: { type: 'string' },
      status: { type: 'integer' },
      detail: { type: 'string' },
      code: { type: 'string', enum: Object.keys(PROBLEM_TABLE) },
      errors: {
        type: 'array',
        items: {
          type: 'object',
          properties: { path: { type: 'string' }, message: { type: 'string' } },
          required: ['path', 'message'],
        },
      },
    },
    required: ['type', 'title', 'status'],
  };
}

function problemResponses(): Json {
  const titles = new Map<number, string[]>();
  for (const row of Object.values(PROBLEM_TABLE)) {
    const list = titles.get(row.status) ?? [];
    if (!list.includes(row.title)) list.push(row.title);
    titles.set(row.status, list);
  }
  const responses: Json = {};
  for (const [status, list] of [...titles].sort(([a], [b]) => a - b)) {
    responses[`Problem${status}`] = {
      description: list.join('; '),
      content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
    };
  }
  return responses;
}

function problemRefs(statuses: readonly number[]): Json {
  return Object.fromEntries(statuses.map((s) => [String(s), { $ref: `#/components/responses/Problem${s}` }]));
}

/**
 * The `GET /openapi.json` body of an adapter, built once and again only when the buses' message count changes (a
 * handler registered after the server started), since the document is read far more often than it changes.
 */
export function openApiBody(
  input: Omit<OpenApiInput, 'info' | 'commands' | 'queries'> & {
    info?: OpenApiInfo;
    commands?: { definitions(): readonly CommandDefinition[] };
    queries?: { definitions(): readonly QueryDefinition[] };
  },
): () => string {
  let built: { count: number; body: string } | undefined;
  return () => {
    const commands = input.commands?.definitions() ?? [];
    const queries = input.queries?.definitions() ?? [];
    const count = commands.length + queries.length;
    if (built?.count !== count) {
      const document = buildOpenApiDocument({
        ...input,
        info: input.info ?? { title: 'Chronicle API', version: '1.0.0' },
        commands,
        queries,
      });
      built = { count, body: JSON.stringify(document) };
    }
    return built.body;
  };
}
