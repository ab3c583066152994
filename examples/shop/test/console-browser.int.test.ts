// The web console in headless Chromium against a real Shop process (main.ts, as `npm start` runs it) on a real socket
// over real SQLite files, seeded with the demo data. Each test saves screenshots under test-results/console/<test>/.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSqliteEventStore } from 'chronicle-es/sqlite';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ShopProcess, startShopProcess } from './shop-process.js';

const CHROMIUM = '/usr/bin/chromium';
const ADMIN = 'console-admin-key-0123456789';
const READER = 'console-reader-key-0123456789';
const SHOTS = join(process.cwd(), 'test-results', 'console');
const available = existsSync(CHROMIUM);
if (!available && process.env.CI === 'true')
  throw new Error(`${CHROMIUM} is missing: .ci/run installs it (apt-get install chromium)`);
if (!available) console.warn(`skipping the console browser tests: ${CHROMIUM} is not installed`);

let dataDir = '';
let profile = '';
let shop: ShopProcess | undefined;
let context: BrowserContext | undefined;

async function run(child: ChildProcess): Promise<void> {
  const output: string[] = [];
  child.stdout?.on('data', (d) => output.push(String(d)));
  child.stderr?.on('data', (d) => output.push(String(d)));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`seed exited with ${code}: ${output.join('')}`);
}

async function screenshot(page: Page, test: string, name: string): Promise<void> {
  const dir = join(SHOTS, test);
  mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: join(dir, `${name}.png`), fullPage: true });
}

// Messages the browser logged that the console's CSP blocked something (htmx or the page would then be broken).
const cspViolations: string[] = [];
function watched(page: Page): Page {
  page.on('console', (message) => {
    if (message.type() === 'error' && /Content Security Policy/i.test(message.text())) {
      cspViolations.push(`${page.url()}: ${message.text()}`);
    }
  });
  return page;
}

async function signedIn(key: string): Promise<Page> {
  const page = watched(await (context as BrowserContext).newPage());
  await page.goto(`${shop?.url}/console/login`);
  await page.fill('#key', key);
  await page.click('button[type=submit]');
  await page.waitForSelector('h1:text-is("Overview")');
  return page;
}

// Reloads until `check` passes (what a process writes shows up on the next page view).
async function reloadUntil(page: Page, check: () => Promise<boolean>, what: string, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 300));
    await page.reload();
  }
}

const command = (name: string, body: unknown) =>
  fetch(`${shop?.url}/commands/${name}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': ADMIN },
    body: JSON.stringify(body),
  });

describe.skipIf(!available)('console in a browser', () => {
  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'console-shop-'));
    profile = mkdtempSync(join(tmpdir(), 'console-chromium-'));
    await run(
      spawn(process.execPath, ['--conditions=chronicle-source', '--import', 'tsx', 'examples/shop/seed.ts'], {
        env: { ...process.env, DATA_DIR: dataDir, NODE_ENV: 'development', LOG_LEVEL: 'warn' },
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
    );
    shop = await startShopProcess({
      dataDir,
      adminKey: ADMIN,
      env: { SHOP_API_KEYS: `${ADMIN}:admin,${READER}:reader` },
    });
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1100, height: 760 },
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  }, 120_000);

  afterAll(async () => {
    await context?.close();
    if (shop && shop.child.exitCode === null) {
      shop.child.kill('SIGTERM');
      await new Promise((r) => shop?.child.once('exit', r));
    }
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(profile, { recursive: true, force: true });
  });

  it('signs in with an API key and shows the overview of the seeded store', async () => {
    const page = watched(await (context as BrowserContext).newPage());
    await page.goto(`${shop?.url}/console`);
    expect(new URL(page.url()).pathname).toBe('/console/login');
    await page.fill('#key', 'not-a-key-of-this-shop');
    await page.click('button[type=submit]');
    await expect.poll(() => page.textContent('#login-error')).toContain('not valid');
    await page.fill('#key', ADMIN);
    await page.click('button[type=submit]');
    await page.waitForSelector('h1:text-is("Overview")');
    expect(Number(await page.textContent('#stat-events'))).toBeGreaterThan(50);
    expect(await page.textContent('header')).toContain('(admin)');
    // Live: the chart is there and the SSE updates replace the fragment (its time stamp moves).
    await page.waitForSelector('svg.chart');
    const stamp = await page.textContent('#live p.muted:last-child');
    await expect.poll(() => page.textContent('#live p.muted:last-child'), { timeout: 10_000 }).not.toBe(stamp);
    await screenshot(page, 'sign-in', 'overview');
    if (process.env.CONSOLE_DOCS_SCREENSHOT === '1') {
      await page.screenshot({ path: join(process.cwd(), 'docs', 'console-overview.png') });
    }
    await page.close();
  });

  it('browses a stream to an event and follows its causation link', async () => {
    const page = await signedIn(ADMIN);
    await page.goto(`${shop?.url}/console/streams?category=shipment`);
    // The fulfilment process allocates shipments for the paid orders once the Shop's projector has run.
    await reloadUntil(
      page,
      async () => (await page.locator('table a[href^="/console/streams/shipment-"]').count()) > 0,
      'a shipment',
    );
    await screenshot(page, 'causation', 'streams');
    await page.locator('table a[href^="/console/streams/shipment-"]').first().click();
    await page.waitForSelector('h1:has-text("Stream shipment-")');
    await page.locator('article.event a:text-is("ShipmentAllocated")').first().click();
    await page.waitForSelector('h1:text-is("Event ShipmentAllocated")');
    await screenshot(page, 'causation', 'event');
    await page.click('a.causation');
    await page.waitForSelector('h1:text-is("Event OrderPaid")');
    // The paid order lists the allocation among what it caused.
    expect(await page.textContent('ol.effects')).toContain('ShipmentAllocated');
    await screenshot(page, 'causation', 'cause');
    await page.close();
  });

  it("shows a failed projection's lag grow with each command, live, and skips the failing event", async () => {
    // Another writer on the same file, as a second process would be: an event the customers projection cannot apply.
    const writer = createSqliteEventStore({ path: join(dataDir, 'events.db') });
    await writer.append('customer-broken', [{ type: 'CustomerRegistered', data: { customerId: 'broken' } }]);
    await writer.close();
    const page = await signedIn(ADMIN);
    const row = page.locator('tr[data-projection="customers"]');
    await reloadUntil(
      page,
      async () => (await row.locator('td.state').textContent())?.includes('failed') === true,
      'the failure',
    );
    const lagBefore = Number(await row.locator('td.lag-events').textContent());
    for (let i = 0; i < 3; i++) {
      const res = await command('CreateProduct', {
        productId: `lag-probe-${i}`,
        sku: `LAG-PROBE-${i}`,
        name: `Lag probe ${i}`,
        priceCents: 100,
        currency: 'EUR',
      });
      expect(res.status).toBe(200);
    }
    // No reload: the overview's SSE stream brings the new lag.
    await expect
      .poll(async () => Number(await row.locator('td.lag-events').textContent()), { timeout: 15_000 })
      .toBeGreaterThanOrEqual(lagBefore + 3);
    await screenshot(page, 'lag', 'failed-lagging');
    await page.goto(`${shop?.url}/console/projections/customers`);
    expect(await page.textContent('#progress')).toContain('failed');
    await page.click('a.action[href$="/confirm/skip"]');
    await page.click('button:text-is("Confirm skip")');
    await page.waitForSelector('p.ok');
    await page.goto(`${shop?.url}/console/projections`);
    await reloadUntil(page, async () => (await row.locator('td.state').textContent())?.includes('live') === true, 'live again');
    expect(Number(await row.locator('td.lag-events').textContent())).toBe(0);
    await screenshot(page, 'lag', 'skipped-live');
    await page.close();
  });

  it('rebuilds a projection and watches its progress reach live', async () => {
    // Enough events for the catalog that its rebuild takes a while: the page must follow it without a reload.
    const writer = createSqliteEventStore({ path: join(dataDir, 'events.db') });
    for (let batch = 0; batch < 30; batch++) {
      const events = Array.from({ length: 1000 }, () => ({
        type: 'ProductPriceChanged',
        data: { productId: 'espresso-blend', priceCents: 1190 },
      }));
      await writer.append('pricefeed-espresso', events);
    }
    await writer.close();
    const page = await signedIn(ADMIN);
    await page.goto(`${shop?.url}/console/projections/catalog`);
    await reloadUntil(
      page,
      async () =>
        (await page.getAttribute('#progress', 'data-state')) === 'live' &&
        (await page.textContent('#progress .lag-events')) === '0',
      'the catalog caught up',
      60_000,
    );
    await page.click('a.action[href$="/confirm/rebuild"]');
    await page.waitForSelector('h1:text-is("Rebuild catalog?")');
    await screenshot(page, 'rebuild', 'confirm');
    await page.click('button:text-is("Confirm rebuild")');
    await page.waitForSelector('p.ok:has-text("rebuild requested")');
    expect(await page.getAttribute('#progress', 'data-running')).toBe('true');
    // htmx polls the progress block every second: the bar moves, then the block says live once the swap is done.
    const seen = new Set<string>();
    const end = Date.now() + 60_000;
    while ((await page.getAttribute('#progress', 'data-running')) !== 'false') {
      if (Date.now() > end) throw new Error('the rebuild did not reach live in 60 s');
      const position = await page
        .locator('#progress .rebuild-position')
        .textContent({ timeout: 100 })
        .catch(() => null);
      if (position !== null && !seen.has(position)) {
        seen.add(position);
        if (seen.size === 1) await screenshot(page, 'rebuild', 'progress');
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(await page.getAttribute('#progress', 'data-state')).toBe('live');
    expect(await page.textContent('#progress')).toContain('Live at position');
    console.log(`rebuild positions the page showed: ${[...seen].join(', ')}`);
    await screenshot(page, 'rebuild', 'live');
    // The rebuilt catalog answers: a product of the seed is there.
    const res = await fetch(`${shop?.url}/queries/ListAllProducts?search=espresso`, { headers: { 'x-api-key': ADMIN } });
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('espresso-blend');
    await page.close();
  });

  it('sends a command from its generated form and shows the problem details of an invalid one', async () => {
    const page = await signedIn(ADMIN);
    await page.goto(`${shop?.url}/console/messages`);
    const form = page.locator('#command-CreateProduct form');
    await form.locator('[name=productId]').fill('console-mug');
    await form.locator('[name=sku]').fill('not a sku');
    await form.locator('[name=name]').fill('Console mug');
    await form.locator('[name=priceCents]').fill('twelve');
    await form.locator('[name=currency]').fill('EUR');
    await form.locator('button[type=submit]').click();
    await page.waitForSelector('#command-CreateProduct #outcome.problem');
    const problem = await page.textContent('#command-CreateProduct #outcome');
    expect(problem).toContain('400');
    expect(problem).toContain('VALIDATION_FAILED');
    expect(problem).toContain('priceCents');
    await screenshot(page, 'messages', 'invalid');
    const again = page.locator('#command-CreateProduct form');
    await again.locator('[name=sku]').fill('MUG-CON-350');
    await again.locator('[name=priceCents]').fill('1200');
    await again.locator('button[type=submit]').click();
    await page.waitForSelector('#command-CreateProduct #outcome.ok');
    expect(await page.textContent('#command-CreateProduct #outcome')).toContain('product-console-mug');
    await screenshot(page, 'messages', 'sent');
    await page.close();
  });

  it('shows a reader no admin action and refuses a forged POST without the CSRF token', async () => {
    const page = await signedIn(READER);
    expect(await page.textContent('header')).toContain('(reader)');
    await page.goto(`${shop?.url}/console/projections/catalog`);
    expect(await page.locator('a.action').count()).toBe(0);
    await screenshot(page, 'reader', 'projection');
    const forged = await page.evaluate(async () => {
      const res = await fetch('/console/projections/catalog/rebuild', {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'confirm=yes',
      });
      return { status: res.status, text: await res.text() };
    });
    expect(forged.status).toBe(403);
    expect(forged.text).toContain('CSRF token');
    // The confirmation page is refused to a reader on the server too, whatever the links show.
    const confirm = await page.goto(`${shop?.url}/console/projections/catalog/confirm/rebuild`);
    expect(confirm?.status()).toBe(403);
    await screenshot(page, 'reader', 'refused');
    await page.close();
  });

  // Last, over every page the tests above opened: htmx and the console's script ran without a blocked script or style.
  it('broke no rule of the Content-Security-Policy on any page', () => {
    expect(cspViolations).toEqual([]);
  });
});
