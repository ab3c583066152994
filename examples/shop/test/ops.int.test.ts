// Operating the Shop: an ops listener for metrics and the change stream, readiness, and what a development start prints.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Registry } from 'prom-client';
import { afterAll, describe, expect, it } from 'vitest';
import { createShop } from '../app.js';
import { createShopAuth } from '../auth.js';
import { createShopServer } from '../server.js';

const dirs: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'shop-ops-'));
  dirs.push(dir);
  return dir;
};
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const ADMIN = 'ops-admin-key-0123456789';

describe('an ops listener', () => {
  it('serves metrics (admin only) and the change stream; the main server serves neither', async () => {
    const dataDir = tempDir();
    const shop = await createShop({ dataDir, pollIntervalMs: 20 });
    const { authenticate } = createShopAuth({ SHOP_API_KEYS: `${ADMIN}:admin` }, { dataDir });
    const metricsRegistry = new Registry();
    const main = await createShopServer(shop, { authenticate, logger: false, opsElsewhere: true, metricsRegistry });
    const ops = await createShopServer(shop, { authenticate, logger: false, serve: 'ops', metricsRegistry });
    try {
      const admin = { 'x-api-key': ADMIN };
      const created = await main.inject({
        method: 'POST',
        url: '/commands/CreateProduct',
        headers: admin,
        payload: { productId: 'ops', sku: 'OPS', name: 'Ops', priceCents: 1, currency: 'EUR' },
      });
      expect(created.statusCode).toBe(200);
      expect((await main.inject({ method: 'GET', url: '/metrics', headers: admin })).statusCode).toBe(404);
      expect((await main.inject({ method: 'GET', url: '/events/stream', headers: admin })).statusCode).toBe(404);
      expect((await ops.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(401);
      const scraped = await ops.inject({ method: 'GET', url: '/metrics', headers: admin });
      expect(scraped.statusCode).toBe(200);
      expect(scraped.body).toMatch(/chronicle_http_requests_total\{method="POST",route="\/commands\/:name",status="200"\} 1/);
      expect(scraped.body).toContain('chronicle_projection_position{projection="catalog"}');
      expect((await ops.inject({ method: 'GET', url: '/events/stream' })).statusCode).toBe(401);
      expect((await ops.inject({ method: 'POST', url: '/commands/CreateProduct', headers: admin, payload: {} })).statusCode).toBe(
        404,
      );

      // Readiness follows the stores: a read store that cannot answer makes both listeners say not ready.
      expect((await ops.inject({ method: 'GET', url: '/health/ready' })).statusCode).toBe(200);
      await shop.readStore!.close();
      const notReady = await main.inject({ method: 'GET', url: '/health/ready' });
      expect(notReady.statusCode).toBe(503);
      expect(notReady.json().checks.read).toEqual({ ok: false, error: expect.any(String) });
      expect((await main.inject({ method: 'GET', url: '/health' })).statusCode).toBe(200);
    } finally {
      await main.close();
      await ops.close();
      await shop.projector?.stop();
      await shop.eventStore.close();
    }
  });
});

describe('npm start in development', () => {
  it('prints the demo keys as a block on stdout, logs JSON when stdout is no terminal, and opens OPS_PORT', async () => {
    const dataDir = tempDir();
    const env: NodeJS.ProcessEnv = { ...process.env, PORT: '0', OPS_PORT: '0', DATA_DIR: dataDir, NODE_ENV: 'development' };
    delete env.SHOP_API_KEYS;
    delete env.SHOP_JWT_SECRET;
    delete env.LOG_FORMAT;
    const child = spawn(process.execPath, ['--conditions=chronicle-source', '--import', 'tsx', 'examples/shop/main.ts'], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      const lines: string[] = [];
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no demo keys in 20 s: ${lines.join('\n')}`)), 20_000);
        child.once('exit', (code) => reject(new Error(`exited with ${code}: ${lines.join('\n')}`)));
        createInterface({ input: child.stdout! }).on('line', (line) => {
          lines.push(line);
          if (/^ {2}reader +\S+$/.test(line)) {
            clearTimeout(timer);
            resolve();
          }
        });
      });
      const keys = JSON.parse(readFileSync(join(dataDir, 'demo-keys.json'), 'utf8')) as Record<string, string>;
      for (const [role, key] of Object.entries(keys)) expect(lines).toContain(`  ${role.padEnd(8)}  ${key}`);
      const logs = lines.filter((line) => line.startsWith('{')).map((line) => JSON.parse(line));
      expect(logs.map((l) => l.msg)).toEqual(expect.arrayContaining(['shop listening', 'ops listening']));
      // The keys are on stdout for the developer, not in the log.
      expect(JSON.stringify(logs)).not.toContain(keys.admin);
      const ops = logs.find((l) => l.msg === 'ops listening');
      // Development: metrics are open, the change stream needs a key.
      expect((await fetch(`http://127.0.0.1:${ops.port}/metrics`)).status).toBe(200);
      expect((await fetch(`http://127.0.0.1:${ops.port}/events/stream`)).status).toBe(401);
    } finally {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
    }
  });
});
