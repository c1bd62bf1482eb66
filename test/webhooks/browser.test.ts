import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type BrowserContext, chromium } from 'playwright-core';
import { Webhook } from 'standardwebhooks';
import { isCI } from '../helpers/ci.ts';
import type { TestGateway } from '../helpers/gateway.ts';
import { adminClient, chat, createTenantWithKey, startTenancyGateway, waitFor } from '../tenancy/helpers.ts';
import { type Receiver, startReceiver } from './receiver.ts';

/**
 * The client's Webhooks page in a real headless Chromium: from the dashboard link of an API answer to the
 * Webhooks page, the secret revealed (and it verifies the delivered message), a delivery's attempts opened,
 * Redeliver clicked (the receiver gets the same webhook-id again). Screenshots in artifacts/screenshots/.
 */
const CHROMIUM = process.env.MODRO_CHROMIUM ?? '/usr/bin/chromium';
const SHOTS = new URL('../../artifacts/screenshots/', import.meta.url).pathname;

if (!existsSync(CHROMIUM)) {
  if (isCI()) {
    test('Chromium is installed (required in CI)', () => assert.fail(`${CHROMIUM} not found`));
  } else {
    test('webhooks page in headless Chromium', { skip: `Chromium not found at ${CHROMIUM}` }, () => {});
  }
} else {
  describe('webhooks page in headless Chromium', () => {
    let gw: TestGateway;
    let receiver: Receiver;
    let context: BrowserContext;
    let profile: string;

    before(async () => {
      mkdirSync(SHOTS, { recursive: true });
      receiver = await startReceiver({ behaviour: 200 });
      gw = await startTenancyGateway({ webhooks: { allowPrivateNetworks: true, pollMs: 20 } });
      profile = mkdtempSync(join(tmpdir(), 'modro-chromium-hooks-'));
      context = await chromium.launchPersistentContext(profile, {
        executablePath: CHROMIUM,
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
        headless: true,
        viewport: { width: 1360, height: 900 },
        colorScheme: 'light',
      });
    });
    after(async () => {
      await context?.close();
      if (profile) rmSync(profile, { recursive: true, force: true });
      await gw?.close();
      await receiver?.stop();
    });

    test('see the secret and the deliveries, redeliver one', async () => {
      const admin = await adminClient(gw);
      const { key } = await createTenantWithKey(admin, { id: 'acme', name: 'Acme Inc.' });
      const answer = await chat(gw, key);
      const link = answer.headers.get('x-client-dashboard-url');
      await answer.text();
      assert.ok(link);
      for (const [i, type] of ['execution.completed', 'execution.failed'].entries()) {
        await gw.runtime.webhooks.outbox.enqueue(gw.runtime.store.db, {
          tenantId: 'acme',
          url: receiver.url,
          messageId: `msg_browser_${i}`,
          type,
          data: { id: `exec_${i}` },
        });
      }
      await waitFor(() => receiver.received.length === 2, 'both delivered');

      const page = await context.newPage();
      await page.goto(link);
      await page.getByRole('link', { name: 'Webhooks' }).click();
      await page.waitForURL('**/client/webhooks');
      await waitFor(async () => {
        await page.reload();
        return (await page.locator('.badge.good', { hasText: 'delivered' }).count()) === 2;
      }, 'both shown delivered');
      await page.getByText('Show the secret').click();
      const secret = (await page.locator('#webhook-secret').textContent()) ?? '';
      assert.match(secret, /^whsec_/);
      for (const got of receiver.received) new Webhook(secret).verify(got.body, got.headers);
      const row = page.locator('tr[data-delivery]', { hasText: 'msg_browser_0' });
      await row.locator('summary').click();
      assert.match((await row.textContent()) ?? '', /HTTP 200/);
      await page.screenshot({ path: join(SHOTS, 'client-webhooks.png'), fullPage: true });

      await row.getByRole('button', { name: 'Redeliver' }).click();
      await page.waitForURL('**/client/webhooks?done=redelivered');
      assert.match((await page.locator('[role=status]').textContent()) ?? '', /Redelivery queued/);
      await waitFor(() => receiver.received.length === 3, 'redelivered');
      assert.equal(receiver.received[2]!.headers['webhook-id'], 'msg_browser_0');
      await page.close();
    });
  });
}
