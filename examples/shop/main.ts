// `npm start`: the Shop as a service. Configured by environment variables; see examples/shop/README.md.
import { loggingMiddleware } from 'chronicle-es';
import { pino } from 'pino';
import { createShop } from './app.js';
import { createShopAuth } from './auth.js';
import { createShopServer } from './server.js';

const env = process.env;
const log = pino({ name: 'shop', level: env.LOG_LEVEL ?? 'info' });

async function main(): Promise<void> {
  const production = env.NODE_ENV === 'production';
  const port = Number(env.PORT ?? 3000);
  const host = env.HOST ?? (production ? '0.0.0.0' : '127.0.0.1');
  const dataDir = env.DATA_DIR ?? './data';
  const role = env.SHOP_ROLE ?? 'all';
  if (role !== 'all' && role !== 'write' && role !== 'read') throw new Error(`SHOP_ROLE must be write, read or all; got ${role}`);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`PORT must be a port number; got ${env.PORT}`);

  const shop = await createShop({
    dataDir,
    role,
    readStorePath: env.READ_STORE_PATH,
    middleware: [loggingMiddleware(log.child({ component: 'bus' }))],
    log: log.child({ component: 'read-side' }),
  });
  const auth = createShopAuth(env, { dataDir });
  const server = await createShopServer(shop, { authenticate: auth.authenticate, serve: role, logger: log });
  await server.listen({ port, host });
  log.info({ port: (server.server.address() as { port: number }).port, host, dataDir, role }, 'shop listening');
  if (auth.demoKeys) {
    log.warn(
      { demoKeys: auth.demoKeys },
      'development mode: demo API keys (send as X-API-Key); set SHOP_API_KEYS to use your own',
    );
  }

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    // Stop taking requests and let those in flight finish, then close the stores.
    const timer = setTimeout(() => {
      log.error('shutdown took too long; exiting');
      process.exit(1);
    }, 10_000);
    timer.unref();
    try {
      await server.close();
      await shop.close();
      log.info('stopped');
      process.exit(0);
    } catch (err) {
      log.error({ err }, 'shutdown failed');
      process.exit(1);
    }
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

main().catch((err) => {
  log.fatal(
    { err: err instanceof Error ? { message: err.message, code: (err as { code?: unknown }).code } : err },
    'failed to start',
  );
  process.exit(1);
});
