// The console over app.inject(): sign-in, escaping of stored values, CSRF and roles on POSTs, clear 4xx pages.
import {
  createCommandBus,
  createInMemoryEventStore,
  createInMemoryReadStore,
  createProjector,
  defineCommand,
  type InMemoryReadTx,
  type Projection,
  type Projector,
} from 'chronicle-es';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createApiKeyAuthenticator } from '../../http-common/index.js';
import { createServer } from '../server.js';
import { consoleEnabled } from './console-options.js';

const ADMIN = 'admin-key-1';
const READER = 'reader-key-1';
const CUSTOMER = 'customer-key-1';
const XSS_SCRIPT = '<script>alert(1)</script>';
const XSS_ATTR = '"><img src=x onerror=alert(2)>';

const Note = defineCommand('Note', z.object({ noteId: z.string().min(1), text: z.string().max(20), count: z.number().int() }));

const open: Array<{ app: FastifyInstance; projector: Projector }> = [];
afterEach(async () => {
  for (const { app, projector } of open.splice(0)) {
    await app.close();
    await projector.stop();
  }
});

async function setup(consoleOverrides: Record<string, unknown> = {}) {
  const eventStore = createInMemoryEventStore();
  const readStore = createInMemoryReadStore();
  const projection: Projection<InMemoryReadTx> = {
    name: 'notes',
    version: 1,
    handlers: { Noted: (event, tx) => tx.table<number>('notes').set(event.streamId, event.position) },
    eventTypes: ['Noted'],
  };
  const projector = createProjector({ eventStore, readStore, projections: [projection] });
  await projector.start();
  const commandBus = createCommandBus().register(Note, async (command) => {
    const result = await eventStore.append(`note-${command.data.noteId}`, [{ type: 'Noted', data: command.data }]);
    return { streamId: result.streamId, version: result.version, position: result.position };
  });
  const authenticate = createApiKeyAuthenticator({
    [ADMIN]: { id: 'ada', roles: ['admin'] },
    [READER]: { id: 'rita', roles: ['reader'] },
    [CUSTOMER]: { id: 'carl', roles: ['customer'] },
  });
  const app = await createServer({
    commandBus,
    authenticate,
    logger: false,
    console: { eventStore, projector, enabled: true, ...consoleOverrides },
  });
  open.push({ app, projector });
  return { app, eventStore, projector };
}

const cookieHeader = (setCookie: string | string[] | undefined) =>
  [setCookie ?? []]
    .flat()
    .map((c) => c.split(';')[0])
    .join('; ');
const csrfOf = (body: string) => /name="_csrf" value="([^"]+)"/.exec(body)?.[1] ?? '';

async function signIn(app: FastifyInstance, key: string) {
  const form = await app.inject({ method: 'GET', url: '/console/login' });
  const response = await app.inject({
    method: 'POST',
    url: '/console/login',
    headers: { cookie: cookieHeader(form.headers['set-cookie']), 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ _csrf: csrfOf(form.body), key }).toString(),
  });
  const session = [response.headers['set-cookie'] ?? []].flat().find((c) => c.startsWith('chronicle_console='));
  return { response, cookie: session ? session.split(';')[0] : '' };
}

const get = (app: FastifyInstance, url: string, cookie: string) => app.inject({ method: 'GET', url, headers: { cookie } });
const post = (app: FastifyInstance, url: string, cookie: string, fields: Record<string, string>) =>
  app.inject({
    method: 'POST',
    url,
    headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams(fields).toString(),
  });

describe('console: sign-in and session', () => {
  it('sends a visitor to sign in, refuses a bad key, and keeps a good one in an HttpOnly SameSite=Strict cookie', async () => {
    const { app } = await setup();
    const first = await app.inject({ method: 'GET', url: '/console' });
    expect(first.statusCode).toBe(303);
    expect(first.headers.location).toBe('/console/login');
    const bad = await signIn(app, 'wrong-key');
    expect(bad.response.statusCode).toBe(401);
    expect(bad.response.body).toContain('That API key is not valid.');
    const customer = await signIn(app, CUSTOMER);
    expect(customer.response.statusCode).toBe(403);
    const { response, cookie } = await signIn(app, ADMIN);
    expect(response.statusCode).toBe(303);
    const setCookie = [response.headers['set-cookie']].flat().find((c) => c?.startsWith('chronicle_console='));
    expect(setCookie).toMatch(/HttpOnly/);
    expect(setCookie).toMatch(/SameSite=Strict/);
    expect(setCookie).toMatch(/Path=\/console/);
    expect(setCookie).not.toMatch(/Secure/);
    const overview = await get(app, '/console', cookie);
    expect(overview.statusCode).toBe(200);
    expect(overview.body).toContain('ada (admin)');
    expect(overview.headers['content-security-policy']).toContain("script-src 'self'");
    expect(overview.headers['content-security-policy']).not.toContain('unsafe-inline');
    expect(overview.headers['x-frame-options']).toBe('DENY');
  });

  it('refuses a sign-in POST without the form token', async () => {
    const { app } = await setup();
    const response = await post(app, '/console/login', '', { key: ADMIN });
    expect(response.statusCode).toBe(403);
    expect(response.headers['set-cookie']?.toString() ?? '').not.toContain('chronicle_console=admin');
  });
});

describe('console: stored values render as text', () => {
  it('escapes event data, metadata and stream ids on the stream, event and streams pages', async () => {
    const { app, eventStore } = await setup();
    const streamId = `xss-${XSS_ATTR}`;
    await eventStore.append(streamId, [
      { type: 'Noted', data: { text: XSS_SCRIPT, other: XSS_ATTR }, metadata: { correlationId: XSS_SCRIPT } },
    ]);
    const [event] = await eventStore.readStream(streamId);
    const { cookie } = await signIn(app, READER);
    for (const url of [
      `/console/streams/${encodeURIComponent(streamId)}`,
      `/console/events/${event.id}`,
      '/console/streams?category=xss',
    ]) {
      const page = await get(app, url, cookie);
      expect(page.statusCode, url).toBe(200);
      expect(page.body, url).not.toContain('<script>alert');
      expect(page.body, url).not.toContain('<img src=x');
      expect(page.body, url).toContain('&lt;img src=x onerror=alert(2)&gt;');
    }
    const eventPage = await get(app, `/console/events/${event.id}`, cookie);
    expect(eventPage.body).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
  });
});

describe('console: projections, CSRF and roles', () => {
  it('shows admin actions to an admin only, and refuses them server-side to a reader', async () => {
    const { app } = await setup();
    const reader = await signIn(app, READER);
    const asReader = await get(app, '/console/projections/notes', reader.cookie);
    expect(asReader.statusCode).toBe(200);
    expect(asReader.body).not.toContain('/confirm/rebuild');
    expect((await get(app, '/console/projections/notes/confirm/rebuild', reader.cookie)).statusCode).toBe(403);
    const readerCsrf = csrfOf(asReader.body);
    const refused = await post(app, '/console/projections/notes/rebuild', reader.cookie, { _csrf: readerCsrf });
    expect(refused.statusCode).toBe(403);
    expect(refused.body).toContain('only the roles admin');

    const admin = await signIn(app, ADMIN);
    const asAdmin = await get(app, '/console/projections/notes', admin.cookie);
    expect(asAdmin.body).toContain('/console/projections/notes/confirm/rebuild');
    const confirm = await get(app, '/console/projections/notes/confirm/rebuild', admin.cookie);
    expect(confirm.body).toContain('Confirm rebuild');
    const noToken = await post(app, '/console/projections/notes/rebuild', admin.cookie, {});
    expect(noToken.statusCode).toBe(403);
    expect(noToken.body).toContain('CSRF token');
    // A token of another session does not do either.
    const foreign = await post(app, '/console/projections/notes/rebuild', admin.cookie, { _csrf: readerCsrf });
    expect(foreign.statusCode).toBe(403);
    const done = await post(app, '/console/projections/notes/rebuild', admin.cookie, { _csrf: csrfOf(confirm.body) });
    expect(done.statusCode).toBe(303);
    expect(done.headers.location).toBe('/console/projections/notes?done=rebuild');
  });

  it('a JSON POST is not a form: 415, nothing done', async () => {
    const { app } = await setup();
    const admin = await signIn(app, ADMIN);
    const response = await app.inject({
      method: 'POST',
      url: '/console/projections/notes/rebuild',
      headers: { cookie: admin.cookie, 'content-type': 'application/json' },
      payload: '{}',
    });
    expect(response.statusCode).toBe(415);
    expect(response.headers['content-type']).toContain('text/html');
  });
});

describe('console: bad input gets a clear 4xx page', () => {
  it('answers unknown streams, events, projections and pages with 404 and a bad cursor with 400', async () => {
    const { app, eventStore } = await setup();
    await eventStore.append('note-1', [{ type: 'Noted', data: {} }]);
    const { cookie } = await signIn(app, READER);
    const cases: Array<[string, number, string]> = [
      ['/console/streams/no-such-stream', 404, 'no stream'],
      ['/console/streams/note-1?before=abc', 400, 'before must be a version'],
      ['/console/streams/note-1?before=0', 400, 'before must be a version'],
      ['/console/streams?limit=5&after=', 200, 'Streams'],
      ['/console/streams?category=a&category=b', 400, 'category must be given once'],
      ['/console/events/no-such-event', 404, 'no event with id'],
      ['/console/projections/no-such', 404, 'no projection named'],
      ['/console/projections/notes/confirm/explode', 403, 'only the roles admin'],
      ['/console/nothing-here', 404, 'no console page'],
      ['/console/messages/queries/Nope', 404, 'no query named'],
    ];
    for (const [url, status, text] of cases) {
      const response = await get(app, url, cookie);
      expect([url, response.statusCode], response.body.slice(0, 300)).toEqual([url, status]);
      expect(response.headers['content-type'], url).toContain('text/html');
      expect(response.body, url).toContain(text);
    }
  });
});

describe('console: messages', () => {
  it('sends a command from its form with the signed-in principal, and shows the problem details of an invalid one', async () => {
    const { app, eventStore } = await setup();
    const { cookie } = await signIn(app, ADMIN);
    const pageBody = (await get(app, '/console/messages', cookie)).body;
    expect(pageBody).toContain('name="count"');
    const csrf = csrfOf(pageBody);
    const invalid = await post(app, '/console/messages/commands/Note', cookie, {
      _csrf: csrf,
      noteId: 'n1',
      text: 'x',
      count: 'many',
    });
    expect(invalid.statusCode).toBe(400);
    expect(invalid.body).toContain('VALIDATION_FAILED');
    expect(invalid.body).toContain('count');
    const ok = await post(app, '/console/messages/commands/Note', cookie, { _csrf: csrf, noteId: 'n1', text: 'hi', count: '3' });
    expect(ok.statusCode).toBe(200);
    expect(ok.body).toContain('note-n1');
    const [written] = await eventStore.readStream('note-n1');
    expect(written.data).toEqual({ noteId: 'n1', text: 'hi', count: 3 });
    const noToken = await post(app, '/console/messages/commands/Note', cookie, { noteId: 'n2', text: 'hi', count: '3' });
    expect(noToken.statusCode).toBe(403);
    expect(await eventStore.readStream('note-n2')).toEqual([]);
  });
});

describe('console: where it is served', () => {
  it('is on unless NODE_ENV is production, where it is opt-in', () => {
    const options = { eventStore: createInMemoryEventStore() };
    expect(consoleEnabled(options, { NODE_ENV: 'development' })).toBe(true);
    expect(consoleEnabled(options, {})).toBe(true);
    expect(consoleEnabled(options, { NODE_ENV: 'production' })).toBe(false);
    expect(consoleEnabled({ ...options, enabled: true }, { NODE_ENV: 'production' })).toBe(true);
    expect(consoleEnabled(false, {})).toBe(false);
    expect(consoleEnabled(undefined, {})).toBe(false);
  });

  it('refuses to start without an authenticator, an inspectable store or a sane live interval', async () => {
    const eventStore = createInMemoryEventStore();
    await expect(createServer({ logger: false, console: { eventStore, enabled: true } })).rejects.toThrow('needs `authenticate`');
    const authenticate = createApiKeyAuthenticator({ [ADMIN]: { id: 'ada', roles: ['admin'] } });
    const { inspector: _, ...plain } = eventStore;
    await expect(createServer({ logger: false, authenticate, console: { eventStore: plain, enabled: true } })).rejects.toThrow(
      'an event store with an inspector',
    );
    await expect(
      createServer({ logger: false, authenticate, console: { eventStore, enabled: true, liveIntervalMs: 5 } }),
    ).rejects.toThrow('liveIntervalMs');
  });

  it('serves nothing at /console when disabled', async () => {
    const { app } = await setup({ enabled: false });
    expect((await app.inject({ method: 'GET', url: '/console/login' })).statusCode).toBe(404);
  });
});
