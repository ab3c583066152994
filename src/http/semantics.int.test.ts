// What an HTTP client expects beyond the happy path: 405s, 401 before the body, correlation ids, log levels,
// readiness, the event stream's ids and access, timeouts, and bounded problem bodies.
import {
  ChronicleError,
  type ChronicleErrorCode,
  createCommandBus,
  createInMemoryEventStore,
  createQueryBus,
  defineCommand,
  defineQuery,
} from 'chronicle-es';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  type CreateServerOptions,
  combineAuthenticators,
  createApiKeyAuthenticator,
  createJwtAuthenticator,
  createServer,
  signJwt,
} from './index.js';

const secret = 'semantics-test-secret-of-32-bytes!!';
const Note = defineCommand('Note', z.object({ noteId: z.string().max(20), values: z.array(z.number()).optional() }));
const Fail = defineCommand('Fail', z.object({ code: z.string() }));
const GetNote = defineQuery('GetNote', z.object({ noteId: z.string() }));

function buses() {
  const store = createInMemoryEventStore();
  const commandBus = createCommandBus()
    .register(Note, async (command) => {
      const result = await store.append(`note-${command.data.noteId}`, [{ type: 'Noted', data: command.data }]);
      return { streamId: result.streamId, version: result.version, position: result.position };
    })
    .register(Fail, async (command) => {
      throw new ChronicleError(command.data.code as ChronicleErrorCode, `${command.data.code} as requested`);
    });
  const queryBus = createQueryBus({
    waitForPosition: async (position, options) => {
      await new Promise((r) => setTimeout(r, options.timeoutMs));
      throw new ChronicleError('TIMEOUT', `notes did not reach ${position}`);
    },
  }).register(GetNote, (payload) => ({ noteId: payload.noteId }));
  return { store, commandBus, queryBus };
}

const writer = { id: 'writer-1', roles: ['writer'] };
const authenticate = combineAuthenticators(
  createApiKeyAuthenticator({ 'writer-key-0123456789': writer }),
  createJwtAuthenticator({ secret }),
);
const key = { 'x-api-key': 'writer-key-0123456789' };

/** A server whose pino output lands in `lines` (parsed). */
async function start(options: Partial<CreateServerOptions> = {}) {
  const lines: Array<Record<string, any>> = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  const server = await createServer({ ...buses(), authenticate, logger, defaultMetrics: false, ...options });
  return { server, lines };
}

describe('405 Method Not Allowed', () => {
  let server: FastifyInstance;
  beforeAll(async () => {
    ({ server } = await start());
  });
  afterAll(() => server.close());

  it.each([
    ['DELETE', '/commands/Note', 'POST'],
    ['GET', '/commands/Note', 'POST'],
    ['PUT', '/queries/GetNote', 'GET, HEAD, POST'],
    ['POST', '/health', 'GET, HEAD'],
    ['DELETE', '/metrics?x=1', 'GET, HEAD'],
  ])('%s %s → 405 with Allow: %s, as problem+json', async (method, url, allow) => {
    const reply = await server.inject({ method: method as 'GET', url });
    expect(reply.statusCode).toBe(405);
    expect(reply.headers.allow).toBe(allow);
    expect(reply.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(reply.json()).toMatchObject({ status: 405, code: 'METHOD_NOT_ALLOWED', title: 'Method not allowed' });
  });

  it('still answers 404 for a path no method serves', async () => {
    const reply = await server.inject({ method: 'DELETE', url: '/nowhere' });
    expect(reply.statusCode).toBe(404);
    expect(reply.headers.allow).toBeUndefined();
  });
});

describe('bad credentials', () => {
  let server: FastifyInstance;
  beforeAll(async () => {
    ({ server } = await start({ bodyLimit: 64 * 1024 }));
  });
  afterAll(() => server.close());

  const bad = { 'x-api-key': 'not-a-valid-key' };
  it.each([
    ['malformed JSON', '{"noteId": ', 'application/json'],
    ['an oversized body', JSON.stringify({ noteId: 'a', pad: 'x'.repeat(200 * 1024) }), 'application/json'],
    ['a body failing the schema', JSON.stringify({ noteId: 7 }), 'application/json'],
    ['a media type other than JSON', 'noteId=a', 'application/x-www-form-urlencoded'],
    ['JSON nested too deep', `${'['.repeat(10_000)}${']'.repeat(10_000)}`, 'application/json'],
    ['__proto__', '{"__proto__": {"admin": true}}', 'application/json'],
  ])('get 401 whatever the body: %s', async (_, payload, contentType) => {
    for (const url of ['/commands/Note', '/queries/GetNote']) {
      const reply = await server.inject({ method: 'POST', url, payload, headers: { ...bad, 'content-type': contentType } });
      expect(reply.statusCode, `${url}: ${reply.body}`).toBe(401);
      expect(reply.json()).toMatchObject({ code: 'UNAUTHENTICATED', detail: 'invalid API key' });
    }
  });

  it('a JWT that fails verification reads "invalid bearer token", never why', async () => {
    const exp = Math.floor(Date.now() / 1000) + 300;
    const tokens = {
      expired: signJwt({ sub: 'w', roles: ['writer'], exp: exp - 3600 }, secret),
      forged: signJwt({ sub: 'w', roles: ['writer'], exp }, 'another-secret-that-is-32-bytes-long'),
      noSub: signJwt({ roles: ['writer'], exp }, secret),
      garbage: 'not.a.jwt',
    };
    const bodies = new Set<string>();
    for (const token of Object.values(tokens)) {
      const reply = await server.inject({
        method: 'POST',
        url: '/commands/Note',
        payload: { noteId: 'a' },
        headers: { authorization: `Bearer ${token}` },
      });
      expect(reply.statusCode).toBe(401);
      expect(reply.headers['www-authenticate']).toBe('Bearer error="invalid_token"');
      const { correlationId: _, ...problem } = reply.json();
      expect(problem).toMatchObject({ code: 'UNAUTHENTICATED', detail: 'invalid bearer token' });
      expect(reply.body).not.toMatch(/expired|signature|sub claim|API key/i);
      bodies.add(JSON.stringify(problem));
    }
    expect(bodies.size).toBe(1);
  });
});
