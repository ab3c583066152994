// `bench:http`'s Nest subject: examples/nest's module over the bench's data directory (not projecting: the Fastify
// Shop of the same run does), with the module's HTTP routes on the express platform at PORT.
import { NestFactory } from '@nestjs/core';
import { createApiKeyAuthenticator } from 'chronicle-es/fetch';
import { ChronicleExceptionFilter } from 'chronicle-es/nest';
import { ShopNestModule } from '../examples/nest/app-module.js';
import { ADMIN_KEY } from './http-servers.js';

const authenticate = createApiKeyAuthenticator({ [ADMIN_KEY]: { id: 'bench', roles: ['admin'] } });
const app = await NestFactory.create(
  ShopNestModule.register({ dataDir: process.env.DATA_DIR ?? './data', authenticate, project: false }),
  {
    bodyParser: false,
    logger: ['warn', 'error'],
  },
);
app.useGlobalFilters(new ChronicleExceptionFilter());
app.enableShutdownHooks();
await app.listen(Number(process.env.PORT), '127.0.0.1');
