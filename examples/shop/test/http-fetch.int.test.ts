// The Shop's HTTP tests, every one, against chronicle-es/fetch served by Hono's Node server instead of Fastify.
import { afterAll } from 'vitest';

// Read by startShop in the suite's beforeAll; the worker process may run other files after this one.
process.env.SHOP_TEST_HTTP = 'fetch';
afterAll(() => {
  delete process.env.SHOP_TEST_HTTP;
});
await import('./http.int.test.js');
