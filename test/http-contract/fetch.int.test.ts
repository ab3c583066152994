// The HTTP contract against the fetch handler (chronicle-es/fetch), mounted in Hono on @hono/node-server.
import { createFetchHandler } from 'chronicle-es/fetch';
import { serveWithHono } from './hono-server.js';
import { describeHttpContract } from './http-contract.js';

describeHttpContract({
  name: 'fetch (Hono on @hono/node-server)',
  async start(app) {
    // #region fetch-handler
    const handler = createFetchHandler({
      commandBus: app.commandBus,
      queryBus: app.queryBus,
      authenticate: app.authenticate,
      notifications: app.notifications,
      events: { positions: app.positions },
    });
    // #endregion fetch-handler
    return serveWithHono(handler);
  },
});
