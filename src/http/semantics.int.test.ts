// What an HTTP client expects beyond the happy path: 405s, 401 before the body, correlation ids, log levels,
// readiness, the event stream's ids and access, timeouts, and bounded problem bodies.

import { connect } from 'node:net';
import {
  ChronicleError,
  type ChronicleErrorCode,
  createCommandBus,
  createInMemoryEventStore,
  createQueryBus,
  defineCommand,
  defineQuery,
  type ProjectionStatus,
} from 'chronicle-es';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  type CreateServerOptions,
  combineAuthenticators,
  createApiKeyAuthenticator,
  createJwtAuthenticator,
  createReadiness,
  createServer,
  signJwt,
} from './index.js';

const secret = 'semantics-test-secret-of-32-bytes!!';
const Note = defineCommand('Note', z.object({ noteId: z.string().max(20), values: z.array(z.number()).optional() }));
const Fail = defineCommand('Fail', z.object({ code: z.string() }));
const GetNote = defineQuery('GetNote', z.object({ noteId: z.string() }));

/** Correlation ids the buses received, in order. */
const seenByBus: string[] = [];
const recordCorrelation = async (context: { correlationId: string }, next: () => Promise<unknown>) => {
  seenByBus.push(context.correlationId);
  return next();
};

function buses() {
  const store = createInMemoryEventStore();
  const commandBus = createCommandBus({ middleware: [recordCorrelation] })
    .register(Note, async (command) => {
      const result = await store.append(`note-${command.data.noteId}`, [{ type: 'Noted', data: command.data }]);
      return { streamId: result.streamId, version: result.version, position: result.position };
    })
    .register(Fail, async (command) => {
      throw new ChronicleError(command.data.code as ChronicleErrorCode, `${command.data.code} as requested`);
    });
  const queryBus = createQueryBus({
    middleware: [recordCorrelation],
    waitForPosition: async (position, options) => {
      await new Promise((r) => setTimeout(r, options.timeoutMs));
      throw new ChronicleError('TIMEOUT', `notes did not reach ${position}`);
    },
  }).register(GetNote, (payload) => ({ noteId: payload.noteId }));
  return { store, commandBus, queryBus };
}

const writer = { id: 'writer-1', roles: ['writer'] };
const authenticate = combineAuthenticators(
  createApiKeyAuthenticator({ 'writer-key-0123456789': writer, 'admin-key-0123456789': { id: 'admin-1', roles: ['admin'] } }),
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

describe('correlation ids', () => {
  let server: FastifyInstance;
  let lines: Array<Record<string, any>>;
  beforeAll(async () => {
    ({ server, lines } = await start({ notifications: () => () => {}, events: { public: true } }));
  });
  afterAll(() => server.close());

  const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

  it("echoes the client's sane id on the response and hands the same one to the buses", async () => {
    const command = await server.inject({
      method: 'POST',
      url: '/commands/Note',
      payload: { noteId: 'c1' },
      headers: { ...key, 'x-correlation-id': 'client-run-42:step/7' },
    });
    expect(command.statusCode).toBe(200);
    expect(command.headers['x-correlation-id']).toBe('client-run-42:step/7');
    expect(seenByBus.at(-1)).toBe('client-run-42:step/7');
    const query = await server.inject({
      method: 'GET',
      url: '/queries/GetNote?noteId=a',
      headers: { 'x-correlation-id': 'q-1' },
    });
    expect(query.headers['x-correlation-id']).toBe('q-1');
    expect(seenByBus.at(-1)).toBe('q-1');
  });

  it('makes a UUID when the client sends none or an insane one, and the bus gets that UUID', async () => {
    const ids = new Set<string>();
    for (const header of [undefined, 'x'.repeat(129), 'has space', 'ünïcode', '']) {
      const reply = await server.inject({
        method: 'POST',
        url: '/commands/Note',
        payload: { noteId: 'c2' },
        headers: { ...key, ...(header !== undefined && { 'x-correlation-id': header }) },
      });
      const id = String(reply.headers['x-correlation-id']);
      expect(id).toMatch(UUID);
      expect(seenByBus.at(-1)).toBe(id);
      ids.add(id);
    }
    expect(ids.size).toBe(5);
  });

  it('puts the id in every problem body and on every response, routed or not', async () => {
    type Request = { method: 'GET' | 'POST' | 'DELETE'; url: string; payload?: unknown; headers?: Record<string, string> };
    const requests: Request[] = [
      { method: 'POST', url: '/commands/Note', payload: { noteId: 7 }, headers: key },
      { method: 'POST', url: '/commands/Note', payload: {}, headers: { 'x-api-key': 'wrong' } },
      { method: 'GET', url: '/nowhere' },
      { method: 'DELETE', url: '/commands/Note' },
      { method: 'GET', url: '/queries/%E0%A4%A' },
      { method: 'POST', url: '/commands/Fail', payload: { code: 'STORE_ERROR' } },
    ];
    for (const request of requests) {
      const reply = await server.inject({
        method: request.method,
        url: request.url,
        payload: request.payload as object,
        headers: { ...request.headers, 'x-correlation-id': 'trace-me' },
      });
      expect(reply.statusCode, reply.body).toBeGreaterThanOrEqual(400);
      expect(reply.headers['x-correlation-id']).toBe('trace-me');
      expect(reply.json().correlationId).toBe('trace-me');
    }
    for (const url of ['/health', '/metrics', '/openapi.json']) {
      expect((await server.inject({ method: 'GET', url })).headers['x-correlation-id']).toMatch(UUID);
    }
  });

  it('names the id in the log lines of the request', async () => {
    await server.inject({
      method: 'POST',
      url: '/commands/Fail',
      payload: { code: 'STORE_ERROR' },
      headers: { 'x-correlation-id': 'logged-1' },
    });
    const line = lines.find((l) => l.correlationId === 'logged-1');
    expect(line).toMatchObject({ level: 50 });
  });

  it('sends it on the event stream too', async () => {
    await server.listen({ port: 0, host: '127.0.0.1' });
    const { port } = server.server.address() as { port: number };
    const controller = new AbortController();
    const response = await fetch(`http://127.0.0.1:${port}/events/stream`, {
      signal: controller.signal,
      headers: { 'x-correlation-id': 'sse-1' },
    });
    expect(response.headers.get('x-correlation-id')).toBe('sse-1');
    controller.abort();
  });

  it('works the same when the plugin is registered on an app of your own', async () => {
    const app = (await import('fastify')).default({ logger: false });
    await app.register((await import('./index.js')).chronicleHttp, { ...buses(), defaultMetrics: false });
    try {
      const mine = await app.inject({
        method: 'GET',
        url: '/queries/GetNote?noteId=a',
        headers: { 'x-correlation-id': 'own-1' },
      });
      expect(mine.headers['x-correlation-id']).toBe('own-1');
      expect(seenByBus.at(-1)).toBe('own-1');
      const fresh = await app.inject({ method: 'GET', url: '/queries/GetNote?noteId=a' });
      expect(fresh.headers['x-correlation-id']).toMatch(UUID);
      expect(seenByBus.at(-1)).toBe(fresh.headers['x-correlation-id']);
    } finally {
      await app.close();
    }
  });
});

describe('log levels', () => {
  it('logs what the client caused at info or warn without a stack, and server faults at error with one', async () => {
    const { server, lines } = await start();
    try {
      const waits = await Promise.all(
        Array.from({ length: 25 }, () =>
          server.inject({
            method: 'GET',
            url: '/queries/GetNote?noteId=a&minPosition=999',
            headers: { 'chronicle-wait-ms': '5' },
          }),
        ),
      );
      expect(waits.map((r) => r.statusCode)).toEqual(Array(25).fill(504));
      const timeouts = lines.filter((l) => l.code === 'TIMEOUT');
      expect(timeouts).toHaveLength(25);
      for (const line of timeouts) expect(line).toMatchObject({ level: 40, status: 504, msg: 'consistency wait timed out' });

      lines.length = 0;
      const refused = [
        await server.inject({ method: 'POST', url: '/commands/Note', payload: { noteId: 7 }, headers: key }),
        await server.inject({ method: 'POST', url: '/commands/Note', payload: {}, headers: { authorization: 'Bearer a.b.c' } }),
        await server.inject({ method: 'DELETE', url: '/commands/Note' }),
        await server.inject({ method: 'GET', url: '/nowhere' }),
        await server.inject({ method: 'POST', url: '/commands/Fail', payload: { code: 'IDEMPOTENCY_MISMATCH' } }),
        await server.inject({
          method: 'POST',
          url: '/commands/Note',
          payload: '{"x":',
          headers: { ...key, 'content-type': 'application/json' },
        }),
      ];
      expect(refused.map((r) => r.statusCode)).toEqual([400, 401, 405, 404, 422, 400]);
      const levels = lines.map((l) => l.level);
      expect(
        levels.every((level) => level === 30 || level === 40),
        JSON.stringify(lines),
      ).toBe(true);
      // Refusals of the routed ones are logged (the 404/405 handler answers without the error handler).
      expect(lines.map((l) => l.status)).toEqual(expect.arrayContaining([400, 401, 422]));
      expect(lines.find((l) => l.status === 401)).toMatchObject({ reason: 'malformed token' });
      expect(JSON.stringify(lines)).not.toMatch(/stack|"err"/);

      lines.length = 0;
      expect((await server.inject({ method: 'POST', url: '/commands/Fail', payload: { code: 'STORE_ERROR' } })).statusCode).toBe(
        500,
      );
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatchObject({ level: 50, err: { message: 'STORE_ERROR as requested', stack: expect.any(String) } });
      expect(JSON.stringify(timeouts)).not.toContain('stack');
    } finally {
      await server.close();
    }
  });
});

describe('request timeout', () => {
  let server: FastifyInstance;
  let port: number;
  beforeAll(async () => {
    ({ server } = await start({ requestTimeoutMs: 300 }));
    await server.listen({ port: 0, host: '127.0.0.1' });
    ({ port } = server.server.address() as { port: number });
  });
  afterAll(() => server.close());

  /** Sends `head`, then one byte every 50 ms; resolves with what came back once the server closes the socket. */
  const trickle = (head: string) =>
    new Promise<{ data: string; closed: boolean }>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      let data = '';
      const drip = setInterval(() => socket.writable && socket.write(' '), 50);
      // Generous: the point is that it is cut off at all, not how fast.
      const giveUp = setTimeout(() => finish(false), 10_000);
      const finish = (closed: boolean) => {
        clearInterval(drip);
        clearTimeout(giveUp);
        socket.destroy();
        resolve({ data, closed });
      };
      socket.on('data', (chunk) => {
        data += chunk;
      });
      socket.on('close', () => finish(true));
      socket.on('error', () => {});
      socket.on('connect', () => socket.write(head));
    });

  it('cuts off a body that trickles in, answering 408 as problem+json', async () => {
    const { data, closed } = await trickle(
      'POST /commands/Note HTTP/1.1\r\nHost: x\r\nX-API-Key: writer-key-0123456789\r\n' +
        'Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"noteId":',
    );
    expect(closed).toBe(true);
    expect(data).toMatch(/^HTTP\/1\.1 408 /);
    expect(data).toContain('Content-Type: application/problem+json');
    expect(JSON.parse(data.slice(data.indexOf('\r\n\r\n') + 4))).toMatchObject({ status: 408, code: 'REQUEST_TIMEOUT' });
    // Even with no parsed request, the answer carries a correlation id, in the header and the body alike.
    const id = /\r\nx-correlation-id: ([0-9a-f-]{36})\r\n/i.exec(data)?.[1];
    expect(id).toBeDefined();
    expect(JSON.parse(data.slice(data.indexOf('\r\n\r\n') + 4)).correlationId).toBe(id);
  });

  it('cuts off headers that never end', async () => {
    const { closed } = await trickle('GET /health HTTP/1.1\r\nX-Slow: a');
    expect(closed).toBe(true);
  });

  it('lets a response take longer than the request took to arrive', async () => {
    const reply = await fetch(`http://127.0.0.1:${port}/queries/GetNote?noteId=a&minPosition=5`, {
      headers: { 'chronicle-wait-ms': '600' },
    });
    expect(reply.status).toBe(504);
  });
});

describe('idempotency', () => {
  it('answers 422 for a key reused with another request, and still scopes keys to the principal', async () => {
    const keys: Array<string | undefined> = [];
    const commandBus = createCommandBus({
      middleware: [
        async (context, next) => {
          keys.push(context.idempotencyKey);
          return next();
        },
      ],
    }).register(Fail, async () => {
      throw new ChronicleError('IDEMPOTENCY_MISMATCH', 'key k-1 was used for another request');
    });
    const server = await createServer({ commandBus, authenticate, logger: false, defaultMetrics: false });
    try {
      const reply = await server.inject({
        method: 'POST',
        url: '/commands/Fail',
        payload: { code: 'x' },
        headers: { ...key, 'idempotency-key': 'k-1' },
      });
      expect(reply.statusCode).toBe(422);
      expect(reply.json()).toMatchObject({
        code: 'IDEMPOTENCY_MISMATCH',
        type: 'urn:chronicle:problem:idempotency-mismatch',
        detail: 'key k-1 was used for another request',
      });
      await server.inject({
        method: 'POST',
        url: '/commands/Fail',
        payload: { code: 'x' },
        headers: { 'idempotency-key': 'k-1' },
      });
      await server.inject({ method: 'POST', url: '/commands/Fail', payload: { code: 'x' }, headers: key });
      expect(keys).toEqual(['http:writer-1:k-1', 'http::k-1', undefined]);
    } finally {
      await server.close();
    }
  });
});

describe('liveness and readiness', () => {
  const projection = (name: string, state: ProjectionStatus['state'], position = 10): ProjectionStatus => ({
    name,
    version: 1,
    position,
    lagEvents: 12 - position,
    lagSeconds: 0.5,
    state,
    ...(state === 'failed' && { lastError: { message: 'TypeError at /srv/app/handler.ts:12' } }),
  });

  it('/health touches nothing; /health/ready reports stores and projections, 503 while not ready', async () => {
    let statusCalls = 0;
    let projections = [projection('orders', 'live', 12), projection('catalog', 'catching_up', 8)];
    let readStore: () => unknown = () => 1;
    const readiness = createReadiness({
      projector: {
        status: async () => {
          statusCalls++;
          return projections;
        },
      },
      stores: { events: async () => 12, read: () => readStore() },
      timeoutMs: 100,
    });
    const { server } = await start({ readiness });
    try {
      for (let i = 0; i < 5; i++)
        expect((await server.inject({ method: 'GET', url: '/health' })).json()).toEqual({ status: 'ok' });
      expect(statusCalls).toBe(0);

      const ready = await server.inject({ method: 'GET', url: '/health/ready' });
      expect(ready.statusCode).toBe(200);
      expect(ready.json()).toEqual({
        ready: true,
        checks: { events: { ok: true }, read: { ok: true } },
        projections: [
          { name: 'orders', state: 'live', position: 12, lagEvents: 0, lagSeconds: 0.5 },
          { name: 'catalog', state: 'catching_up', position: 8, lagEvents: 4, lagSeconds: 0.5 },
        ],
      });

      projections = [projection('orders', 'failed'), projection('catalog', 'live')];
      const failed = await server.inject({ method: 'GET', url: '/health/ready' });
      expect(failed.statusCode).toBe(503);
      expect(failed.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(failed.json()).toMatchObject({
        ready: false,
        code: 'UNAVAILABLE',
        projections: [{ name: 'orders', state: 'failed' }, {}],
      });
      expect(failed.body).not.toContain('handler.ts');

      projections = [projection('orders', 'live')];
      readStore = () => {
        throw new ChronicleError('STORE_ERROR', 'SQLITE_CORRUPT at /srv/app/read.db');
      };
      const broken = await server.inject({ method: 'GET', url: '/health/ready' });
      expect(broken.statusCode).toBe(503);
      expect(broken.json().checks).toEqual({ events: { ok: true }, read: { ok: false, error: 'STORE_ERROR' } });
      expect(broken.body).not.toContain('SQLITE');

      readStore = () => new Promise(() => {});
      const hung = await server.inject({ method: 'GET', url: '/health/ready' });
      expect(hung.statusCode).toBe(503);
      expect(hung.json().checks.read).toEqual({ ok: false, error: 'timeout' });
    } finally {
      await server.close();
    }
  });

  it('answers 503 when the readiness function itself throws', async () => {
    const { server } = await start({
      readiness: () => {
        throw new Error('boom');
      },
    });
    try {
      expect((await server.inject({ method: 'GET', url: '/health/ready' })).statusCode).toBe(503);
      expect((await server.inject({ method: 'GET', url: '/health' })).statusCode).toBe(200);
    } finally {
      await server.close();
    }
  });
});

describe('event stream', () => {
  type Change = { projection: string; position: number };
  const listeners = new Set<(change: Change) => void>();
  const notifications = (listener: (change: Change) => void) => {
    listeners.add(listener);
    return () => listeners.delete(listener);
  };
  const emit = (change: Change) => {
    for (const listener of listeners) listener(change);
  };

  async function open(base: string, headers: Record<string, string> = {}) {
    const controller = new AbortController();
    const response = await fetch(`${base}/events/stream`, { signal: controller.signal, headers });
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    return {
      response,
      get text() {
        return text;
      },
      async until(pattern: RegExp) {
        while (!pattern.test(text)) {
          const { value, done } = await reader.read();
          if (done) throw new Error(`stream ended before ${pattern}: ${text}`);
          text += decoder.decode(value, { stream: true });
        }
      },
      close: () => controller.abort(),
    };
  }

  async function listen(options: Partial<CreateServerOptions>) {
    const { server } = await start({ notifications, ...options, fastify: { forceCloseConnections: true } });
    await server.listen({ port: 0, host: '127.0.0.1' });
    return { server, base: `http://127.0.0.1:${(server.server.address() as { port: number }).port}` };
  }

  it('needs a credential by default, a listed role when configured, nothing when public', async () => {
    const secured = await listen({});
    const byRole = await listen({ events: { roles: ['reader'] } });
    const open_ = await listen({ events: { public: true } });
    try {
      const anonymous = await secured.server.inject({ method: 'GET', url: '/events/stream' });
      expect(anonymous.statusCode).toBe(401);
      expect(anonymous.json().code).toBe('UNAUTHENTICATED');
      const signedIn = await open(secured.base, key);
      expect(signedIn.response.status).toBe(200);
      signedIn.close();
      const wrongRole = await byRole.server.inject({ method: 'GET', url: '/events/stream', headers: key });
      expect(wrongRole.statusCode).toBe(403);
      expect(wrongRole.json().detail).toBe('the event stream requires role reader');
      const anyone = await open(open_.base);
      expect(anyone.response.status).toBe(200);
      anyone.close();
    } finally {
      for (const { server } of [secured, byRole, open_]) await server.close();
    }
    await expect(createServer({ notifications, logger: false, events: { public: true, roles: ['x'] } })).rejects.toThrow(
      /public/,
    );
  });

  it('gives each frame its position as id, and starts every connection with every projection where it is', async () => {
    let current: Change[] = [
      { projection: 'orders', position: 7 },
      { projection: 'catalog', position: 10 },
    ];
    let duringSnapshot: () => void = () => {};
    const { server, base } = await listen({
      events: {
        public: true,
        positions: async () => {
          duringSnapshot();
          return current;
        },
      },
    });
    try {
      // A live change racing the snapshot: an older orders position is dropped, a newer one comes after it.
      duringSnapshot = () => {
        emit({ projection: 'orders', position: 6 });
        emit({ projection: 'catalog', position: 11 });
      };
      const first = await open(base);
      await first.until(/position":11/);
      expect(frames(first.text)).toEqual([
        { id: '7', projection: 'orders', position: 7 },
        { id: '10', projection: 'catalog', position: 10 },
        { id: '11', projection: 'catalog', position: 11 },
      ]);
      emit({ projection: 'orders', position: 12 });
      await first.until(/position":12/);
      expect(frames(first.text).at(-1)).toEqual({ id: '12', projection: 'orders', position: 12 });
      first.close();

      // Away for a while: orders moved to 15, catalog did not. Resuming, the client learns both first.
      duringSnapshot = () => {};
      current = [
        { projection: 'orders', position: 15 },
        { projection: 'catalog', position: 11 },
      ];
      const resumed = await open(base, { 'last-event-id': '12' });
      await resumed.until(/position":11/);
      expect(frames(resumed.text)).toEqual([
        { id: '15', projection: 'orders', position: 15 },
        { id: '11', projection: 'catalog', position: 11 },
      ]);
      resumed.close();
    } finally {
      await server.close();
    }
  });
});

function frames(text: string): Array<{ id: string; projection: string; position: number }> {
  return [...text.matchAll(/id: (\d+)\nevent: projection\ndata: (.*)\n\n/g)].map(([, id, data]) => ({ id, ...JSON.parse(data) }));
}

describe('metrics access and an ops listener', () => {
  const admin = { 'x-api-key': 'admin-key-0123456789' };

  it('puts /metrics behind a role when configured, or off this server', async () => {
    const { server } = await start({ metricsAccess: { roles: ['admin'] } });
    const { server: none } = await start({ metricsAccess: false });
    try {
      expect((await server.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(401);
      expect((await server.inject({ method: 'GET', url: '/metrics', headers: key })).statusCode).toBe(403);
      const scraped = await server.inject({ method: 'GET', url: '/metrics', headers: admin });
      expect(scraped.statusCode).toBe(200);
      expect(scraped.body).toContain('chronicle_http_requests_total');
      expect((await none.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(404);
      // Public by default.
      const { server: open } = await start();
      expect((await open.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(200);
      await open.close();
    } finally {
      await server.close();
      await none.close();
    }
  });

  it("serves only operator endpoints with serve: 'ops', scraping the main server's registry", async () => {
    const registry = new Registry();
    const { server: main } = await start({ metricsRegistry: registry, metricsAccess: false });
    const { server: ops } = await start({ serve: 'ops', metricsRegistry: registry, notifications: () => () => {} });
    try {
      expect(
        (await main.inject({ method: 'POST', url: '/commands/Note', payload: { noteId: 'o' }, headers: key })).statusCode,
      ).toBe(200);
      expect((await main.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(404);
      const scraped = await ops.inject({ method: 'GET', url: '/metrics' });
      expect(scraped.body).toMatch(/chronicle_http_requests_total\{method="POST",route="\/commands\/:name",status="200"\} 1/);
      for (const url of ['/commands/Note', '/queries/GetNote', '/openapi.json']) {
        expect((await ops.inject({ method: url.startsWith('/commands') ? 'POST' : 'GET', url, headers: key })).statusCode).toBe(
          404,
        );
      }
      expect((await ops.inject({ method: 'GET', url: '/health' })).statusCode).toBe(200);
      expect((await ops.inject({ method: 'GET', url: '/health/ready' })).statusCode).toBe(200);
      expect((await ops.inject({ method: 'GET', url: '/events/stream' })).statusCode).toBe(401);
    } finally {
      await main.close();
      await ops.close();
    }
  });
});
