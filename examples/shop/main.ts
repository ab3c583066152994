// `npm start`: the Shop as a service. Configured by environment variables; see examples/shop/README.md.

import { join } from 'node:path';
import { instrumentOpenTelemetry, loggingMiddleware } from 'chronicle-es';
import { logRedaction } from 'chronicle-es/http';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { createShop } from './app.js';
import { createShopAuth } from './auth.js';
import { readShopConfig } from './config.js';
import { createShopServer } from './server.js';
import { demoKeyBlock, prettyStream } from './terminal.js';

const env = process.env;
// Readable lines on a terminal, JSON anywhere else (files, pipes, log collectors); LOG_FORMAT=json|pretty decides.
const pretty = env.LOG_FORMAT === 'pretty' || (env.LOG_FORMAT !== 'json' && process.stdout.isTTY === true);
// At info until the configuration (which checks LOG_LEVEL) is read, so a bad configuration is still reported.
const logOptions = { name: 'shop', level: 'info', redact: logRedaction };
// Log lines and the demo-key block share one stream, so they come out in the order written.
const out = pretty ? prettyStream(process.stdout) : pino.destination({ dest: 1, sync: true });
const log = pino(logOptions, out);

async function main(): Promise<void> {
  const config = readShopConfig(env);
  log.level = config.logLevel;
  // Before anything runs, so every command is spanned; fails the start when @opentelemetry/api is not installed.
  if (config.openTelemetry) await instrumentOpenTelemetry({ tracerName: 'shop' });
  const { role, port, host, opsPort, dataDir, production } = config;
  // Production keeps metrics behind an admin credential unless told they may be scraped openly.
  const metricsAccess = config.metricsPublic || !production ? 'public' : 'admin';

  const shop = await createShop({
    dataDir,
    role,
    readStorePath: config.readStorePath,
    eventStore: config.eventStore,
    readStore: config.readStore,
    redisReadStore: config.redisReadStore,
    jetStream: config.jetStream,
    workerId: config.workerId,
    commandRetries: config.commandRetries,
    paymentTimeoutMs: config.paymentTimeoutMs,
    lowStockThreshold: config.lowStockThreshold,
    middleware: [loggingMiddleware(log.child({ component: 'bus' }))],
    log: log.child({ component: 'read-side' }),
  });
  const auth = createShopAuth(env, { dataDir });
  const metricsRegistry = opsPort === undefined ? undefined : new Registry();
  const common = { authenticate: auth.authenticate, logger: log, metricsAccess, metricsRegistry } as const;
  const server = await createShopServer(shop, {
    ...common,
    serve: role,
    opsElsewhere: opsPort !== undefined,
    console: config.console,
  });
  const ops = opsPort === undefined ? undefined : await createShopServer(shop, { ...common, serve: 'ops' });
  await server.listen({ port, host });
  const stores = {
    ...(shop.eventStore && { events: config.eventStore ? 'postgres' : 'sqlite' }),
    ...((shop.readStore || shop.redisReadStore) && {
      read: config.redisReadStore ? 'redis' : config.readStore ? 'postgres' : 'sqlite',
    }),
  };
  const jetStream = config.jetStream && {
    stream: config.jetStream.stream,
    subjects: `${config.jetStream.subjectPrefix}.>`,
    ...(shop.relay && { relay: shop.relay.name }),
    ...(shop.jetStreamSource && { durable: shop.jetStreamSource.status().durable }),
  };
  log.info(
    {
      port: (server.server.address() as { port: number }).port,
      host,
      dataDir,
      role,
      stores,
      ...(jetStream && { jetStream }),
      ...(config.console && { console: '/console' }),
    },
    'shop listening',
  );
  // A shared environment may give every role the URL; a write node neither relays nor consumes.
  if (config.jetStream && role === 'write')
    log.info('CHRONICLE_NATS_URL is set: the relay runs in SHOP_ROLE=project or all, not in write');
  if (ops) {
    await ops.listen({ port: opsPort, host: config.opsHost });
    log.info({ port: (ops.server.address() as { port: number }).port, host: config.opsHost }, 'ops listening');
  }
  if (auth.demoKeys) {
    const file = join(dataDir, 'demo-keys.json');
    log.warn({ file }, 'development mode: demo API keys printed on stdout; set SHOP_API_KEYS to use your own');
    const block = demoKeyBlock(auth.demoKeys, file);
    out.write(block);
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
      await ops?.close();
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
