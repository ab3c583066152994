import { defineCommand, defineQuery } from 'chronicle-es';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { buildOpenApiDocument } from './openapi.js';

type Json = Record<string, any>;

const CreateThing = defineCommand('CreateThing', z.object({ thingId: z.string(), count: z.number().int() }), {
  description: 'Creates a thing',
});
const Node: z.ZodType<{ name: string; children: unknown[] }> = z.object({
  name: z.string(),
  get children() {
    return z.array(Node);
  },
});
const PlantTree = defineCommand('PlantTree', z.object({ root: Node, pair: z.tuple([z.string(), z.number()]) }));
const GetThing = defineQuery('GetThing', z.object({ thingId: z.string(), tags: z.array(z.string()).optional() }), {
  result: z.object({ thingId: z.string(), count: z.number() }),
});

function refs(node: unknown, out: string[] = []): string[] {
  if (Array.isArray(node)) for (const n of node) refs(n, out);
  else if (node && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      if (k === '$ref' && typeof v === 'string') out.push(v);
      else refs(v, out);
    }
  }
  return out;
}

function resolve(document: Json, ref: string): unknown {
  return ref
    .slice(2)
    .split('/')
    .reduce<any>((node, part) => node?.[part], document);
}

describe('OpenAPI document', () => {
  const document = buildOpenApiDocument({
    info: { title: 'Test', version: '2.0.0' },
    commands: [CreateThing, PlantTree],
    queries: [GetThing],
    secured: true,
    events: true,
  }) as Json;

  it('is OpenAPI 3.1 with every message as an operation', () => {
    expect(document.openapi).toBe('3.1.0');
    expect(document.info).toEqual({ title: 'Test', version: '2.0.0' });
    expect(Object.keys(document.paths)).toEqual(
      expect.arrayContaining(['/commands/CreateThing', '/commands/PlantTree', '/queries/GetThing', '/events/stream', '/health']),
    );
    const post = document.paths['/commands/CreateThing'].post;
    expect(post.summary).toBe('Creates a thing');
    expect(post.requestBody.content['application/json'].schema).toEqual({ $ref: '#/components/schemas/CreateThingCommand' });
    expect(Object.keys(post.responses)).toEqual(expect.arrayContaining(['200', '400', '401', '403', '409', '413', '415', '422']));
    expect(document.components.schemas.CreateThingCommand).toMatchObject({ type: 'object', required: ['thingId', 'count'] });
    expect(document.components.schemas.CreateThingCommand.$schema).toBeUndefined();
  });

  it('describes queries as GET with parameters and POST with a body', () => {
    const path = document.paths['/queries/GetThing'];
    const names = path.get.parameters.map((p: Json) => p.name ?? p.$ref);
    expect(names).toEqual(expect.arrayContaining(['thingId', 'tags', '#/components/parameters/MinPosition']));
    expect(path.get.parameters.find((p: Json) => p.name === 'thingId')).toMatchObject({ in: 'query', required: true });
    expect(path.get.parameters.find((p: Json) => p.name === 'tags')).toMatchObject({ required: false, explode: true });
    expect(path.post.requestBody.content['application/json'].schema.$ref).toBe('#/components/schemas/GetThingQuery');
    expect(path.get.responses['200'].content['application/json'].schema.$ref).toBe('#/components/schemas/GetThingResult');
    expect(path.get.responses['504']).toEqual({ $ref: '#/components/responses/Problem504' });
  });

  it('resolves every $ref inside the document, recursive schemas and tuples included', () => {
    for (const ref of refs(document)) expect(resolve(document, ref), ref).toBeDefined();
    const tree = JSON.stringify(document.components.schemas);
    expect(tree).not.toContain('#/definitions');
    expect(tree).not.toContain('"$ref":"#"');
    expect(document.components.schemas.PlantTreeCommand.properties.pair.prefixItems).toHaveLength(2);
  });

  it('declares problem+json responses and both security schemes', () => {
    expect(document.components.responses.Problem422.content['application/problem+json'].schema.$ref).toBe(
      '#/components/schemas/Problem',
    );
    expect(Object.keys(document.components.securitySchemes)).toEqual(['bearer', 'apiKey']);
    expect(document.security).toContainEqual({});
  });
});
