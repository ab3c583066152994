// The HTTP contract every adapter (Fastify plugin, fetch handler on Hono's Node server, Nest module) must keep: the
// same statuses and problem bodies, auth, minPosition, OpenAPI and SSE, over a real socket.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ContractApp, createContractApp, KEYS } from './contract-app.js';

/** A served adapter: its base URL and how to stop it. */
export type ContractServer = { url: string; close(): Promise<void> };

/** What the suite asks an adapter for: serve `app` on a real socket (port 0). */
export type ContractTarget = {
  name: string;
  start(app: ContractApp): Promise<ContractServer>;
  /** The adapter has no event stream (Nest serves commands and queries only). */
  noEventStream?: boolean;
};

type Reply = { status: number; headers: Headers; body: any };

/** Registers the contract's tests for one adapter. */
export function describeHttpContract(target: ContractTarget): void {
  describe(`HTTP contract: ${target.name}`, () => {
    let app: ContractApp;
    let server: ContractServer;
    beforeAll(async () => {
      app = createContractApp();
      server = await target.start(app);
    });
    afterAll(() => server?.close());

    let seq = 0;
    const fresh = () => `n${process.pid}-${Date.now().toString(36)}-${++seq}`;
    const call = async (path: string, init: RequestInit = {}): Promise<Reply> => {
      const res = await fetch(server.url + path, init);
      const text = await res.text();
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {}
      return { status: res.status, headers: res.headers, body };
    };
    const send = (name: string, body: unknown, headers: Record<string, string> = { 'x-api-key': KEYS.writer }) =>
      call(`/commands/${name}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      });
    const expectProblem = (reply: Reply, status: number, code: string) => {
      expect(reply.status).toBe(status);
      expect(reply.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(reply.body).toMatchObject({
        status,
        code,
        type: `urn:chronicle:problem:${code.toLowerCase().replaceAll('_', '-')}`,
      });
      expect(reply.body.title).toEqual(expect.any(String));
      expect(reply.body.detail).toEqual(expect.any(String));
      expect(reply.body.correlationId).toBe(reply.headers.get('x-correlation-id'));
    };

    it('200 with the command status, and the client correlation id echoed', async () => {
      const id = fresh();
      const reply = await send('AddNote', { noteId: id, text: 'hello' }, { 'x-api-key': KEYS.writer, 'x-correlation-id': 'c-1' });
      expect(reply.status).toBe(200);
      expect(reply.headers.get('content-type')).toMatch(/^application\/json/);
      expect(reply.headers.get('x-correlation-id')).toBe('c-1');
      expect(reply.body).toEqual({ ok: true, streamId: `note-${id}`, version: 1, position: expect.any(Number) });
    });

    it('400 with the failing fields for a payload the schema refuses', async () => {
      const reply = await send('AddNote', { noteId: '', text: 7 });
      expectProblem(reply, 400, 'VALIDATION_FAILED');
      expect(reply.body.errors).toEqual(
        expect.arrayContaining([
          { path: 'noteId', message: expect.any(String) },
          { path: 'text', message: expect.any(String) },
        ]),
      );
    });

    it('400 for malformed JSON and for a __proto__ key', async () => {
      expectProblem(await send('AddNote', '{"noteId": '), 400, 'MALFORMED_JSON');
      expectProblem(await send('AddNote', '{"__proto__": {"admin": true}, "noteId": "x", "text": "y"}'), 400, 'MALFORMED_JSON');
    });

    it('413 for a body over the limit, 415 for a body that is not JSON', async () => {
      expectProblem(await send('AddNote', { noteId: fresh(), text: 'x'.repeat(2 * 1024 * 1024) }), 413, 'BODY_TOO_LARGE');
      const form = await call('/commands/AddNote', {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-api-key': KEYS.writer },
        body: 'noteId=a&text=b',
      });
      expectProblem(form, 415, 'UNSUPPORTED_MEDIA_TYPE');
    });

    it('401 without credentials and for an unknown key (WWW-Authenticate), 403 for the wrong role, whatever the body', async () => {
      const none = await send('AddNote', { noteId: fresh(), text: 'x' }, {});
      expectProblem(none, 401, 'UNAUTHENTICATED');
      expect(none.headers.get('www-authenticate')).toBe('Bearer');
      const bad = await send('AddNote', '{"noteId": ', { 'x-api-key': 'no-such-key-0123456789' });
      expectProblem(bad, 401, 'UNAUTHENTICATED');
      expect(bad.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
      expectProblem(await send('AddNote', '{"noteId": ', { 'x-api-key': KEYS.reader }), 403, 'FORBIDDEN');
    });

    it('404 for an unknown command or query, and for a route that does not exist', async () => {
      expectProblem(await send('NoSuchCommand', {}), 404, 'UNKNOWN_MESSAGE');
      expectProblem(await call('/queries/NoSuchQuery', { headers: { 'x-api-key': KEYS.writer } }), 404, 'UNKNOWN_MESSAGE');
      expectProblem(await call('/nowhere'), 404, 'ROUTE_NOT_FOUND');
    });

    it('409 for a version conflict, 422 for a business rule, nothing written by either', async () => {
      const id = fresh();
      const first = await send('AddNote', { noteId: id, text: 'first' });
      expect(first.status).toBe(200);
      expectProblem(await send('AddNote', { noteId: id, text: 'second' }), 409, 'CONCURRENCY_CONFLICT');
      const refused = await send('RefuseNote', { noteId: id });
      expectProblem(refused, 422, 'DOMAIN_RULE');
      expect(refused.body.detail).toContain('may not be refused');
      app.project(first.body.position);
      const read = await call(`/queries/GetNote?noteId=${id}`, { headers: { 'x-api-key': KEYS.reader } });
      expect(read).toMatchObject({ status: 200, body: { noteId: id, text: 'first' } });
    });

    it('queries: GET coerces the query string by the schema, POST takes a body, unknown entity is 404', async () => {
      const id = fresh();
      const written = await send('AddNote', { noteId: id, text: 'read me' });
      app.project(written.body.position);
      const get = await call(`/queries/GetNote?noteId=${id}&limit=3`, { headers: { 'x-api-key': KEYS.reader } });
      expect(get).toMatchObject({ status: 200, body: { noteId: id, text: 'read me', limit: 3 } });
      const post = await call('/queries/GetNote', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': KEYS.reader },
        body: JSON.stringify({ noteId: id }),
      });
      expect(post).toMatchObject({ status: 200, body: { noteId: id, limit: null } });
      expectProblem(
        await call(`/queries/GetNote?noteId=${fresh()}`, { headers: { 'x-api-key': KEYS.reader } }),
        404,
        'NOT_FOUND',
      );
      const badLimit = await call(`/queries/GetNote?noteId=${id}&limit=x`, { headers: { 'x-api-key': KEYS.reader } });
      expectProblem(badLimit, 400, 'VALIDATION_FAILED');
      expect(badLimit.body.errors).toEqual([{ path: 'limit', message: expect.any(String) }]);
    });

    it('minPosition: 200 once the read side has passed it, 504 when it does not in the wait, 400 when not a number', async () => {
      const id = fresh();
      const written = await send('AddNote', { noteId: id, text: 'wait for me' });
      const position = written.body.position as number;
      const late = call(`/queries/GetNote?noteId=${id}&minPosition=${position}`, {
        headers: { 'x-api-key': KEYS.reader, 'chronicle-wait-ms': '5000' },
      });
      // The query is waiting on a position the read side has not reached; it answers once it does.
      setTimeout(() => app.project(position), 50);
      expect(await late).toMatchObject({ status: 200, body: { noteId: id, text: 'wait for me' } });
      const timedOut = await call(`/queries/GetNote?noteId=${id}`, {
        headers: { 'x-api-key': KEYS.reader, 'chronicle-min-position': String(position + 1000), 'chronicle-wait-ms': '30' },
      });
      expectProblem(timedOut, 504, 'TIMEOUT');
      expectProblem(
        await call(`/queries/GetNote?noteId=${id}&minPosition=soon`, { headers: { 'x-api-key': KEYS.reader } }),
        400,
        'INVALID_ARGUMENT',
      );
    });

    it('GET /openapi.json describes every registered command and query with the shared problem schema', async () => {
      const reply = await call('/openapi.json');
      expect(reply.status).toBe(200);
      expect(reply.body.openapi).toMatch(/^3\.1/);
      expect(Object.keys(reply.body.paths)).toEqual(
        expect.arrayContaining(['/commands/AddNote', '/commands/RefuseNote', '/queries/GetNote']),
      );
      expect(reply.body.paths['/commands/AddNote'].post.responses).toHaveProperty('409');
      expect(reply.body.components.schemas.Problem).toBeDefined();
      expect(reply.body.components.securitySchemes).toBeDefined();
    });

    if (!target.noEventStream)
      it('GET /events/stream: 401 without a principal, then positions and live changes', async () => {
        expectProblem(await call('/events/stream'), 401, 'UNAUTHENTICATED');
        const controller = new AbortController();
        const res = await fetch(`${server.url}/events/stream`, {
          headers: { 'x-api-key': KEYS.reader },
          signal: controller.signal,
        });
        expect(res.status).toBe(200);
        expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
        const reader = res.body!.getReader();
        const decoder = new TextDecoder();
        let text = '';
        const until = async (needle: string) => {
          while (!text.includes(needle)) {
            const { done, value } = await reader.read();
            if (done) throw new Error(`stream ended before ${needle}: ${text}`);
            text += decoder.decode(value);
          }
        };
        await until(': connected');
        const next = (app.positions()[0]?.position ?? 0) + 1_000_000;
        app.project(next);
        await until(`id: ${next}\nevent: projection\ndata: {"projection":"notes","position":${next}}`);
        controller.abort();
      });
  });
}
