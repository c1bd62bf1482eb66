import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import Stripe from 'stripe';
import { isCI } from '../helpers/ci.ts';
import { POSTGRES_TEST_URL } from '../helpers/databases.ts';
import type { TestGateway } from '../helpers/gateway.ts';
import { linkIn, startSmtp, type TestSmtp } from '../helpers/smtp.ts';
import { MOCK_STRIPE_KEY, type MockStripe, startMockStripe } from '../mocks/stripe.ts';
import { chat, startTenancyGateway } from '../tenancy/helpers.ts';
import { ConsoleClient } from './console-client.ts';

/**
 * Self-service accounts over HTTP (docs/accounts.md): a real gateway on loopback whose nodemailer delivers to a
 * real SMTP server in process, a browser-like client that keeps cookies and posts forms, the Stripe mock driven
 * by the SDK and webhooks signed by the SDK's test helper. Every bad input of the console is checked here; the
 * whole flow in Chromium is console-browser.test.ts.
 */

const SMTP_USER = 'modro-mailer';
const SMTP_PASSWORD = 'smtp-secret-password-42';
const WEBHOOK_SECRET = 'whsec_test_accounts_0123456789abcdefghijklmnop';
const PASSWORD = 'correct horse battery';
const USD = 1_000_000_000;

let seq = 0;
const address = (name: string) => `${name}${++seq}@example.com`;
/** Each client its own address unless a test names one: the per-address budgets stay out of the way. */
let ipSeq = 0;
const nextIp = () => `10.200.${Math.floor(++ipSeq / 250)}.${(ipSeq % 250) + 1}`;

async function postgresProblem(): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: POSTGRES_TEST_URL, connectionTimeoutMillis: 2_000 });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.end();
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}
const pgProblem = await postgresProblem();

for (const kind of ['sqlite', 'postgres'] as const)
  describe(`accounts over HTTP: sign-up, links, sign-in, throttling, CSRF, reset, change of address, deposits [${kind}]`, {
    skip: kind === 'postgres' && pgProblem !== undefined && !isCI() ? `PostgreSQL unreachable (${pgProblem})` : false,
  }, () => {
    const schema = `t_accounts_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
    let smtp: TestSmtp;
    let stripe: MockStripe;
    let gw: TestGateway;

    before(async () => {
      smtp = await startSmtp({ user: SMTP_USER, password: SMTP_PASSWORD });
      stripe = await startMockStripe();
      gw = await startTenancyGateway(
        {
          server: { trustedProxies: ['127.0.0.1/32'] },
          mail: {
            host: '127.0.0.1',
            port: smtp.port,
            allowPlaintext: true,
            user: SMTP_USER,
            password: 'env:TEST_SMTP_PASSWORD',
            from: 'Modro <no-reply@modro.test>',
          },
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
          ...(kind === 'postgres' ? { storage: { kind: 'postgres', url: POSTGRES_TEST_URL, schema } } : {}),
        },
        {
          TEST_SMTP_PASSWORD: SMTP_PASSWORD,
          TEST_STRIPE_KEY: MOCK_STRIPE_KEY,
          TEST_STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
        },
      );
    });
    after(async () => {
      await gw?.close();
      await smtp?.close();
      await stripe?.close();
      if (kind === 'postgres') {
        const client = new pg.Client({ connectionString: POSTGRES_TEST_URL });
        await client.connect();
        await client.query(`drop schema if exists "${schema}" cascade`);
        await client.end();
      }
    });

    const client = (ip: string = nextIp()) => {
      const c = new ConsoleClient(gw.url);
      c.headers['x-forwarded-for'] = ip;
      return c;
    };

    async function signup(email: string, password = PASSWORD, ip?: string) {
      return client(ip).form('/console/signup', '/console/signup', { email, password });
    }

    /** Signs up and follows the verification link from the mail; returns the mail's link. */
    async function verifiedAccount(email: string, password = PASSWORD): Promise<void> {
      const before = smtp.to(email).length;
      const res = await signup(email, password);
      assert.equal(res.status, 200);
      const mail = await smtp.waitFor(email, { subject: /Verify/, after: before });
      const verified = await fetch(linkIn(mail, '/console/verify'));
      assert.equal(verified.status, 200);
    }

    async function signedIn(email: string, password = PASSWORD, ip?: string): Promise<ConsoleClient> {
      const c = client(ip);
      const res = await c.form('/console/login', '/console/login', { email, password });
      assert.equal(res.status, 303, res.html);
      assert.equal(res.res.headers.get('location'), '/console');
      await c.get('/console');
      return c;
    }

    async function tenantOf(email: string): Promise<string> {
      const row = await gw.runtime.store.db
        .selectFrom('account_login')
        .select('tenant_id')
        .where('email', '=', email)
        .executeTakeFirstOrThrow();
      return row.tenant_id;
    }

    test('sign-up mails a verification link over SMTP (authenticated); following it verifies; the account is a billed tenant', async () => {
      const email = address('alice');
      const res = await signup(email);
      assert.equal(res.status, 200);
      assert.match(res.html, /Check your mail/);
      const mail = await smtp.waitFor(email, { subject: /Verify your Modro account/ });
      assert.equal(mail.from, 'no-reply@modro.test');
      assert.ok(!mail.raw.includes(PASSWORD), 'the password is never mailed');
      const tenantId = await tenantOf(email);
      assert.match(tenantId, /^acct_[0-9a-f]{16}$/);
      assert.ok(await gw.runtime.tenancy.repo.getTenant(tenantId), 'a tenant of the tenancy model');
      assert.equal(gw.runtime.ledger.billed(tenantId), true, 'billed through the ledger');

      const c = await signedIn(email);
      const overview = await c.get('/console');
      assert.match(overview.html, /id="unverified"/, 'an unverified account is told to confirm');

      const link = linkIn(mail, '/console/verify');
      assert.ok(link.startsWith(gw.url), 'links use the gateway’s own base URL');
      const token = new URL(link).searchParams.get('token')!;
      const stored = JSON.stringify([
        await gw.runtime.store.db.selectFrom('account_token').selectAll().execute(),
        await gw.runtime.store.db.selectFrom('account_login').selectAll().execute(),
      ]);
      assert.ok(!stored.includes(token), 'only the token’s hash is stored');
      assert.ok(!stored.includes(PASSWORD), 'only the password’s scrypt hash is stored');
      assert.match(stored, /"password_hash":"scrypt\$32768\$8\$1\$/);
      const verified = await fetch(link);
      assert.equal(verified.status, 200);
      assert.match(await verified.text(), /Address confirmed/);
      assert.doesNotMatch((await c.get('/console')).html, /id="unverified"/);

      const again = await fetch(link);
      assert.equal(again.status, 410, 'a link works once');
      assert.match(await again.text(), /already used/);
    });

    test('no enumeration: a sign-up with a taken address answers exactly as a new one; its owner is mailed a notice', async () => {
      const taken = address('owner');
      await verifiedAccount(taken);
      const fresh = await signup(address('fresh'));
      const before = smtp.to(taken).length;
      const dup = await signup(taken, 'another long passphrase');
      assert.equal(dup.status, fresh.status);
      assert.equal(dup.html, fresh.html, 'the same page, byte for byte');
      assert.deepEqual(
        dup.lastSetCookies.map((c) => c.replace(/=[^;]*/, '=')),
        fresh.lastSetCookies.map((c) => c.replace(/=[^;]*/, '=')),
      );
      const notice = await smtp.waitFor(taken, { after: before });
      assert.match(notice.subject, /Someone tried to sign up with your address/);
      const rows = await gw.runtime.store.db
        .selectFrom('account_login')
        .select('tenant_id')
        .where('email', '=', taken)
        .execute();
      assert.equal(rows.length, 1);
      // The owner's password still works, the attempted one does not.
      await signedIn(taken);
      const wrong = await client().form('/console/login', '/console/login', {
        email: taken,
        password: 'another long passphrase',
      });
      assert.equal(wrong.status, 401);
    });

    test('a sign-up that loses the race for its address deletes the tenant it made; one account, one tenant', async () => {
      const email = address('race');
      assert.equal((await signup(email)).status, 200);
      // The loser read "no such address" just before the winner's insert: its own insert then finds it taken.
      const repo = gw.runtime.accounts.repo;
      const byEmail = repo.byEmail.bind(repo);
      let raced = false;
      repo.byEmail = async (e: string) => {
        if (raced) return byEmail(e);
        raced = true;
        return undefined;
      };
      try {
        assert.equal((await signup(email)).status, 200);
      } finally {
        repo.byEmail = byEmail;
      }
      assert.ok(raced);
      const accounts = await gw.runtime.store.db
        .selectFrom('account_login')
        .select('tenant_id')
        .where('email', '=', email)
        .execute();
      assert.equal(accounts.length, 1);
      const tenants = await gw.runtime.store.db.selectFrom('tenant').select('id').where('name', '=', email).execute();
      assert.deepEqual(
        tenants.map((t) => t.id),
        [accounts[0]!.tenant_id],
      );
    });

    test('weak passwords and bad addresses are refused with a clear message, and nothing is created', async () => {
      const email = address('weak');
      const cases: Array<[string, RegExp]> = [
        ['short1', /at least 10 characters/],
        ['Password1234', /too common/],
        ['qwertyuiop!', /too common/],
        ['aaaaaaaaaaaa', /too common/],
        ['12345678901', /too common/],
        [email, /email address/],
      ];
      const ip = nextIp();
      for (const [password, message] of [...cases, ...cases]) {
        const res = await signup(email, password, ip);
        assert.equal(res.status, 400, password);
        assert.match(res.html, message, password);
      }
      const bad = await signup('not-an-address', PASSWORD, ip);
      assert.equal(bad.status, 400);
      assert.match(bad.html, /valid email address/);
      const rows = await gw.runtime.store.db
        .selectFrom('account_login')
        .select('email')
        .where('email', '=', email)
        .execute();
      assert.equal(rows.length, 0);
      assert.equal(smtp.to(email).length, 0);
      // Thirteen refusals from one address for one recipient used none of the mail budget.
      assert.equal((await signup(email, PASSWORD, ip)).status, 200);
      await smtp.waitFor(email, { subject: /Verify/ });
    });

    test('links: expired (410), reused (410), invalid or tampered (404), each with its own page', async () => {
      const email = address('links');
      await signup(email);
      const mail = await smtp.waitFor(email, { subject: /Verify/ });
      const link = linkIn(mail, '/console/verify');
      const token = new URL(link).searchParams.get('token')!;
      const tampered = await fetch(
        `${gw.url}/console/verify?token=${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`,
      );
      assert.equal(tampered.status, 404);
      assert.match(await tampered.text(), /not valid/);
      assert.equal((await fetch(`${gw.url}/console/verify`)).status, 404);
      assert.equal((await fetch(`${gw.url}/console/verify?token=x'"<script>`)).status, 404);

      await gw.runtime.store.db
        .updateTable('account_token')
        .set({ expires_at: Date.now() - 1 })
        .where('email', '=', email)
        .execute();
      const expired = await fetch(link);
      assert.equal(expired.status, 410);
      assert.match(await expired.text(), /expired/);
      const account = await gw.runtime.accounts.get(await tenantOf(email));
      assert.equal(account?.verifiedAt, null, 'an expired link verifies nothing');

      // A fresh link from the account page; the old one is retired.
      const c = await signedIn(email);
      await c.get('/console/account');
      const resent = await c.post('/console/account/resend', {});
      assert.equal(resent.status, 303);
      const second = await smtp.waitFor(email, { subject: /Verify/, after: 1 });
      assert.equal((await fetch(linkIn(second, '/console/verify'))).status, 200);
      const reused = await fetch(linkIn(second, '/console/verify'));
      assert.equal(reused.status, 410);
      assert.match(await reused.text(), /already used/);
    });

    test('sign-in: a wrong password and an unknown address get the same 401; the session cookie is HttpOnly, SameSite=Lax, /console', async () => {
      const email = address('login');
      await verifiedAccount(email);
      const wrong = await client('10.1.0.1').form('/console/login', '/console/login', {
        email,
        password: 'not the password',
      });
      const unknown = await client('10.1.0.1').form('/console/login', '/console/login', {
        email: address('nobody'),
        password: 'not the password',
      });
      assert.equal(wrong.status, 401);
      assert.equal(unknown.status, 401);
      assert.match(wrong.html, /Wrong email or password/);
      assert.equal(wrong.html.replace(/value="[^"]*"/g, ''), unknown.html.replace(/value="[^"]*"/g, ''));

      const c = client('10.1.0.2');
      const ok = await c.form('/console/login', '/console/login', { email: email.toUpperCase(), password: PASSWORD });
      assert.equal(ok.status, 303, 'addresses are compared case-insensitively');
      const cookie = ok.lastSetCookies.find((l) => l.startsWith('modro_console='));
      assert.ok(cookie);
      assert.match(cookie, /; HttpOnly/);
      assert.match(cookie, /; SameSite=Lax/);
      assert.match(cookie, /; Path=\/console/);
      assert.doesNotMatch(cookie, /; Secure/, 'plain HTTP without a public https URL');
      const page = await c.get('/console');
      assert.equal(page.status, 200);
      assert.equal(page.res.headers.get('content-security-policy')?.includes("default-src 'none'"), true);

      // A console session opens neither the client dashboard nor the admin pages.
      const token = c.cookies.get('modro_console')!;
      assert.equal((await fetch(`${gw.url}/client`, { headers: { cookie: `modro_client=${token}` } })).status, 403);
      const admin = await fetch(`${gw.url}/admin`, { headers: { cookie: `modro_admin=${token}` }, redirect: 'manual' });
      assert.equal(admin.headers.get('location'), '/admin/login');

      // Sign-out ends the session.
      const out = await c.post('/console/logout', {});
      assert.equal(out.status, 303);
      const after = await fetch(`${gw.url}/console`, {
        headers: { cookie: `modro_console=${token}` },
        redirect: 'manual',
      });
      assert.equal(after.status, 303);
      assert.equal(after.headers.get('location'), '/console/login');
    });

    test('throttling per account: ten failures from ten addresses, then 429 with Retry-After even with the right password', async () => {
      const email = address('victim');
      await verifiedAccount(email);
      for (let i = 0; i < 10; i++) {
        const res = await client(`10.2.0.${i + 1}`).form('/console/login', '/console/login', {
          email,
          password: `guess number ${i}`,
        });
        assert.equal(res.status, 401);
      }
      const blocked = await client('10.2.1.1').form('/console/login', '/console/login', { email, password: PASSWORD });
      assert.equal(blocked.status, 429);
      assert.match(blocked.html, /Too many attempts/);
      assert.match(blocked.html, /Try again in 1[45] minutes/);
      const retry = Number(blocked.res.headers.get('retry-after'));
      assert.ok(retry > 800 && retry <= 900, String(retry));
      // Another account from another address is not affected.
      const other = address('bystander');
      await verifiedAccount(other);
      await signedIn(other, PASSWORD, '10.2.2.1');
    });

    test('throttling per client address: ten failures for ten accounts from one address, then 429 for any account', async () => {
      const email = address('fromip');
      await verifiedAccount(email);
      const ip = '10.3.0.1';
      for (let i = 0; i < 10; i++) {
        const res = await client(ip).form('/console/login', '/console/login', {
          email: address('guess'),
          password: 'wrong password!',
        });
        assert.equal(res.status, 401);
      }
      const blocked = await client(ip).form('/console/login', '/console/login', { email, password: PASSWORD });
      assert.equal(blocked.status, 429);
      assert.ok(Number(blocked.res.headers.get('retry-after')) > 0);
      await signedIn(email, PASSWORD, '10.3.0.2');
    });

    test('CSRF: a form without its token, with a wrong one, or from another origin is refused 403 and changes nothing', async () => {
      const email = address('csrf');
      const pre = client('10.4.0.1');
      await pre.get('/console/signup');
      assert.equal((await pre.post('/console/signup', { email, password: PASSWORD }, { csrf: null })).status, 403);
      assert.equal(
        (await pre.post('/console/signup', { email, password: PASSWORD }, { csrf: 'x'.repeat(32) })).status,
        403,
      );
      assert.equal(
        (await pre.post('/console/signup', { email, password: PASSWORD }, { origin: 'https://evil.example' })).status,
        403,
      );
      assert.equal(smtp.to(email).length, 0);
      const bare = new ConsoleClient(gw.url);
      assert.equal(
        (await bare.post('/console/login', { email, password: PASSWORD }, { csrf: 'y'.repeat(32) })).status,
        403,
      );

      await verifiedAccount(email);
      const c = await signedIn(email, PASSWORD, '10.4.0.2');
      await c.get('/console/keys');
      assert.equal((await c.post('/console/keys', { name: 'no token' }, { csrf: null })).status, 403);
      assert.equal((await c.post('/console/keys', { name: 'wrong' }, { csrf: 'z'.repeat(32) })).status, 403);
      assert.equal((await c.post('/console/keys', { name: 'cross' }, { origin: 'https://evil.example' })).status, 403);
      assert.equal((await c.post('/console/logout', {}, { csrf: null })).status, 403);
      const keys = await gw.runtime.tenancy.repo.listKeys({ tenantId: await tenantOf(email) });
      assert.equal(keys.length, 0);
    });

    test('reset: the same answer for an unknown address; the link sets a new password once, ends sessions, and expires', async () => {
      const email = address('reset');
      await verifiedAccount(email);
      const session = await signedIn(email, PASSWORD, '10.5.0.1');

      const unknown = await client('10.5.0.2').form('/console/forgot', '/console/forgot', { email: address('ghost') });
      const before = smtp.to(email).length;
      const known = await client('10.5.0.2').form('/console/forgot', '/console/forgot', { email });
      assert.equal(known.status, 200);
      assert.equal(unknown.status, 200);
      assert.equal(known.html, unknown.html);
      const mail = await smtp.waitFor(email, { subject: /Reset/, after: before });
      const link = linkIn(mail, '/console/reset');

      const c = client('10.5.0.3');
      const form = await c.get(new URL(link).pathname + new URL(link).search);
      assert.equal(form.status, 200);
      assert.match(form.html, /Choose a new password/);
      const token = new URL(link).searchParams.get('token')!;
      const weak = await c.post('/console/reset', { token, password: 'password' });
      assert.equal(weak.status, 400);
      assert.match(weak.html, /at least 10/);
      const NEW = 'a brand new passphrase';
      const done = await c.post('/console/reset', { token, password: NEW });
      assert.equal(done.status, 303);
      assert.equal(done.res.headers.get('location'), '/console/login?notice=reset');

      // The old session ended, the old password fails, the new one works, the link is spent.
      assert.equal((await session.get('/console')).status, 303);
      assert.equal(
        (await client('10.5.0.4').form('/console/login', '/console/login', { email, password: PASSWORD })).status,
        401,
      );
      await signedIn(email, NEW, '10.5.0.5');
      const reused = await fetch(link);
      assert.equal(reused.status, 410);
      assert.equal((await c.post('/console/reset', { token, password: 'yet another passphrase' })).status, 410);

      // An expired reset link.
      const before2 = smtp.to(email).length;
      await client('10.5.0.6').form('/console/forgot', '/console/forgot', { email });
      const second = await smtp.waitFor(email, { subject: /Reset/, after: before2 });
      await gw.runtime.store.db
        .updateTable('account_token')
        .set({ expires_at: Date.now() - 1 })
        .where('purpose', '=', 'reset')
        .where('email', '=', email)
        .execute();
      const expired = await fetch(linkIn(second, '/console/reset'));
      assert.equal(expired.status, 410);
      assert.match(await expired.text(), /expired/);
    });

    test('change of password needs the current one and signs other sessions out', async () => {
      const email = address('chpw');
      await verifiedAccount(email);
      const a = await signedIn(email, PASSWORD, '10.6.0.1');
      const b = await signedIn(email, PASSWORD, '10.6.0.2');
      await a.get('/console/account');
      const wrong = await a.post('/console/account/password', {
        current: 'not it at all',
        password: 'new passphrase 2',
      });
      assert.equal(wrong.status, 400);
      assert.match(wrong.html, /current password is wrong/);
      const weak = await a.post('/console/account/password', { current: PASSWORD, password: 'qwertyuiop' });
      assert.equal(weak.status, 400);
      const ok = await a.post('/console/account/password', { current: PASSWORD, password: 'new passphrase 2' });
      assert.equal(ok.status, 303);
      assert.equal((await a.get('/console')).status, 200, 'this session stays');
      assert.equal((await b.get('/console')).status, 303, 'the other one ends');
      await signedIn(email, 'new passphrase 2', '10.6.0.3');
    });

    test('change of address: a link to the new address; the address changes when it is followed; a taken one is not revealed', async () => {
      const email = address('move');
      const target = address('moved');
      const taken = address('occupied');
      await verifiedAccount(email);
      await verifiedAccount(taken);
      const c = await signedIn(email, PASSWORD, '10.7.0.1');
      await c.get('/console/account');
      const wrongPassword = await c.post('/console/account/email', { email: target, password: 'wrong password' });
      assert.equal(wrongPassword.status, 400);

      const beforeTaken = smtp.to(taken).length;
      const toTaken = await c.post('/console/account/email', { email: taken, password: PASSWORD });
      const toNew = await c.post('/console/account/email', { email: target, password: PASSWORD });
      assert.equal(toTaken.status, 303);
      assert.equal(toNew.status, 303);
      assert.equal(toTaken.res.headers.get('location'), toNew.res.headers.get('location'));
      const notice = await smtp.waitFor(taken, { after: beforeTaken });
      assert.match(notice.subject, /Someone tried to move/);

      const mail = await smtp.waitFor(target, { subject: /Confirm your new Modro address/ });
      assert.equal((await gw.runtime.accounts.get(await tenantOf(email)))?.email, email, 'not changed before the link');
      const confirmed = await fetch(linkIn(mail, '/console/confirm-email'));
      assert.equal(confirmed.status, 200);
      assert.equal((await fetch(linkIn(mail, '/console/confirm-email'))).status, 410);
      const old = await smtp.waitFor(email, { subject: /address of your Modro account changed/ });
      assert.match(old.text, new RegExp(target.replace('.', '\\.')));
      assert.equal(
        (await client('10.7.0.2').form('/console/login', '/console/login', { email, password: PASSWORD })).status,
        401,
      );
      await signedIn(target, PASSWORD, '10.7.0.3');
    });

    test('the console shows the webhook signing secret and rotates it; a forged form is refused', async () => {
      const email = address('hooks');
      await verifiedAccount(email);
      const c = await signedIn(email, PASSWORD, '10.8.2.1');
      const page = await c.get('/console/webhooks');
      assert.equal(page.status, 200);
      const before = /id="webhook-secret">(whsec_[^<]+)</.exec(page.html)?.[1];
      assert.ok(before, 'the secret is on the page');
      assert.match(page.html, /No webhooks yet/);
      const rotated = await c.post('/console/webhooks/rotate', {});
      assert.ok(rotated.status === 302 || rotated.status === 303, `redirect, got ${rotated.status}`);
      const after = /id="webhook-secret">(whsec_[^<]+)</.exec((await c.get('/console/webhooks')).html)?.[1];
      assert.ok(after && after !== before, 'a new secret');
      const forged = await c.post('/console/webhooks/rotate', {}, { csrf: 'forged' });
      assert.equal(forged.status, 403);
    });

    test('the billing page lists the public plans; the account switches to one, never to a private one', async () => {
      await gw.runtime.ledger!.savePlan({
        id: 'starter',
        name: 'Starter',
        monthlyCapNano: 5e9,
        models: null,
        public: true,
      });
      await gw.runtime.ledger!.savePlan({ id: 'vip', name: 'VIP', monthlyCapNano: null, models: null, public: false });
      const email = address('planner');
      await verifiedAccount(email);
      const tenantId = await tenantOf(email);
      const c = await signedIn(email, PASSWORD, '10.8.1.1');
      const page = await c.get('/console/billing');
      assert.match(page.html, /<option value="starter"/);
      assert.doesNotMatch(page.html, /value="vip"/, 'a private plan is not offered');
      const chosen = await c.post('/console/billing/plan', { plan: 'starter' });
      assert.equal(chosen.status, 200);
      assert.match(chosen.html, /Your plan is now Starter/);
      assert.equal(gw.runtime.ledger!.planOf(tenantId)?.id, 'starter');
      const refused = await c.post('/console/billing/plan', { plan: 'vip' });
      assert.equal(refused.status, 404);
      assert.equal(gw.runtime.ledger!.planOf(tenantId)?.id, 'starter');
    });

    test('an unverified account cannot create keys or deposit; keys of another account cannot be touched', async () => {
      const email = address('unverified');
      await signup(email);
      const c = await signedIn(email, PASSWORD, '10.8.0.1');
      await c.get('/console/keys');
      const key = await c.post('/console/keys', { name: 'nope' });
      assert.equal(key.status, 403);
      assert.match(key.html, /Confirm your address first/);
      await c.get('/console/billing');
      const idempotency = /name="idempotency" value="([^"]+)"/.exec((await c.get('/console/billing')).html)![1]!;
      const deposit = await c.post('/console/billing/deposit', { amountUsd: '25', idempotency });
      assert.equal(deposit.status, 403);
      assert.equal(stripe.calls.length, 0);

      const owner = address('keyowner');
      await verifiedAccount(owner);
      const o = await signedIn(owner, PASSWORD, '10.8.0.2');
      await o.get('/console/keys');
      const created = await o.post('/console/keys', { name: 'mine' });
      assert.equal(created.status, 201);
      const [record] = await gw.runtime.tenancy.repo.listKeys({ tenantId: await tenantOf(owner) });
      assert.ok(record);
      const revoke = await c.post(`/console/keys/${record.id}/revoke`, {});
      assert.equal(revoke.status, 404);
      const rotate = await c.post(`/console/keys/${record.id}/rotate`, {});
      assert.ok(rotate.status === 403 || rotate.status === 404);
      assert.equal((await gw.runtime.tenancy.repo.getKey(record.id))?.revokedAt, null);

      // Suspended by an operator: the verified owner can no longer create or rotate keys, nor deposit.
      await gw.runtime.tenancy.repo.setSuspended(await tenantOf(owner), { reason: 'test' });
      await o.get('/console/keys');
      const whileSuspended = await o.post('/console/keys', { name: 'more' });
      assert.equal(whileSuspended.status, 403);
      assert.match(whileSuspended.html, /This account is suspended/);
      const rotateSuspended = await o.post(`/console/keys/${record.id}/rotate`, {});
      assert.equal(rotateSuspended.status, 403);
      const ownIdempotency = /name="idempotency" value="([^"]+)"/.exec((await o.get('/console/billing')).html)![1]!;
      const suspendedDeposit = await o.post('/console/billing/deposit', {
        amountUsd: '25',
        idempotency: ownIdempotency,
      });
      assert.equal(suspendedDeposit.status, 403);
      assert.equal(stripe.calls.length, 0);
      assert.equal((await gw.runtime.tenancy.repo.listKeys({ tenantId: await tenantOf(owner) })).length, 1);
    });

    test('keys and money: a key with limits, 402 without funds, a Stripe deposit (double submit → one session), the webhook credits, the call is charged', async () => {
      const email = address('payer');
      await verifiedAccount(email);
      const tenantId = await tenantOf(email);
      const c = await signedIn(email, PASSWORD, '10.9.0.1');
      await c.get('/console/keys');
      const created = await c.post('/console/keys', {
        name: 'prod',
        limitRpm: '100',
        limitQuotaUsd: '5',
        limitQuotaPeriod: 'monthly',
      });
      assert.equal(created.status, 201);
      const secret = /id="secret"[^>]*value="([^"]+)"/.exec(created.html)![1]!;
      assert.match(secret, /^mdro_/);
      const listed = await c.get('/console/keys');
      assert.ok(!listed.html.includes(secret), 'the secret is shown once');
      assert.match(listed.html, /100 rpm · \$5\.00 monthly/);

      const poor = await chat(gw, secret);
      assert.equal(poor.status, 402);
      assert.match(((await poor.json()) as { error: { message: string } }).error.message, /Insufficient balance/);

      const billing = await c.get('/console/billing');
      const idempotency = /name="idempotency" value="([^"]+)"/.exec(billing.html)![1]!;
      const bad = await c.post('/console/billing/deposit', { amountUsd: '-5', idempotency });
      assert.equal(bad.status, 400);
      assert.match(bad.html, /whole cents/);
      await c.get('/console/billing');
      const calls = stripe.calls.length;
      const first = await c.post('/console/billing/deposit', { amountUsd: '25', idempotency });
      assert.equal(first.status, 303);
      const url = first.res.headers.get('location')!;
      assert.match(url, /^https:\/\/checkout\.stripe\.com\/c\/pay\/cs_test_/);
      const second = await c.post('/console/billing/deposit', { amountUsd: '25', idempotency });
      assert.equal(second.res.headers.get('location'), url, 'a double submit gives the same session');
      const conflicting = await c.post('/console/billing/deposit', { amountUsd: '30', idempotency });
      assert.equal(conflicting.status, 409);
      assert.equal(stripe.calls.length, calls + 3);
      const sessionId = url.split('/').pop()!;
      const session = stripe.sessions.get(sessionId)!;
      assert.equal(session.metadata['modro_tenant'], tenantId);
      assert.equal(session.success_url, `${gw.url}/console/billing?deposit=paid`);
      assert.equal(session.cancel_url, `${gw.url}/console/billing?deposit=cancelled`);
      assert.equal(gw.runtime.ledger.account(tenantId)?.balanceNano, 0, 'a session moves no money');

      const payload = JSON.stringify({
        id: 'evt_console_1',
        object: 'event',
        api_version: Stripe.API_VERSION,
        created: Math.floor(Date.now() / 1000),
        type: 'checkout.session.completed',
        data: {
          object: { ...session, payment_status: 'paid', status: 'complete', payment_intent: `pi_${sessionId}` },
        },
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
      assert.equal(hook.status, 200, await hook.clone().text());
      assert.equal(gw.runtime.ledger.account(tenantId)?.balanceNano, 24 * USD, '$25 less the 4 % fee');
      const paid = await c.get('/console/billing?deposit=paid');
      assert.match(paid.html, /payment went through/);
      assert.match(paid.html, /id="balance">\$24\.00/);

      const ok = await chat(gw, secret);
      assert.equal(ok.status, 200, await ok.clone().text());
      await gw.runtime.ledger.flush();
      await gw.runtime.usage.flush();
      const after = gw.runtime.ledger.account(tenantId)!;
      assert.ok(after.balanceNano < 24 * USD && after.balanceNano > 23 * USD, String(after.balanceNano));
      const charged = 24 * USD - after.balanceNano;

      const statement = await c.get('/console/billing');
      assert.match(statement.html, /data-kind="deposit"/);
      assert.match(statement.html, /data-kind="deposit_fee"/);
      assert.match(statement.html, /data-kind="settle"/);
      const csv = await c.get('/console/billing/statement.csv');
      assert.equal(csv.status, 200);
      assert.match(csv.res.headers.get('content-type') ?? '', /text\/csv/);
      const lines = csv.html.trim().split('\r\n');
      assert.equal(lines[0], 'id,time_utc,kind,amount_usd,balance_usd,request_id,payment_id,reason');
      assert.equal(lines.length, 4);
      assert.match(lines[1]!, /,deposit,25\.000000000,25\.000000000,/);
      assert.match(lines[2]!, /,deposit_fee,-1\.000000000,24\.000000000,/);
      assert.match(lines[3]!, new RegExp(`,settle,-0\\.${String(charged).padStart(9, '0')},`));

      const overview = await c.get('/console');
      assert.match(overview.html, /Spent this month/);
      assert.match(overview.html, /demo\/demo-fast/, 'spend by model names the model');
    });

    test('models, routing, rotation and the plan: prices per tier and preset, the settings apply to the next call, the plan cap and model list show', async () => {
      const email = address('router');
      await verifiedAccount(email);
      const tenantId = await tenantOf(email);
      await gw.runtime.ledger.manual({
        tenantId,
        kind: 'credit',
        amountNano: 2 * USD,
        admin: 'test',
        reason: 'test credit',
      });
      const c = await signedIn(email);

      const models = await c.get('/console/models');
      assert.equal(models.status, 200);
      assert.match(models.html, /data-model="demo\/demo-fast"[\s\S]*?\$1<\/td>\s*<td class="num">\$4<\/td>/);
      assert.match(models.html, /<td>cheapest<\/td>[\s\S]*?demo\/demo-utility/);
      assert.match(models.html, /<td>balanced <span class="badge accent">yours<\/span>/);

      await c.get('/console/keys');
      const created = await c.post('/console/keys', { name: 'rotating' });
      const first = /id="secret"[^>]*value="([^"]+)"/.exec(created.html)![1]!;
      assert.equal(
        ((await (await chat(gw, first)).json()) as { model: string }).model.includes('demo-fast'),
        true,
        'balanced: the fast tier routes to demo-fast',
      );

      const settings = await c.get('/console/settings');
      assert.match(settings.html, /data-tier="fast">Now: <strong>demo\/demo-fast/);
      const bad = await c.post('/console/settings', { preset: 'nonsense' });
      assert.equal(bad.status, 400);
      await c.get('/console/settings');
      const saved = await c.post('/console/settings', { preset: 'cheapest' });
      assert.equal(saved.status, 303);
      assert.equal(saved.res.headers.get('location'), '/console/settings?saved=1');
      const next = await chat(gw, first);
      assert.equal(
        next.headers.get('x-model-router-model'),
        'demo/demo-utility',
        'the next call follows the new preset',
      );
      await next.text();

      const [record] = await gw.runtime.tenancy.repo.listKeys({ tenantId });
      await c.get('/console/keys');
      const rotated = await c.post(`/console/keys/${record!.id}/rotate`, {});
      assert.equal(rotated.status, 200);
      const second = /id="secret"[^>]*value="([^"]+)"/.exec(rotated.html)![1]!;
      assert.notEqual(second, first);
      assert.match(rotated.html, /previous secret keeps working until/);
      assert.equal((await chat(gw, second)).status, 200);
      assert.equal((await chat(gw, first)).status, 200, 'the old secret works during the grace period');

      await gw.runtime.ledger.savePlan({
        id: `starter${seq}`,
        name: 'Starter',
        monthlyCapNano: 10 * USD,
        models: ['demo/demo-fast'],
        public: false,
      });
      await gw.runtime.ledger.assignPlan(tenantId, `starter${seq}`);
      const overview = await c.get('/console');
      assert.match(overview.html, /% of the \$10\.00 cap of plan Starter/);
      const planModels = await c.get('/console/models');
      assert.match(planModels.html, /Your plan: Starter/);
      assert.match(planModels.html, /data-model="demo\/demo-fast"/);
      assert.doesNotMatch(planModels.html, /data-model="demo\/demo-deep"/, 'the plan’s model list limits the catalog');
    });

    test('mail budget: sign-ups and resets for one recipient stop after ten per window, from any address (429)', async () => {
      const email = address('flooded');
      for (let i = 0; i < 10; i++) {
        const res = await client().form('/console/forgot', '/console/forgot', { email });
        assert.equal(res.status, 200);
      }
      const blocked = await client().form('/console/signup', '/console/signup', { email, password: PASSWORD });
      assert.equal(blocked.status, 429);
      assert.ok(Number(blocked.res.headers.get('retry-after')) > 0);
      const rows = await gw.runtime.store.db
        .selectFrom('account_login')
        .select('email')
        .where('email', '=', email)
        .execute();
      assert.equal(rows.length, 0);

      // A signed-in account asking for new confirmation links counts on its address's budget too.
      const typo = address('typo');
      await signup(typo);
      const c = await signedIn(typo);
      await c.get('/console/account');
      for (let i = 0; i < 9; i++) assert.equal((await c.post('/console/account/resend', {})).status, 303);
      const resend = await c.post('/console/account/resend', {});
      assert.equal(resend.status, 429);
      assert.match(resend.html, /Too many attempts/);
      await gw.runtime.accounts.settle();
      assert.equal(smtp.to(typo).length, 10);
    });

    test('the console pages need a session', async () => {
      for (const path of [
        '/console',
        '/console/keys',
        '/console/billing',
        '/console/models',
        '/console/settings',
        '/console/account',
      ]) {
        const res = await fetch(`${gw.url}${path}`, { redirect: 'manual' });
        assert.equal(res.status, 303, path);
        assert.equal(res.headers.get('location'), '/console/login');
      }
    });
  });

describe('accounts with other settings: no mail server, an unreachable one, an https public URL, sign-up closed', () => {
  test('the verification link is one log line with no password; the session cookie is Secure with an https public URL', async () => {
    const gw = await startTenancyGateway({ server: { publicUrl: 'https://console.modro.test' } });
    try {
      const email = 'logged@example.com';
      const c = new ConsoleClient(gw.url);
      await c.get('/console/signup');
      const res = await c.post(
        '/console/signup',
        { email, password: PASSWORD },
        { origin: 'https://console.modro.test' },
      );
      assert.equal(res.status, 200);
      await gw.runtime.accounts.settle();
      const lines = gw.logs.filter((l) => l.includes('"link"'));
      assert.equal(lines.length, 1);
      const line = JSON.parse(lines[0]!) as { link: string; to: string; subject: string };
      assert.equal(line.to, email);
      assert.match(line.link, /^https:\/\/console\.modro\.test\/console\/verify\?token=[A-Za-z0-9_-]{43}$/);
      assert.ok(!gw.logs.join('').includes(PASSWORD), 'the password is never logged');

      const token = new URL(line.link).search;
      assert.equal((await fetch(`${gw.url}/console/verify${token}`)).status, 200);
      const login = new ConsoleClient(gw.url);
      await login.get('/console/login');
      const ok = await login.post(
        '/console/login',
        { email, password: PASSWORD },
        { origin: 'https://console.modro.test' },
      );
      assert.equal(ok.status, 303);
      const cookie = ok.lastSetCookies.find((l) => l.startsWith('modro_console='));
      assert.match(cookie ?? '', /; Secure/);
    } finally {
      await gw.close();
    }
  });

  test('a mail server that cannot be reached: the sign-up still answers, the failure is logged without secrets', async () => {
    const gw = await startTenancyGateway(
      {
        mail: {
          host: '127.0.0.1',
          port: 1,
          allowPlaintext: true,
          user: 'u',
          password: 'env:TEST_SMTP_PASSWORD',
          from: 'm@modro.test',
        },
      },
      { TEST_SMTP_PASSWORD: 'smtp-password-never-logged' },
    );
    try {
      const c = new ConsoleClient(gw.url);
      await c.get('/console/signup');
      const res = await c.post('/console/signup', { email: 'down@example.com', password: PASSWORD });
      assert.equal(res.status, 200);
      assert.match(res.html, /Check your mail/);
      await gw.runtime.accounts.settle();
      const logs = gw.logs.join('');
      assert.match(logs, /sending mail failed/);
      assert.ok(!logs.includes('smtp-password-never-logged'));
      assert.ok(!logs.includes(PASSWORD));
      assert.ok(!/console\/verify\?token=/.test(logs), 'the link is not logged when a server is configured');
    } finally {
      await gw.close();
    }
  });

  test('sign-up can be closed: the page and the form answer 404, and nothing is created', async () => {
    const gw = await startTenancyGateway({ accounts: { signup: false } });
    try {
      assert.equal((await fetch(`${gw.url}/console/signup`)).status, 404);
      const c = new ConsoleClient(gw.url);
      await c.get('/console/login');
      const res = await c.post('/console/signup', { email: 'closed@example.com', password: PASSWORD });
      assert.equal(res.status, 404);
      assert.match(res.html, /Sign-up is closed/);
      const rows = await gw.runtime.store.db.selectFrom('account_login').select('email').execute();
      assert.equal(rows.length, 0);
    } finally {
      await gw.close();
    }
  });
});
