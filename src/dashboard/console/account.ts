import type { FastifyInstance, FastifyReply } from 'fastify';
import { GatewayError } from '../../core/errors.ts';
import { MIN_PASSWORD_LENGTH } from '../../tenancy/passwords.ts';
import type { DashboardDeps } from '../deps.ts';
import { dateTime } from '../format.ts';
import { html, type SafeHtml } from '../html.ts';
import { formField } from '../http.ts';
import { type Notice, noticeBox } from '../layout.ts';
import { redirect, sendHtml } from '../respond.ts';
import { throttled } from './auth-routes.ts';
import { consoleLayout, csrfField } from './layout.ts';
import type { ConsoleThrottles } from './register.ts';
import { type ConsoleContext, consoleForForm, consoleForPage, sessionHash } from './session.ts';

const NOTICES: Record<string, Notice> = {
  password: { tone: 'good', text: 'Password changed. Other sessions of this account were signed out.' },
  email: {
    tone: 'good',
    text: 'A link to confirm the new address is on its way to it. Your address changes when it is followed.',
  },
  resent: { tone: 'good', text: 'A new confirmation link is on its way. Earlier links no longer work.' },
};

/** `/console/account`: the address and its confirmation, a change of password or of address. */
export function registerConsoleAccount(app: FastifyInstance, deps: DashboardDeps, throttles: ConsoleThrottles): void {
  const { accounts } = deps;
  const render = (ctx: ConsoleContext, reply: FastifyReply, status: number, notice?: Notice) =>
    sendHtml(reply, status, accountPage(ctx, notice));
  /** Runs a form's operation; a refusal re-renders the page with its message. */
  const attempt = async (ctx: ConsoleContext, reply: FastifyReply, work: () => Promise<void>, done: string) => {
    try {
      await work();
    } catch (err) {
      if (!(err instanceof GatewayError) || err.code !== 'invalid_request') throw err;
      return render(ctx, reply, 400, { tone: 'bad', text: err.message });
    }
    return redirect(reply, `/console/account?notice=${done}`);
  };

  app.get('/console/account', async (req, reply) => {
    const ctx = await consoleForPage(deps, req, reply);
    if (!ctx) return;
    const key = (req.query as Record<string, unknown>)['notice'];
    return render(ctx, reply, 200, typeof key === 'string' ? NOTICES[key] : undefined);
  });

  app.post('/console/account/password', async (req, reply) => {
    const ctx = await consoleForForm(deps, req, reply);
    if (!ctx) return;
    return attempt(
      ctx,
      reply,
      () =>
        accounts.changePassword(
          ctx.tenant.id,
          formField(req, 'current'),
          formField(req, 'password'),
          sessionHash(ctx.token),
        ),
      'password',
    );
  });

  app.post('/console/account/email', async (req, reply) => {
    const ctx = await consoleForForm(deps, req, reply);
    if (!ctx) return;
    const slot = await throttles.mails.reserve(req.ip, formField(req, 'email') ?? '');
    if (!slot.allowed) return throttled(reply, slot.retryAfterSeconds);
    return attempt(
      ctx,
      reply,
      () => accounts.requestEmailChange(ctx.tenant.id, formField(req, 'password'), formField(req, 'email')),
      'email',
    );
  });

  app.post('/console/account/resend', async (req, reply) => {
    const ctx = await consoleForForm(deps, req, reply);
    if (!ctx) return;
    const slot = await throttles.mails.reserve(req.ip, ctx.account.email);
    if (!slot.allowed) return throttled(reply, slot.retryAfterSeconds);
    return attempt(ctx, reply, () => accounts.resendVerification(ctx.tenant.id), 'resent');
  });
}

function accountPage(ctx: ConsoleContext, notice?: Notice): SafeHtml {
  const csrf = ctx.session.csrf;
  const { account } = ctx;
  return consoleLayout('account', ctx, {
    title: 'Account',
    body: html`
<div class="page-head"><div><h1>Account</h1><p>Signed up ${dateTime(account.createdAt)} UTC.</p></div></div>
${noticeBox(notice)}
<section class="card" id="address">
  <div class="card-head"><h2>Address</h2><span class="hint">${account.verifiedAt === null ? 'not confirmed yet' : `confirmed ${dateTime(account.verifiedAt)}`}</span></div>
  <p class="mono" id="email">${account.email}</p>
  ${
    account.verifiedAt === null
      ? html`<form method="post" action="/console/account/resend">${csrfField(csrf)}<button class="button secondary" type="submit">Send a new confirmation link</button></form>`
      : ''
  }
</section>
<div class="grid two">
<section class="card">
  <div class="card-head"><h2>Change password</h2></div>
  <form class="stack" method="post" action="/console/account/password">
    ${csrfField(csrf)}
    <div class="field"><label for="current">Current password</label><input id="current" name="current" type="password" autocomplete="current-password" required></div>
    <div class="field"><label for="new-password">New password</label><span class="help">At least ${MIN_PASSWORD_LENGTH} characters; not a common password, not your address.</span><input id="new-password" name="password" type="password" autocomplete="new-password" minlength="${MIN_PASSWORD_LENGTH}" required></div>
    <button class="button" type="submit">Change password</button>
  </form>
</section>
<section class="card">
  <div class="card-head"><h2>Change address</h2></div>
  <form class="stack" method="post" action="/console/account/email">
    ${csrfField(csrf)}
    <div class="field"><label for="new-email">New address</label><input id="new-email" name="email" type="email" autocomplete="email" required></div>
    <div class="field"><label for="email-password">Password</label><input id="email-password" name="password" type="password" autocomplete="current-password" required></div>
    <button class="button" type="submit">Send a confirmation link</button>
  </form>
</section>
</div>`,
  });
}
