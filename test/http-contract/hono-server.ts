// Serves a fetch handler the way a Hono user would: mounted in a Hono app, on @hono/node-server, port 0.
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import type { FetchHandler } from 'chronicle-es/fetch';
import { Hono } from 'hono';

/** A listening Hono app with `handler` mounted at the root; `server` is the Node http server underneath. */
export async function serveWithHono(handler: FetchHandler) {
  // #region hono-mount
  const hono = new Hono();
  // Everything Hono does not route itself goes to Chronicle: the handler answers its own 404s and 405s as problems.
  hono.all('*', (c) => handler(c.req.raw));
  // #endregion hono-mount
  const { server, port } = await new Promise<{ server: ReturnType<typeof serve>; port: number }>((resolve) => {
    const s = serve({ fetch: hono.fetch, port: 0, hostname: '127.0.0.1' }, (info: AddressInfo) =>
      resolve({ server: s, port: info.port }),
    );
  });
  return {
    url: `http://127.0.0.1:${port}`,
    server,
    close: () =>
      new Promise<void>((resolve, reject) => {
        handler.close();
        server.close((err) => (err ? reject(err) : resolve()));
        (server as { closeAllConnections?: () => void }).closeAllConnections?.();
      }),
  };
}
