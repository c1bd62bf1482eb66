import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import { type BrowserContext, chromium, type Locator } from 'playwright-core';
import { isCI } from '../helpers/ci.ts';
import type { TestGateway } from '../helpers/gateway.ts';
import {
  ADMIN_PASSWORD,
  ADMIN_USER,
  type AdminClient,
  adminClient,
  createKey,
  startTenancyGateway,
} from '../tenancy/helpers.ts';

/**
 * The "done means" walkthrough in a real headless Chromium (Debian's `chromium`, driven by playwright-core):
 * call the gateway with the OpenAI SDK, open the dashboard link from the response header, see the chart,
 * switch the preset to cheapest, and check that the next API call is routed to the cheaper model.
 * Screenshots go to artifacts/screenshots/ (git-ignored; CI uploads them).
 */
const CHROMIUM = process.env.MODRO_CHROMIUM ?? '/usr/bin/chromium';
const SHOTS = new URL('../../artifacts/screenshots/', import.meta.url).pathname;
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

if (!existsSync(CHROMIUM)) {
  if (isCI()) {
    test('Chromium is installed (required in CI)', () => {
      assert.fail(`${CHROMIUM} not found: run scripts/ensure-chromium.sh (apt-get install chromium)`);
    });
  } else {
    // A skipped test (not only a skipped suite) so the run's summary counts it.
    const reason = `Chromium not found at ${CHROMIUM}: install it (scripts/ensure-chromium.sh or apt-get install chromium) to run the browser tests. In CI (CI set, not false/0) this fails instead.`;
    test('dashboard in headless Chromium', { skip: reason }, () => {});
  }
} else {
  browserSuite();
}

function browserSuite(): void {
  describe('dashboard in headless Chromium', () => {
    let gw: TestGateway;
    let admin: AdminClient;
    let context: BrowserContext;
    let profile: string;
    let client: OpenAI;

    before(async () => {
      mkdirSync(SHOTS, { recursive: true });
      gw = await startTenancyGateway();
      admin = await adminClient(gw);
      await admin.json('POST', '/admin/api/tenants', { id: 'acme', name: 'Acme Inc.' });
      const { key } = await createKey(admin, 'acme', { name: 'walkthrough' });
      client = new OpenAI({ baseURL: gw.baseURL, apiKey: key, maxRetries: 0 });
      profile = mkdtempSync(join(tmpdir(), 'modro-chromium-'));
      context = await chromium.launchPersistentContext(profile, {
        executablePath: CHROMIUM,
        args: ARGS,
        headless: true,
        viewport: { width: 1360, height: 900 },
        colorScheme: 'light',
      });
    });
    after(async () => {
      await context?.close();
      if (profile) rmSync(profile, { recursive: true, force: true });
      await gw?.close();
    });

    async function ask(): Promise<{ model: string | null; link: string | null }> {
      const { response } = await client.chat.completions
        .create({ model: 'fast', messages: [{ role: 'user', content: 'Say hello' }] })
        .withResponse();
      return {
        model: response.headers.get('x-model-router-model'),
        link: response.headers.get('x-client-dashboard-url'),
      };
    }

    test('open the link from a response, see the chart, switch to cheapest, next call goes to the cheaper model', async () => {
      const first = await ask();
      assert.equal(first.model, 'demo/demo-fast', 'balanced: the fast tier’s own model');
      assert.ok(first.link);
      await ask();
      await gw.runtime.usage.flush();

      const page = await context.newPage();
      const response = await page.goto(first.link);
      assert.equal(response?.status(), 200);
      assert.equal(new URL(page.url()).pathname, '/client', 'redirected to a clean URL');
      assert.equal(new URL(page.url()).search, '');
      const cookies = await context.cookies(`${gw.url}/client`);
      const session = cookies.find((c) => c.name === 'modro_client');
      assert.ok(session?.httpOnly && session.sameSite === 'Lax');

      const chart = page.locator('svg[aria-label="Spend over time"]');
      await chart.waitFor({ state: 'visible' });
      assert.ok((await chart.locator('rect.bar').count()) >= 1, 'the spend chart has a bar');
      assert.ok((await page.locator('svg[aria-label="Requests over time"] rect.bar').count()) >= 1);
      assert.match(await text(page.locator('#recent')), /fast → demo\/demo-fast/);
      await page.screenshot({ path: join(SHOTS, 'client-overview.png'), fullPage: true });

      await page.getByRole('link', { name: 'Routing settings' }).click();
      await page.waitForURL('**/client/settings');
      await page.locator('label.preset', { hasText: 'Cheapest' }).click();
      assert.equal(await page.locator('input[name=preset][value=cheapest]').isChecked(), true);
      await page.screenshot({ path: join(SHOTS, 'client-settings.png'), fullPage: true });
      await page.getByRole('button', { name: 'Save settings' }).click();
      await page.waitForURL('**/client/settings?saved=1');
      assert.match(await text(page.locator('[role=status]')), /Saved/);
      assert.match(await text(page.locator('[data-tier=fast]')), /demo\/demo-utility/);
      await page.screenshot({ path: join(SHOTS, 'client-settings-saved.png'), fullPage: true });

      const next = await ask();
      assert.equal(next.model, 'demo/demo-utility', 'the next call is routed by the cheapest preset');

      await gw.runtime.usage.flush();
      await page.goto(`${gw.url}/client`);
      assert.match(await text(page.locator('#recent')), /fast → demo\/demo-utility/);
      await page.setViewportSize({ width: 390, height: 844 });
      await page.screenshot({ path: join(SHOTS, 'client-overview-mobile.png'), fullPage: true });
      await page.close();
    });

    test('admin: sign in, see analytics across tenants and provider health', async () => {
      const page = await context.newPage();
      await page.goto(`${gw.url}/admin`);
      await page.waitForURL('**/admin/login');
      await page.fill('#username', ADMIN_USER);
      await page.fill('#password', ADMIN_PASSWORD);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.waitForURL(/\/admin$/);
      await page.locator('svg[aria-label="Requests over time"]').waitFor({ state: 'visible' });
      assert.match(await text(page.locator('body')), /Top tenants[\s\S]*acme/);
      assert.match(await text(page.locator('body')), /Provider health[\s\S]*closed/);
      await page.screenshot({ path: join(SHOTS, 'admin-analytics.png'), fullPage: true });
      await page.goto(`${gw.url}/admin/tenants/acme`);
      await page.screenshot({ path: join(SHOTS, 'admin-tenant.png'), fullPage: true });
      // A client page in the same browser still needs its own link: the admin cookie does not open it.
      await context.clearCookies({ name: 'modro_client' });
      assert.ok((await context.cookies(`${gw.url}/admin`)).some((c) => c.name === 'modro_admin'));
      const client = await page.goto(`${gw.url}/client`);
      assert.equal(client?.status(), 403);
      await page.screenshot({ path: join(SHOTS, 'client-forbidden.png') });
      await page.close();
      assert.ok(readFileSync(join(SHOTS, 'admin-analytics.png')).length > 10_000);
    });
  });
}

/** An element's text with whitespace collapsed. */
async function text(locator: Locator): Promise<string> {
  return ((await locator.textContent()) ?? '').replace(/\s+/g, ' ');
}
