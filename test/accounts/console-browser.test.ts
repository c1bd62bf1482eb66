import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import { type BrowserContext, chromium, type Locator } from 'playwright-core';
import Stripe from 'stripe';
import { usd } from '../../src/dashboard/format.ts';
import { isCI } from '../helpers/ci.ts';
import type { TestGateway } from '../helpers/gateway.ts';
import { linkIn, startSmtp, type TestSmtp } from '../helpers/smtp.ts';
import { MOCK_STRIPE_KEY, type MockStripe, startMockStripe } from '../mocks/stripe.ts';
import { startTenancyGateway } from '../tenancy/helpers.ts';

/**
 * The self-service walkthrough in a real headless Chromium (docs/accounts.md): sign up, receive the mail over
 * SMTP, follow its link, sign in, add funds through Stripe Checkout (the SDK against the mock; the payer's page
 * at checkout.stripe.com answered by the test; the webhook signed by the SDK's helper), create a key, call
 * /v1/chat/completions with it through the OpenAI SDK (demo provider), see the charge and the usage on the
 * overview, sign out. Screenshots go to artifacts/screenshots/.
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
const WEBHOOK_SECRET = 'whsec_test_console_browser_0123456789abcdef';
const USD = 1_000_000_000;

if (!existsSync(CHROMIUM)) {
  if (isCI()) {
    test('Chromium is installed (required in CI)', () => {
      assert.fail(`${CHROMIUM} not found: run scripts/ensure-chromium.sh (apt-get install chromium)`);
    });
  } else {
    const reason = `Chromium not found at ${CHROMIUM}: install it (scripts/ensure-chromium.sh or apt-get install chromium) to run the browser tests. In CI (CI set, not false/0) this fails instead.`;
    test('console in headless Chromium', { skip: reason }, () => {});
  }
} else {
  browserSuite();
}

const text = async (locator: Locator) => ((await locator.textContent()) ?? '').replace(/\s+/g, ' ').trim();

function browserSuite(): void {
  describe('console in headless Chromium', () => {
    let smtp: TestSmtp;
    let stripe: MockStripe;
    let gw: TestGateway;
    let context: BrowserContext;
    let profile: string;

    before(async () => {
      mkdirSync(SHOTS, { recursive: true });
      smtp = await startSmtp();
      stripe = await startMockStripe();
      gw = await startTenancyGateway(
        {
          mail: { host: '127.0.0.1', port: smtp.port, allowPlaintext: true, from: 'Modro <no-reply@modro.test>' },
          billing: {
            flushIntervalMs: 20,
            stripe: {
              secretKey: 'env:TEST_STRIPE_KEY',
              webhookSecret: 'env:TEST_STRIPE_WEBHOOK_SECRET',
              successUrl: 'https://modro.example/paid',
              cancelUrl: 'https://modro.example/cancelled',
              apiBase: stripe.url,
            },
          },
        },
        { TEST_STRIPE_KEY: MOCK_STRIPE_KEY, TEST_STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET },
      );
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
      await smtp?.close();
      await stripe?.close();
    });

    test('sign up → mail → link → sign in → add funds → create a key → call → see the charge → sign out', async () => {
      const email = 'walkthrough@example.com';
      const password = 'a long walkthrough passphrase';
      const page = await context.newPage();

      await page.goto(`${gw.url}/console/signup`);
      await page.fill('#email', email);
      await page.fill('#password', password);
      await page.getByRole('button', { name: 'Create account' }).click();
      await page.locator('#check-mail').waitFor();
      await page.screenshot({ path: join(SHOTS, 'console-check-mail.png'), fullPage: true });

      const mail = await smtp.waitFor(email, { subject: /Verify your Modro account/ });
      const verify = await page.goto(linkIn(mail, '/console/verify'));
      assert.equal(verify?.status(), 200);
      assert.match(await text(page.locator('h1')), /Address confirmed/);

      await page.goto(`${gw.url}/console/login`);
      await page.fill('#email', email);
      await page.fill('#password', password);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.waitForURL(`${gw.url}/console`);
      const cookie = (await context.cookies(`${gw.url}/console`)).find((c) => c.name === 'modro_console');
      assert.ok(cookie?.httpOnly && cookie.sameSite === 'Lax' && cookie.path === '/console' && !cookie.secure);
      assert.equal(await page.locator('#unverified').count(), 0);
      const tenantId = (await gw.runtime.accounts.repo.byEmail(email))!.tenantId;

      // Add funds: the form goes to Stripe Checkout (answered here), Stripe's webhook credits the balance.
      await context.route('https://checkout.stripe.com/**', (route) =>
        route.fulfill({ status: 200, contentType: 'text/html', body: '<h1>Stripe Checkout (test)</h1>' }),
      );
      await page.getByRole('link', { name: 'Billing' }).click();
      await page.waitForURL('**/console/billing');
      await page.fill('#amount', '10');
      await page.getByRole('button', { name: 'Pay with Stripe' }).click();
      await page.waitForURL('https://checkout.stripe.com/**');
      const sessionId = page.url().split('/').pop()!;
      const session = stripe.sessions.get(sessionId);
      assert.ok(session, 'the session was created through the SDK');
      assert.equal(session.metadata['modro_tenant'], tenantId);
      const payload = JSON.stringify({
        id: 'evt_browser_1',
        object: 'event',
        api_version: Stripe.API_VERSION,
        created: Math.floor(Date.now() / 1000),
        type: 'checkout.session.completed',
        data: { object: { ...session, payment_status: 'paid', status: 'complete', payment_intent: `pi_${sessionId}` } },
        livemode: false,
        pending_webhooks: 1,
        request: { id: null, idempotency_key: null },
      });
      const hook = await fetch(`${gw.url}/webhooks/stripe`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'stripe-signature': Stripe.webhooks.generateTestHeaderString({ payload, secret: WEBHOOK_SECRET }),
        },
        body: payload,
      });
      assert.equal(hook.status, 200);
      await page.goto(session.success_url);
      assert.match(await text(page.locator('[role=status]')), /payment went through/);
      assert.equal(await text(page.locator('#balance')), '$9.60');
      await page.screenshot({ path: join(SHOTS, 'console-billing.png'), fullPage: true });

      // A key, shown once.
      await page.getByRole('link', { name: 'API keys' }).click();
      await page.waitForURL('**/console/keys');
      await page.fill('#name', 'walkthrough');
      await page.getByRole('button', { name: 'Create key' }).click();
      const secret = await page.locator('#secret').inputValue();
      assert.match(secret, /^mdro_/);
      assert.match(await text(page.locator('.card')), new RegExp(`OpenAI base URL: ${gw.baseURL}`));
      await page.screenshot({ path: join(SHOTS, 'console-new-key.png'), fullPage: true });
      await page.getByRole('link', { name: 'Done' }).click();
      assert.match(await text(page.locator('#keys')), /walkthrough/);
      assert.equal((await page.content()).includes(secret), false);

      const client = new OpenAI({ baseURL: gw.baseURL, apiKey: secret, maxRetries: 0 });
      const answer = await client.chat.completions.create({
        model: 'fast',
        messages: [{ role: 'user', content: 'Say hello' }],
      });
      assert.ok(answer.choices[0]?.message.content);
      await gw.runtime.usage.flush();
      await gw.runtime.ledger.flush();
      const balance = gw.runtime.ledger.account(tenantId)!.balanceNano;
      assert.ok(balance < 9.6 * USD, 'the call was charged');

      await page.getByRole('link', { name: 'Overview' }).click();
      await page.waitForURL(`${gw.url}/console`);
      assert.match(await text(page.locator('#by-model')), /demo\/demo-fast/);
      assert.ok((await page.locator('#spend svg rect.bar').count()) >= 1, 'the spend chart has a bar');
      assert.equal(await page.locator('#by-model svg.donut circle.arc').count(), 1, 'one model, one slice');
      assert.match(await text(page.locator('#recent')), /demo\/demo-fast/);
      const spent = await text(page.locator('.kpi', { hasText: 'Spent this month' }).locator('.value'));
      const month = gw.runtime.ledger.account(tenantId)!.monthSpendNano;
      assert.equal(month, Math.round(9.6 * USD) - balance, 'the month’s spend is the charge');
      assert.equal(spent, usd(month));
      assert.notEqual(spent, '$0.00');
      await page.screenshot({ path: join(SHOTS, 'console-overview.png'), fullPage: true });

      await page.getByRole('link', { name: 'Models' }).click();
      await page.waitForURL('**/console/models');
      assert.match(
        await text(page.locator('#catalog tr[data-model="demo/demo-fast"]')),
        /demo\/demo-fast fast \$1 \$4 128,000/,
      );
      await page.screenshot({ path: join(SHOTS, 'console-models.png'), fullPage: true });

      await page.getByRole('link', { name: 'Billing' }).click();
      await page.waitForURL('**/console/billing');
      assert.ok((await page.locator('#statement tr[data-kind=settle]').count()) >= 1, 'the charge is on the statement');

      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.waitForURL('**/console/login');
      await page.goto(`${gw.url}/console`);
      assert.equal(new URL(page.url()).pathname, '/console/login');
      await page.close();
    });
  });
}
