import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type BrowserContext, chromium } from 'playwright-core';
import { isCI } from '../helpers/ci.ts';
import type { TestGateway } from '../helpers/gateway.ts';
import {
  ADMIN_PASSWORD,
  ADMIN_USER,
  type AdminClient,
  adminClient,
  CHAT,
  chat,
  createKey,
  startTenancyGateway,
} from '../tenancy/helpers.ts';

/**
 * The admin Accounts pages in a real headless Chromium (docs/billing.md, "Admin pages"): sign in, search an
 * account, credit it from the form (a refused amount first, with its message and what was typed kept), see the
 * statement, assign a plan, suspend it (its key is then refused) and lift the suspension. Screenshots go to
 * artifacts/screenshots/.
 */
const CHROMIUM = process.env.MODRO_CHROMIUM ?? '/usr/bin/chromium';
const SHOTS = new URL('../../artifacts/screenshots/', import.meta.url).pathname;
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'];

if (!existsSync(CHROMIUM)) {
  if (isCI()) {
    test('Chromium is installed (required in CI)', () => {
      assert.fail(`${CHROMIUM} not found: run scripts/ensure-chromium.sh (apt-get install chromium)`);
    });
  } else {
    const reason = `Chromium not found at ${CHROMIUM}: install it to run the browser tests. In CI this fails instead.`;
    test('admin accounts in headless Chromium', { skip: reason }, () => {});
  }
} else {
  describe('admin accounts in headless Chromium', () => {
    let gw: TestGateway;
    let admin: AdminClient;
    let context: BrowserContext;
    let profile: string;
    let key: string;

    before(async () => {
      mkdirSync(SHOTS, { recursive: true });
      gw = await startTenancyGateway();
      admin = await adminClient(gw);
      await admin.json('POST', '/admin/api/tenants', { id: 'globex', name: 'Globex Corp' });
      await admin.json('POST', '/admin/api/tenants/globex/account');
      await admin.json('POST', '/admin/api/tenants', { id: 'initech', name: 'Initech' });
      await admin.json('POST', '/admin/api/tenants/initech/account');
      await admin.json('PUT', '/admin/api/plans/team', { name: 'Team', monthlyCapUsd: '50' });
      key = (await createKey(admin, 'globex')).key;
      profile = mkdtempSync(join(tmpdir(), 'modro-chromium-'));
      context = await chromium.launchPersistentContext(profile, {
        executablePath: CHROMIUM,
        args: ARGS,
        headless: true,
        viewport: { width: 1360, height: 900 },
      });
    });
    after(async () => {
      await context?.close();
      if (profile) rmSync(profile, { recursive: true, force: true });
      await gw?.close();
    });

    test('search, credit, plan, suspend and lift, as an operator clicks them', async () => {
      const page = await context.newPage();
      await page.goto(`${gw.url}/admin/accounts`);
      await page.waitForURL('**/admin/login');
      await page.fill('#username', ADMIN_USER);
      await page.fill('#password', ADMIN_PASSWORD);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.waitForURL((url) => !url.pathname.endsWith('/login'));
      await page.getByRole('link', { name: 'Accounts' }).click();
      await page.waitForURL('**/admin/accounts');
      assert.equal(await page.locator('table.accounts tbody tr').count(), 2);

      await page.fill('#q', 'globex');
      await page.getByRole('button', { name: 'Search' }).click();
      await page.waitForURL('**/admin/accounts?q=globex');
      assert.equal(await page.locator('table.accounts tbody tr').count(), 1);
      await page.getByRole('link', { name: 'Globex Corp' }).click();
      await page.waitForURL('**/admin/accounts/globex');

      // A refused amount: the message, and what was typed kept.
      await page.fill('#amount', '10.1234567');
      await page.fill('#reason', 'welcome credit');
      await page.getByRole('button', { name: 'Record entry' }).click();
      await page.locator('text=Amounts have at most 6 decimals').waitFor();
      assert.equal(await page.inputValue('#amount'), '10.1234567');
      assert.equal(await page.inputValue('#reason'), 'welcome credit');
      await page.fill('#amount', '10.25');
      await page.getByRole('button', { name: 'Record entry' }).click();
      await page.waitForURL('**/admin/accounts/globex?notice=credited');
      const statement = page.locator('table.statement tbody tr');
      assert.equal(await statement.count(), 1);
      assert.match(
        (await statement.first().textContent()) ?? '',
        /adjustment.*10\.250000000.*by root · welcome credit/s,
      );
      assert.match((await page.locator('.kpi').first().textContent()) ?? '', /\$10\.25/);

      await page.selectOption('#plan', 'team');
      await page.getByRole('button', { name: 'Assign plan' }).click();
      await page.waitForURL('**?notice=plan-assigned');
      assert.equal(await page.inputValue('#plan'), 'team');
      await page.screenshot({ path: join(SHOTS, 'admin-account.png'), fullPage: true });

      assert.equal((await chat(gw, key, CHAT)).status, 200);
      await page.fill('#suspend-reason', 'unpaid invoice');
      await page.getByRole('button', { name: 'Suspend account' }).click();
      await page.waitForURL('**?notice=suspended');
      await page.locator('text=Suspended since').waitFor();
      const refused = await chat(gw, key, CHAT);
      assert.equal(refused.status, 403);
      assert.match(await refused.text(), /account is suspended/);
      await page.screenshot({ path: join(SHOTS, 'admin-account-suspended.png'), fullPage: true });

      await page.getByRole('button', { name: 'Lift the suspension' }).click();
      await page.waitForURL('**?notice=unsuspended');
      assert.equal((await chat(gw, key, CHAT)).status, 200);

      // The CSV export is a download of the same statement.
      const [download] = await Promise.all([
        page.waitForEvent('download'),
        page.getByRole('link', { name: 'Export CSV' }).click(),
      ]);
      assert.equal(download.suggestedFilename(), 'ledger-globex.csv');
      await page.close();
    });
  });
}
