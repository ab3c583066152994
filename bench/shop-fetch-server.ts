// `bench:http`'s fetch subject: a read-role Shop over the bench's data directory, served by chronicle-es/fetch on
// @hono/node-server at PORT (the queries only; the Fastify Shop of the same run does the writing and projecting).
import { serve } from '@hono/node-server';
import { createApiKeyAuthenticator } from 'chronicle-es/fetch';
import { createShop } from '../examples/shop/app.js';
import { createShopFetchHandler } from '../examples/shop/fetch-server.js';
import { ADMIN_KEY } from './http-servers.js';

const shop = await createShop({ dataDir: process.env.DATA_DIR ?? './data', role: 'read' });
const handler = await createShopFetchHandler(shop, {
  authenticate: createApiKeyAuthenticator({ [ADMIN_KEY]: { id: 'bench', roles: ['admin'] } }),
});
const server = serve({ fetch: handler, port: Number(process.env.PORT), hostname: '127.0.0.1' });
process.once('SIGTERM', () => {
  handler.close();
  server.close(() => void shop.close().then(() => process.exit(0)));
});
