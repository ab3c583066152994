// The fetch handler called directly with Requests (no socket): what the contract suite does not reach — prefix, 405 with
// Allow, HEAD, the size check before reading, metrics access, readiness, and close() ending open streams.
import { createCommandBus, createQueryBus, defineCommand, defineQuery } from 'chronicle-es';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createApiKeyAuthenticator, createFetchHandler } from './index.js';

const Ping = defineCommand('Ping', z.object({ id: z.string() }));
const GetPing = defineQuery('GetPing', z.object({ id: z.string() }));
const commandBus = createCommandBus().register(Ping, async (c) => ({ streamId: `ping-${c.data.id}`, version: 1, position: 7 }));
const queryBus = createQueryBus().register(GetPing, (p) => ({ id: p.id }));
const authenticate = createApiKeyAuthenticator({ 'admin-key-0123456789': { id: 'a', roles: ['admin'] } });

describe('createFetchHandler', () => {
  it('serves under its prefix only, answers 405 with Allow, and HEAD without a body', async () => {
    const handler = createFetchHandler({ commandBus, queryBus, prefix: '/api' });
    const ok = await handler(new Request('http://x/api/queries/GetPing?id=1'));
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ id: '1' });
    expect((await handler(new Request('http://x/queries/GetPing?id=1'))).status).toBe(404);
    const wrong = await handler(new Request('http://x/api/commands/Ping', { method: 'PUT' }));
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('POST');
    expect(await wrong.json()).toMatchObject({ code: 'METHOD_NOT_ALLOWED' });
    const head = await handler(new Request('http://x/api/health', { method: 'HEAD' }));
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
  });

  it('refuses a declared Content-Length over the limit without reading the body', async () => {
    const handler = createFetchHandler({ commandBus, bodyLimit: 16 });
    let pulled = 0;
    const body = new ReadableStream(
      {
        pull(controller) {
          pulled++;
          controller.enqueue(new TextEncoder().encode('{"id":"a"}'));
          controller.close();
        },
        // Nothing is pulled before someone reads.
      },
      { highWaterMark: 0 },
    );
    const res = await handler(
      new Request('http://x/commands/Ping', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': '100' },
        body,
        duplex: 'half',
      } as RequestInit),
    );
    expect(res.status).toBe(413);
    expect(await res.json()).toMatchObject({ code: 'BODY_TOO_LARGE' });
    expect(pulled).toBe(0);
    const fits = await handler(
      new Request('http://x/commands/Ping', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"id":"a"}',
      }),
    );
    expect(await fits.json()).toEqual({ ok: true, streamId: 'ping-a', version: 1, position: 7 });
  });

  it('serves metrics to the roles given, and readiness as 200 or a 503 problem', async () => {
    let ready = true;
    const handler = createFetchHandler({
      queryBus,
      authenticate,
      metrics: {
        registry: { contentType: 'text/plain', metrics: async () => '# TYPE x counter\n' },
        access: { roles: ['admin'] },
      },
      readiness: () => ({ ready }),
    });
    expect((await handler(new Request('http://x/metrics'))).status).toBe(401);
    const metrics = await handler(new Request('http://x/metrics', { headers: { 'x-api-key': 'admin-key-0123456789' } }));
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toContain('# TYPE x');
    expect((await handler(new Request('http://x/health/ready'))).status).toBe(200);
    ready = false;
    const down = await handler(new Request('http://x/health/ready'));
    expect(down.status).toBe(503);
    expect(await down.json()).toMatchObject({ code: 'UNAVAILABLE', ready: false });
  });

  it('close() ends the open event streams and their subscriptions', async () => {
    const listeners = new Set<unknown>();
    const handler = createFetchHandler({
      queryBus,
      notifications: (listener) => {
        listeners.add(listener);
        return () => listeners.delete(listener);
      },
      events: { public: true },
    });
    const res = await handler(new Request('http://x/events/stream'));
    const reader = res.body!.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toContain(': connected');
    expect(listeners.size).toBe(1);
    handler.close();
    expect((await reader.read()).done).toBe(true);
    expect(listeners.size).toBe(0);
  });
});
