// Runs the Nest slice of the Shop: `node --conditions=chronicle-source --import tsx examples/nest/main.ts`.
import { mkdirSync } from 'node:fs';
import { NestFactory } from '@nestjs/core';
import { createApiKeyAuthenticator } from 'chronicle-es/fetch';
import { ChronicleExceptionFilter } from 'chronicle-es/nest';
import { ShopNestModule } from './app-module.js';

const dataDir = process.env.SHOP_DATA_DIR ?? './data/nest';
mkdirSync(dataDir, { recursive: true });
const authenticate = createApiKeyAuthenticator({
  [process.env.SHOP_ADMIN_KEY ?? 'dev-admin-key']: { id: 'admin', roles: ['admin'] },
});
// No JSON body parser: Chronicle's routes read bodies themselves, after authentication (as chronicle-es/http does).
const app = await NestFactory.create(ShopNestModule.register({ dataDir, authenticate }), { bodyParser: false });
app.useGlobalFilters(new ChronicleExceptionFilter());
app.enableShutdownHooks();
await app.listen(Number(process.env.PORT ?? 3000), '127.0.0.1');
console.log(`Shop on Nest at ${await app.getUrl()}`);
