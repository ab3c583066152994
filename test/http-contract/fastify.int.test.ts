// The HTTP contract against the Fastify plugin (chronicle-es/http's createServer).
import { createServer } from 'chronicle-es/http';
import { describeHttpContract } from './http-contract.js';

describeHttpContract({
  name: 'Fastify',
  async start(app) {
    const server = await createServer({
      commandBus: app.commandBus,
      queryBus: app.queryBus,
      authenticate: app.authenticate,
      notifications: app.notifications,
      events: { positions: app.positions },
      logger: false,
      defaultMetrics: false,
    });
    await server.listen({ port: 0, host: '127.0.0.1' });
    const { port } = server.server.address() as { port: number };
    return { url: `http://127.0.0.1:${port}`, close: () => server.close() };
  },
});
