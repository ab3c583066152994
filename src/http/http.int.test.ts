import {
  ChronicleError,
  type ChronicleErrorCode,
  createCommandBus,
  createCommandHandler,
  createInMemoryEventStore,
  createQueryBus,
  type Decider,
  defineCommand,
  defineQuery,
  domainError,
  type EventStore,
} from 'chronicle-es';
import Fastify, { type FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  chronicleHttp,
  combineAuthenticators,
  createApiKeyAuthenticator,
  createJwtAuthenticator,
  createServer,
  signJwt,
} from './index.js';

// ---- a tiny app: a counter with a ceiling, a read model fed by hand, and a few odd messages ----

const Id = z.string().regex(/^[\w-]{1,64}$/);
const Increment = defineCommand('Increment', z.object({ counterId: Id, by: z.number().int().positive().max(50) }), {
  description: 'Adds to a counter',
  policy: (principal) => principal?.roles.includes('writer') || 'only writers may increment',
});
const Tag = defineCommand('Tag', z.object({ counterId: Id, tags: z.array(z.string().max(20)).max(5) }));
const FAILURES = ['CONCURRENCY_CONFLICT', 'STORE_ERROR', 'NOT_FOUND', 'INVALID_ARGUMENT', 'boom'] as const;
const Fail = defineCommand('Fail', z.object({ code: z.enum(FAILURES) }));
const GetCounter = defineQuery('GetCounter', z.strictObject({ counterId: Id }), {
  reads: ['counters'],
  result: z.object({ counterId: z.string(), value: z.number() }),
});
const ListCounters = defineQuery(
  'ListCounters',
  z.object({
    limit: z.number().int().min(1).max(100).optional(),
    desc: z.boolean().optional(),
    ids: z.array(Id).max(10).optional(),
  }),
);
const Secret = defineQuery('Secret', z.object({}), { policy: (p) => p?.roles.includes('admin') || 'admins only' });
const Nothing = defineQuery('Nothing', z.object({}));

type CounterCommand = { type: 'Increment'; data: { counterId: string; by: number } };
type CounterEvent = { type: 'Incremented'; data: { by: number } };
const counter: Decider<CounterCommand, CounterEvent, { value: number }> = {
  initialState: { value: 0 },
  decide(command, state) {
    if (state.value + command.data.by > 100) throw domainError(`counter would pass 100 (now ${state.value})`);
    return [{ type: 'Incremented', data: { by: command.data.by } }];
  },
  evolve: (state, event) => ({ value: state.value + event.data.by }),
};

const secret = 'integration-test-secret-of-32-bytes!';
const writer = { id: 'writer-1', roles: ['writer'] };
const reader = { id: 'reader-1', roles: ['reader'] };
const admin = { id: 'admin-1', roles: ['admin', 'writer'] };

type App = {
  store: EventStore;
  server: FastifyInstance;
  base: string;
  project(): Promise<void>;
  listeners: Set<(change: { projection: string; position: number }) => void>;
  state: { healthy: boolean; failed: boolean };
};

async function startApp(): Promise<App> {
  const store = createInMemoryEventStore();
  const counters = new Map<string, number>();
  const listeners = new Set<(change: { projection: string; position: number }) => void>();
  const state = { healthy: true, failed: false };
  let projected = 0;
  const project = async () => {
    for (const event of await store.readAll({ from: projected + 1 })) {
      if (event.type === 'Incremented') {
        const id = event.streamId.replace(/^counter-/, '');
        counters.set(id, (counters.get(id) ?? 0) + (event.data as { by: number }).by);
      }
      projected = event.position;
    }
    for (const listener of listeners) listener({ projection: 'counters', position: projected });
  };
  const waitForPosition = async (position: number, options: { timeoutMs: number }) => {
    const deadline = Date.now() + options.timeoutMs;
    while (projected < position) {
      if (state.failed) throw new ChronicleError('PROJECTION_FAILED', 'projection counters failed: TypeError in handler.ts');
      if (Date.now() >= deadline) throw new ChronicleError('TIMEOUT', `counters did not reach ${position}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  };

  const commandBus = createCommandBus()
    .register(Increment, createCommandHandler({ store, decider: counter, streamId: (c) => `counter-${c.data.counterId}` }))
    .register(Tag, async (command) => {
      const result = await store.append(`tag-${command.data.counterId}`, [{ type: 'Tagged', data: command.data }]);
      return { streamId: result.streamId, version: result.version, position: result.position };
    })
    .register(Fail, async (command) => {
      const code = command.data.code;
      if (code === 'boom') throw new Error('connection to postgres://app:hunter2@db failed');
      const message = code === 'STORE_ERROR' ? 'SQLITE_FULL writing /srv/app/secret-path.db' : `${code} as requested`;
      throw new ChronicleError(code as ChronicleErrorCode, message);
    });
  const queryBus = createQueryBus({ waitForPosition })
    .register(GetCounter, (payload) => {
      const value = counters.get(payload.counterId);
      if (value === undefined) throw new ChronicleError('NOT_FOUND', `no counter ${payload.counterId}`);
      return { counterId: payload.counterId, value };
    })
    .register(ListCounters, (payload) => ({ echo: payload, count: counters.size }))
    .register(Secret, () => ({ secret: 42 }))
    .register(Nothing, () => undefined);

  const server = await createServer({
    commandBus,
    queryBus,
    logger: false,
    defaultMetrics: false,
    authenticate: combineAuthenticators(
      createApiKeyAuthenticator({ 'writer-key': writer, 'reader-key': reader, 'admin-key': admin }),
      createJwtAuthenticator({ secret }),
    ),
    notifications: (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    openapi: { title: 'Counter API', version: '1.2.3' },
    readiness: () => ({ ready: state.healthy }),
    events: { heartbeatMs: 100 },
    // fetch opens a spare socket after an aborted stream; never used, it would hold close() until it times out.
    fastify: { forceCloseConnections: true },
  });
  await server.listen({ port: 0, host: '127.0.0.1' });
  const address = server.server.address();
  if (typeof address !== 'object' || address === null) throw new Error('no address');
  return { store, server, base: `http://127.0.0.1:${address.port}`, project, listeners, state };
}

type Reply = { status: number; headers: Headers; text: string; json: any };

async function call(app: App, method: string, path: string, init: { body?: unknown; headers?: Record<string, string> } = {}) {
  const headers: Record<string, string> = { ...init.headers };
  let body: string | undefined;
  if (init.body !== undefined) {
    body = typeof init.body === 'string' ? init.body : JSON.stringify(init.body);
    headers['content-type'] ??= 'application/json';
  }
  const response = await fetch(app.base + path, { method, headers, body });
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, text, json } as Reply;
}

const key = (k: string) => ({ 'x-api-key': k });
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const exp = () => Math.floor(Date.now() / 1000) + 300;

function expectProblem(reply: Reply, status: number, code?: string) {
  expect(reply.status, reply.text).toBe(status);
  expect(reply.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(reply.json).toMatchObject({ status, type: expect.any(String), title: expect.any(String), detail: expect.any(String) });
  if (code) expect(reply.json.code).toBe(code);
  expect(reply.text).not.toMatch(/\bat .+\.(ts|js):\d+|node_modules|hunter2|secret-path/);
}

describe('chronicle/http over a real socket', () => {
  let app: App;
  beforeAll(async () => {
    app = await startApp();
  });
  afterAll(async () => {
    await app.server.close();
  });

  describe('commands', () => {
    it('answers 200 with the status only', async () => {
      const reply = await call(app, 'POST', '/commands/Increment', {
        body: { counterId: 'ok-1', by: 2 },
        headers: key('writer-key'),
      });
      expect(reply.status).toBe(200);
      expect(reply.json).toEqual({ ok: true, streamId: 'counter-ok-1', version: 1, position: expect.any(Number) });
      const charset = await call(app, 'POST', '/commands/Increment', {
        body: { counterId: 'ok-1', by: 1 },
        headers: { ...key('writer-key'), 'content-type': 'application/json; charset=utf-8' },
      });
      expect(charset.json).toMatchObject({ ok: true, version: 2 });
      const vendor = await call(app, 'POST', '/commands/Increment', {
        body: { counterId: 'ok-1', by: 1 },
        headers: { ...key('writer-key'), 'content-type': 'application/vnd.counter+json' },
      });
      expect(vendor.json).toMatchObject({ ok: true, version: 3 });
    });

    it('accepts JWTs and refuses bad, expired or forged ones with 401 and WWW-Authenticate', async () => {
      const good = signJwt({ sub: 'jwt-writer', roles: ['writer'], exp: exp() }, secret);
      const ok = await call(app, 'POST', '/commands/Increment', { body: { counterId: 'jwt-1', by: 1 }, headers: bearer(good) });
      expect(ok.status).toBe(200);

      const head = await app.store.headPosition();
      const tokens = [
        signJwt({ sub: 'w', roles: ['writer'], exp: exp() - 3600 }, secret),
        signJwt({ sub: 'w', roles: ['writer'], exp: exp() }, 'another-secret-that-is-32-bytes-long'),
        `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${Buffer.from(`{"sub":"w","roles":["writer"],"exp":${exp()}}`).toString('base64url')}.`,
        'not-a-key',
      ];
      for (const token of tokens) {
        const reply = await call(app, 'POST', '/commands/Increment', {
          body: { counterId: 'jwt-2', by: 1 },
          headers: bearer(token),
        });
        expectProblem(reply, 401, 'UNAUTHENTICATED');
        expect(reply.headers.get('www-authenticate')).toMatch(/^Bearer/);
      }
      expectProblem(await call(app, 'POST', '/commands/Increment', { body: {}, headers: key('wrong') }), 401);
      expectProblem(await call(app, 'POST', '/commands/Increment', { body: {}, headers: { authorization: 'Basic eDp5' } }), 401);
      expect(await app.store.headPosition()).toBe(head);
    });

    it('answers 401 to an anonymous caller and 403 to a principal the policy refuses, writing nothing', async () => {
      const head = await app.store.headPosition();
      const anonymous = await call(app, 'POST', '/commands/Increment', { body: { counterId: 'p', by: 1 } });
      expectProblem(anonymous, 401, 'UNAUTHENTICATED');
      expect(anonymous.headers.get('www-authenticate')).toBe('Bearer');
      const denied = await call(app, 'POST', '/commands/Increment', {
        body: { counterId: 'p', by: 1 },
        headers: key('reader-key'),
      });
      expectProblem(denied, 403, 'FORBIDDEN');
      expect(denied.json.detail).toBe('only writers may increment');
      expect(await app.store.headPosition()).toBe(head);
    });

    it('answers 400 with the failing fields for wrong types and missing fields', async () => {
      const wrong = await call(app, 'POST', '/commands/Increment', {
        body: { counterId: 7, by: 'x' },
        headers: key('writer-key'),
      });
      expectProblem(wrong, 400, 'VALIDATION_FAILED');
      expect(wrong.json.errors.map((e: { path: string }) => e.path).sort()).toEqual(['by', 'counterId']);
      const missing = await call(app, 'POST', '/commands/Increment', { body: {}, headers: key('writer-key') });
      expectProblem(missing, 400, 'VALIDATION_FAILED');
      expect(missing.json.errors).toHaveLength(2);
      const noBody = await call(app, 'POST', '/commands/Increment', { headers: key('writer-key') });
      expectProblem(noBody, 400, 'VALIDATION_FAILED');
    });

    it('answers 422 when the decider refuses', async () => {
      for (const _ of [1, 2]) {
        await call(app, 'POST', '/commands/Increment', { body: { counterId: 'full', by: 50 }, headers: key('writer-key') });
      }
      const reply = await call(app, 'POST', '/commands/Increment', {
        body: { counterId: 'full', by: 1 },
        headers: key('writer-key'),
      });
      expectProblem(reply, 422, 'DOMAIN_RULE');
      expect(reply.json.detail).toBe('counter would pass 100 (now 100)');
    });

    it('answers 409 on a conflict, 410 for a deleted stream, 404 for a missing entity, 500 without detail otherwise', async () => {
      await call(app, 'POST', '/commands/Increment', { body: { counterId: 'gone', by: 1 }, headers: key('writer-key') });
      await app.store.deleteStream('counter-gone');
      const deleted = await call(app, 'POST', '/commands/Increment', {
        body: { counterId: 'gone', by: 1 },
        headers: key('writer-key'),
      });
      expectProblem(deleted, 410, 'STREAM_DELETED');
      expectProblem(
        await call(app, 'POST', '/commands/Fail', { body: { code: 'CONCURRENCY_CONFLICT' } }),
        409,
        'CONCURRENCY_CONFLICT',
      );
      expectProblem(await call(app, 'POST', '/commands/Fail', { body: { code: 'NOT_FOUND' } }), 404, 'NOT_FOUND');
      expectProblem(await call(app, 'POST', '/commands/Fail', { body: { code: 'INVALID_ARGUMENT' } }), 400, 'INVALID_ARGUMENT');
      const store = await call(app, 'POST', '/commands/Fail', { body: { code: 'STORE_ERROR' } });
      expectProblem(store, 500);
      expect(store.json.detail).not.toContain('SQLITE');
      const boom = await call(app, 'POST', '/commands/Fail', { body: { code: 'boom' } });
      expectProblem(boom, 500, 'INTERNAL');
    });

    it('answers the same response to a repeated Idempotency-Key and writes once', async () => {
      const headers = { ...key('writer-key'), 'idempotency-key': 'order-42-attempt' };
      const first = await call(app, 'POST', '/commands/Increment', { body: { counterId: 'idem', by: 3 }, headers });
      const head = await app.store.headPosition();
      const second = await call(app, 'POST', '/commands/Increment', { body: { counterId: 'idem', by: 3 }, headers });
      expect(first.status).toBe(200);
      expect(second.json).toEqual(first.json);
      expect(await app.store.headPosition()).toBe(head);
      // Keys are per principal: another client's same key is a different command.
      const other = await call(app, 'POST', '/commands/Increment', {
        body: { counterId: 'idem', by: 3 },
        headers: { ...key('admin-key'), 'idempotency-key': 'order-42-attempt' },
      });
      expect(other.json.version).toBe(2);
      const tooLong = { ...key('writer-key'), 'idempotency-key': 'k'.repeat(300) };
      expectProblem(
        await call(app, 'POST', '/commands/Increment', { body: { counterId: 'idem', by: 3 }, headers: tooLong }),
        400,
      );
    });
  });

  describe('bad input changes nothing and never gets a 5xx', () => {
    it('malformed JSON, wrong media types, huge bodies, unknown routes, injection and __proto__', async () => {
      const head = await app.store.headPosition();
      const w = key('writer-key');
      const json = { ...w, 'content-type': 'application/json' };
      const cases: Array<[number, Promise<Reply>]> = [
        [400, call(app, 'POST', '/commands/Increment', { body: '{"counterId": "a", "by":', headers: json })],
        [400, call(app, 'POST', '/commands/Increment', { body: '', headers: json })],
        [400, call(app, 'POST', '/commands/Increment', { body: 'null', headers: json })],
        [400, call(app, 'POST', '/commands/Increment', { body: '[1,2,3]', headers: json })],
        [
          400,
          call(app, 'POST', '/commands/Increment', {
            body: '{"__proto__": {"isAdmin": true}, "counterId": "a", "by": 1}',
            headers: json,
          }),
        ],
        [
          400,
          call(app, 'POST', '/commands/Increment', {
            body: '{"constructor": {"prototype": {"x": 1}}, "counterId": "a", "by": 1}',
            headers: json,
          }),
        ],
        [
          400,
          call(app, 'POST', '/commands/Increment', {
            body: '{"counterId":"a","by":1,"x":' + '['.repeat(200_000) + ']'.repeat(200_000) + '}',
            headers: json,
          }),
        ],
        [400, call(app, 'POST', '/commands/Increment', { body: '['.repeat(500_000) + ']'.repeat(500_000), headers: json })],
        [
          413,
          call(app, 'POST', '/commands/Increment', {
            body: JSON.stringify({ counterId: 'a', by: 1, pad: 'x'.repeat(1024 * 1024) }),
            headers: json,
          }),
        ],
        [413, call(app, 'POST', '/queries/ListCounters', { body: JSON.stringify({ pad: 'x'.repeat(1024 * 1024 + 10) }) })],
        [
          415,
          call(app, 'POST', '/commands/Increment', {
            body: 'counterId=a&by=1',
            headers: { ...w, 'content-type': 'application/x-www-form-urlencoded' },
          }),
        ],
        [
          415,
          call(app, 'POST', '/commands/Increment', {
            body: '{"counterId":"a","by":1}',
            headers: { ...w, 'content-type': 'text/plain' },
          }),
        ],
        [415, call(app, 'POST', '/commands/Increment', { body: '<a/>', headers: { ...w, 'content-type': 'application/xml' } })],
        [404, call(app, 'POST', '/commands/DropEverything', { body: {}, headers: w })],
        [
          404,
          call(app, 'POST', "/commands/Increment'%3B%20DROP%20TABLE%20events%3B--", {
            body: { counterId: 'a', by: 1 },
            headers: w,
          }),
        ],
        [404, call(app, 'POST', '/commands/..%2F..%2Fetc%2Fpasswd', { body: {}, headers: w })],
        [404, call(app, 'POST', `/commands/${'A'.repeat(500)}`, { body: {}, headers: w })],
        [405, call(app, 'GET', '/commands/Increment')],
        [404, call(app, 'GET', '/nowhere')],
        [400, call(app, 'GET', '/queries/%E0%A4%A')],
        [400, call(app, 'POST', '/commands/Increment', { body: { counterId: "a'; DROP TABLE events; --", by: 1 }, headers: w })],
        [400, call(app, 'POST', '/commands/Increment', { body: { counterId: 'a', by: '1 OR 1=1' }, headers: w })],
        [400, call(app, 'POST', '/commands/Increment', { body: { counterId: '<script>alert(1)</script>', by: 1 }, headers: w })],
        [400, call(app, 'POST', '/commands/Increment', { body: { counterId: 'a', by: 1e308 }, headers: w })],
        [400, call(app, 'POST', '/commands/Tag', { body: { counterId: 'a', tags: Array.from({ length: 10_000 }, () => 'x') } })],
        [400, call(app, 'GET', "/queries/GetCounter?counterId=1'%20OR%20'1'='1")],
        [400, call(app, 'GET', '/queries/GetCounter?counterId=a&__proto__=x')],
        [400, call(app, 'GET', '/queries/GetCounter?counterId=a&counterId=b')],
        [400, call(app, 'GET', '/queries/ListCounters?limit=1e999')],
        [400, call(app, 'GET', '/queries/ListCounters?minPosition=-1')],
        [404, call(app, 'GET', '/queries/DropEverything')],
      ];
      for (const [status, pending] of cases) {
        const reply = await pending;
        expectProblem(reply, status);
      }
      expect(await app.store.headPosition()).toBe(head);
      expect(({} as Record<string, unknown>).isAdmin).toBeUndefined();
      expect(({} as Record<string, unknown>).x).toBeUndefined();
    });
  });

  describe('queries', () => {
    it('coerces query-string values by the schema, and takes a JSON body on POST', async () => {
      const get = await call(app, 'GET', '/queries/ListCounters?limit=5&desc=true&ids=a&ids=b');
      expect(get.status, get.text).toBe(200);
      expect(get.json.echo).toEqual({ limit: 5, desc: true, ids: ['a', 'b'] });
      const post = await call(app, 'POST', '/queries/ListCounters', { body: { limit: 7, ids: ['c'] } });
      expect(post.json.echo).toEqual({ limit: 7, ids: ['c'] });
      const empty = await call(app, 'POST', '/queries/ListCounters');
      expect(empty.json.echo).toEqual({});
      const wrong = await call(app, 'GET', '/queries/ListCounters?limit=ten&desc=maybe');
      expectProblem(wrong, 400, 'VALIDATION_FAILED');
      expect(wrong.json.errors.map((e: { path: string }) => e.path).sort()).toEqual(['desc', 'limit']);
    });

    it('answers 404 for a missing entity and null for a handler that returns nothing', async () => {
      expectProblem(await call(app, 'GET', '/queries/GetCounter?counterId=never'), 404, 'NOT_FOUND');
      const nothing = await call(app, 'GET', '/queries/Nothing');
      expect(nothing.status).toBe(200);
      expect(nothing.text).toBe('null');
    });

    it('enforces query policies through the bus: 401, 403, 200', async () => {
      expectProblem(await call(app, 'GET', '/queries/Secret'), 401);
      expectProblem(await call(app, 'GET', '/queries/Secret', { headers: key('reader-key') }), 403);
      expect((await call(app, 'GET', '/queries/Secret', { headers: bearer('admin-key') })).json).toEqual({ secret: 42 });
    });

    it('waits for minPosition (parameter or header) and answers 504 when it is not reached in time', async () => {
      const write = await call(app, 'POST', '/commands/Increment', {
        body: { counterId: 'ryw', by: 4 },
        headers: key('writer-key'),
      });
      const { position } = write.json;
      const pending = call(app, 'GET', `/queries/GetCounter?counterId=ryw&minPosition=${position}`);
      setTimeout(() => void app.project(), 50);
      const read = await pending;
      expect(read.status, read.text).toBe(200);
      expect(read.json).toEqual({ counterId: 'ryw', value: 4 });
      const viaHeader = await call(app, 'POST', '/queries/GetCounter', {
        body: { counterId: 'ryw' },
        headers: { 'chronicle-min-position': String(position) },
      });
      expect(viaHeader.json.value).toBe(4);

      const started = Date.now();
      const late = await call(app, 'GET', `/queries/GetCounter?counterId=ryw&minPosition=${position + 1000}`, {
        headers: { 'chronicle-wait-ms': '100' },
      });
      expectProblem(late, 504, 'TIMEOUT');
      expect(Date.now() - started).toBeLessThan(2000);
      expectProblem(
        await call(app, 'GET', '/queries/GetCounter?counterId=ryw', { headers: { 'chronicle-min-position': 'soon' } }),
        400,
      );
    });

    it('answers 503 when the projection a query waits for has failed', async () => {
      app.state.failed = true;
      try {
        const reply = await call(app, 'GET', '/queries/GetCounter?counterId=ryw&minPosition=999999');
        expectProblem(reply, 503, 'PROJECTION_FAILED');
        expect(reply.json.detail).not.toContain('handler.ts');
      } finally {
        app.state.failed = false;
      }
    });
  });

  describe('operations', () => {
    it('serves an OpenAPI 3.1 document listing every message', async () => {
      const reply = await call(app, 'GET', '/openapi.json');
      expect(reply.status).toBe(200);
      expect(reply.json.openapi).toBe('3.1.0');
      expect(reply.json.info).toEqual({ title: 'Counter API', version: '1.2.3' });
      for (const name of ['Increment', 'Tag', 'Fail']) expect(reply.json.paths[`/commands/${name}`].post).toBeDefined();
      for (const name of ['GetCounter', 'ListCounters', 'Secret', 'Nothing']) {
        expect(reply.json.paths[`/queries/${name}`].get).toBeDefined();
        expect(reply.json.paths[`/queries/${name}`].post).toBeDefined();
      }
      expect(reply.json.paths['/commands/Increment'].post.summary).toBe('Adds to a counter');
      expect(reply.json.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
    });

    it('reports liveness always and readiness: 200 when ready, 503 problem otherwise', async () => {
      const ok = await call(app, 'GET', '/health/ready');
      expect(ok.status).toBe(200);
      expect(ok.json).toEqual({ ready: true, checks: {}, projections: [] });
      app.state.healthy = false;
      try {
        expectProblem(await call(app, 'GET', '/health/ready'), 503, 'UNAVAILABLE');
        expect(await call(app, 'GET', '/health')).toMatchObject({ status: 200, json: { status: 'ok' } });
      } finally {
        app.state.healthy = true;
      }
    });

    it('exposes Prometheus metrics for requests and dispatches', async () => {
      await call(app, 'POST', '/commands/Increment', { body: { counterId: 'metrics', by: 1 }, headers: key('writer-key') });
      await call(app, 'POST', '/commands/NoSuchCommand', { body: {} });
      const reply = await call(app, 'GET', '/metrics');
      expect(reply.status).toBe(200);
      expect(reply.headers.get('content-type')).toMatch(/^text\/plain/);
      expect(reply.text).toMatch(/chronicle_http_requests_total\{method="POST",route="\/commands\/:name",status="200"\} \d+/);
      expect(reply.text).toMatch(/chronicle_dispatch_total\{kind="command",message="Increment",outcome="ok"\} \d+/);
      expect(reply.text).toMatch(
        /chronicle_dispatch_total\{kind="command",message="\(unknown\)",outcome="UNKNOWN_MESSAGE"\} \d+/,
      );
      expect(reply.text).toContain('chronicle_http_request_duration_seconds_bucket');
      expect(reply.text).not.toContain('NoSuchCommand');
    });

    it('pushes read-model changes over SSE, with heartbeats, and cleans up when the client leaves', async () => {
      expectProblem(await call(app, 'GET', '/events/stream'), 401, 'UNAUTHENTICATED');
      const controller = new AbortController();
      const response = await fetch(`${app.base}/events/stream`, { signal: controller.signal, headers: key('reader-key') });
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
      const reader = response.body!.getReader();
      const decoder = new TextDecoder();
      let received = '';
      const until = async (pattern: RegExp) => {
        while (!pattern.test(received)) {
          const { value, done } = await reader.read();
          if (done) throw new Error(`stream ended before ${pattern}: ${received}`);
          received += decoder.decode(value, { stream: true });
        }
      };
      await until(/: connected/);
      expect(app.listeners.size).toBe(1);
      await call(app, 'POST', '/commands/Increment', { body: { counterId: 'sse', by: 1 }, headers: key('writer-key') });
      await app.project();
      const head = await app.store.headPosition();
      await until(new RegExp(`id: ${head}\\nevent: projection\\ndata: \\{"projection":"counters","position":${head}\\}\\n\\n`));
      await until(/: heartbeat/);
      controller.abort();
      for (let i = 0; i < 100 && app.listeners.size > 0; i++) await new Promise((r) => setTimeout(r, 10));
      expect(app.listeners.size).toBe(0);
      const metrics = await call(app, 'GET', '/metrics');
      expect(metrics.text).toMatch(/chronicle_sse_clients 0/);
    });
  });
});

describe('serve: write / read split', () => {
  const store = createInMemoryEventStore();
  const commandBus = createCommandBus().register(
    Increment,
    createCommandHandler({ store, decider: counter, streamId: (c) => `counter-${c.data.counterId}` }),
  );
  const queryBus = createQueryBus().register(ListCounters, () => ({ items: [] }));
  const notifications = () => () => {};

  it('serves only commands on a write node and only queries and SSE on a read node', async () => {
    const write = await createServer({
      commandBus,
      queryBus,
      notifications,
      serve: 'write',
      logger: false,
      defaultMetrics: false,
    });
    const read = await createServer({ commandBus, queryBus, notifications, serve: 'read', logger: false, defaultMetrics: false });
    try {
      expect((await write.inject({ method: 'POST', url: '/commands/Increment', payload: {} })).statusCode).toBe(400);
      expect((await write.inject({ method: 'GET', url: '/queries/ListCounters' })).statusCode).toBe(404);
      expect((await write.inject({ method: 'GET', url: '/events/stream' })).statusCode).toBe(404);
      expect((await read.inject({ method: 'POST', url: '/commands/Increment', payload: {} })).statusCode).toBe(404);
      expect((await read.inject({ method: 'GET', url: '/queries/ListCounters' })).statusCode).toBe(200);
      for (const server of [write, read]) {
        expect((await server.inject({ method: 'GET', url: '/health' })).statusCode).toBe(200);
        expect((await server.inject({ method: 'GET', url: '/metrics' })).body).toContain('chronicle_http_requests_total');
      }
      const writeDoc = JSON.parse((await write.inject({ method: 'GET', url: '/openapi.json' })).body);
      expect(Object.keys(writeDoc.paths)).toContain('/commands/Increment');
      expect(Object.keys(writeDoc.paths)).not.toContain('/queries/ListCounters');
    } finally {
      await write.close();
      await read.close();
    }
  });

  it('refuses a split without the bus it serves', async () => {
    await expect(createServer({ queryBus, serve: 'write', logger: false })).rejects.toThrow(/commandBus/);
  });
});

describe('as a plugin and with a logger', () => {
  const failing = () =>
    createCommandBus().register(Fail, async () => {
      throw new Error('connection to postgres://app:hunter2@db failed');
    });

  it('logs an unexpected error server-side and answers a generic 500', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) });
    const server = await createServer({ commandBus: failing(), logger, defaultMetrics: false });
    try {
      const reply = await server.inject({ method: 'POST', url: '/commands/Fail', payload: { code: 'boom' } });
      expect(reply.statusCode).toBe(500);
      expect(reply.body).not.toContain('hunter2');
      expect(lines.some((line) => line.includes('hunter2') && line.includes('"level":50'))).toBe(true);
    } finally {
      await server.close();
    }
  });

  it('registers on an app of your own under a prefix, leaving your routes alone', async () => {
    const app = Fastify({ logger: false });
    app.get('/mine', async () => ({ mine: true }));
    await app.register(chronicleHttp, { commandBus: failing(), prefix: '/api', defaultMetrics: false });
    try {
      expect((await app.inject({ method: 'GET', url: '/mine' })).json()).toEqual({ mine: true });
      const reply = await app.inject({ method: 'POST', url: '/api/commands/Fail', payload: { code: 'nope' } });
      expect(reply.statusCode).toBe(400);
      expect(reply.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect((await app.inject({ method: 'GET', url: '/api/health' })).statusCode).toBe(200);
      const missing = await app.inject({ method: 'GET', url: '/commands/Fail' });
      expect(missing.statusCode).toBe(404);
      expect(missing.json().code).toBe('ROUTE_NOT_FOUND');
    } finally {
      await app.close();
    }
  });
});

describe('query results on the wire', () => {
  it('are sent exactly as the handler returned them, never coerced to the declared schema', async () => {
    // A handler that strays from its declared result (a value typed away, a NULL column) must not be rewritten
    // into plausible-looking data: a wrong answer is worse than a visibly odd one.
    const Odd = defineQuery('Odd', z.object({}), {
      result: z.object({
        big: z.number().int(),
        ratio: z.number(),
        name: z.string(),
        flag: z.boolean(),
        tags: z.array(z.string()),
      }),
    });
    const stray = { big: '9499049995202979750', ratio: null, name: null, flag: 'false', tags: [{ x: 1 }], extra: 1 };
    const queryBus = createQueryBus().register(Odd, () => stray as never);
    const server = await createServer({ queryBus, logger: false, defaultMetrics: false });
    try {
      const res = await server.inject({ method: 'GET', url: '/queries/Odd' });
      expect(res.statusCode).toBe(200);
      expect(res.body).toBe(JSON.stringify(stray));
    } finally {
      await server.close();
    }
  });
});
