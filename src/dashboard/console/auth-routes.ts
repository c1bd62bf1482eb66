import type { FastifyInstance, FastifyReply } from 'fastify';
import { validSignup } from '../../accounts/service.ts';
import { GatewayError } from '../../core/errors.ts';
import type { DashboardDeps } from '../deps.ts';
import { html } from '../html.ts';
import { clearCookie, formField } from '../http.ts';
import { messagePage } from '../layout.ts';
import { redirect, sendHtml } from '../respond.ts';
import {
  checkMailPage,
  forgotPage,
  linkProblemPage,
  loginPage,
  resetPage,
  signupPage,
  throttledPage,
} from './auth-pages.ts';
import type { ConsoleThrottles } from './register.ts';
import {
  CONSOLE_COOKIE,
  CONSOLE_PATH,
  consoleCookieSecure,
  consoleForForm,
  consoleFromRequest,
  preFormOk,
  preToken,
  refuseForm,
  startConsoleSession,
} from './session.ts';

/** The 429 page, with Retry-After. */
export function throttled(reply: FastifyReply, retryAfterSeconds: number) {
  reply.header('retry-after', String(retryAfterSeconds));
  return sendHtml(reply, 429, throttledPage(retryAfterSeconds));
}

/**
 * Signing up, in and out, and the links mailed to an account (docs/accounts.md). Sign-in attempts are counted
 * per client address and per account before the password hash runs (10 per 15 minutes each, like the admin
 * login); sign-ups and reset requests, which send mail, have their own budget per address and per recipient.
 */
export function registerConsoleAuth(app: FastifyInstance, deps: DashboardDeps, throttles: ConsoleThrottles): void {
  const { accounts } = deps;
  const { logins, mails } = throttles;
  const query = (req: { query: unknown }, name: string) => (req.query as Record<string, unknown>)[name];

  const signupClosed = (reply: FastifyReply) =>
    sendHtml(reply, 404, messagePage('Sign-up is closed', 'This gateway does not take new accounts.', 'error'));

  app.get('/console/signup', async (req, reply) => {
    if (!deps.config.accounts.signup) return signupClosed(reply);
    return sendHtml(reply, 200, signupPage(preToken(deps, req, reply)));
  });

  app.post('/console/signup', async (req, reply) => {
    if (!deps.config.accounts.signup) return signupClosed(reply);
    if (!preFormOk(deps, req)) return refuseForm(reply);
    const email = formField(req, 'email') ?? '';
    const input = { email, password: formField(req, 'password') };
    try {
      // A refused address or password sends no mail and does not count on the mail budget.
      validSignup(input);
      const slot = await mails.reserve(req.ip, email);
      if (!slot.allowed) return throttled(reply, slot.retryAfterSeconds);
      await accounts.signup(input);
    } catch (err) {
      if (!(err instanceof GatewayError) || err.code !== 'invalid_request') throw err;
      return sendHtml(
        reply,
        400,
        signupPage(preToken(deps, req, reply), { tone: 'bad', text: err.message }, email.slice(0, 254)),
      );
    }
    return sendHtml(reply, 200, checkMailPage('signup'));
  });

  app.get('/console/login', async (req, reply) => {
    if (await consoleFromRequest(deps, req)) return redirect(reply, '/console');
    const notice =
      query(req, 'notice') === 'reset'
        ? ({ tone: 'good', text: 'Your password is set. Sign in with it.' } as const)
        : undefined;
    return sendHtml(reply, 200, loginPage(preToken(deps, req, reply), notice));
  });

  app.post('/console/login', async (req, reply) => {
    if (!preFormOk(deps, req)) return refuseForm(reply);
    const email = formField(req, 'email') ?? '';
    // Counted before the hash runs: parallel guesses cannot all be evaluated before the first one fails.
    const slot = await logins.reserve(req.ip, email);
    if (!slot.allowed) return throttled(reply, slot.retryAfterSeconds);
    const outcome = await accounts.signIn(email, formField(req, 'password'));
    if (!outcome.ok) {
      return sendHtml(
        reply,
        401,
        loginPage(preToken(deps, req, reply), { tone: 'bad', text: 'Wrong email or password.' }, email.slice(0, 254)),
      );
    }
    logins.succeeded(req.ip, email);
    await startConsoleSession(deps, req, reply, outcome.account.tenantId);
    return redirect(reply, '/console');
  });

  app.post('/console/logout', async (req, reply) => {
    const ctx = await consoleForForm(deps, req, reply);
    if (!ctx) return;
    await deps.tenancy.sessions.delete(ctx.token);
    clearCookie(reply, CONSOLE_COOKIE, CONSOLE_PATH, consoleCookieSecure(deps, req));
    return redirect(reply, '/console/login');
  });

  app.get('/console/verify', async (req, reply) => {
    const check = await accounts.verify(query(req, 'token'));
    if (!check.ok) {
      return sendHtml(
        reply,
        check.reason === 'invalid' ? 404 : 410,
        linkProblemPage(check.reason, { href: '/console/account', label: 'Sign in to send a new link' }),
      );
    }
    return sendHtml(
      reply,
      200,
      messagePage(
        'Address confirmed',
        html`${check.email} is confirmed. <a href="/console/login">Sign in</a> to create API keys and add funds.`,
      ),
    );
  });

  app.get('/console/forgot', async (req, reply) => sendHtml(reply, 200, forgotPage(preToken(deps, req, reply))));

  app.post('/console/forgot', async (req, reply) => {
    if (!preFormOk(deps, req)) return refuseForm(reply);
    const email = formField(req, 'email') ?? '';
    const slot = await mails.reserve(req.ip, email);
    if (!slot.allowed) return throttled(reply, slot.retryAfterSeconds);
    try {
      await accounts.requestReset(email);
    } catch (err) {
      if (!(err instanceof GatewayError) || err.code !== 'invalid_request') throw err;
      return sendHtml(reply, 400, forgotPage(preToken(deps, req, reply), { tone: 'bad', text: err.message }));
    }
    return sendHtml(reply, 200, checkMailPage('reset'));
  });

  const resetAgain = { href: '/console/forgot', label: 'Ask for a new reset link' };

  app.get('/console/reset', async (req, reply) => {
    const token = query(req, 'token');
    const check = await accounts.checkReset(token);
    if (!check.ok)
      return sendHtml(reply, check.reason === 'invalid' ? 404 : 410, linkProblemPage(check.reason, resetAgain));
    return sendHtml(reply, 200, resetPage(preToken(deps, req, reply), token as string));
  });

  app.post('/console/reset', async (req, reply) => {
    if (!preFormOk(deps, req)) return refuseForm(reply);
    const token = formField(req, 'token') ?? '';
    try {
      const check = await accounts.resetPassword(token, formField(req, 'password'));
      if (!check.ok)
        return sendHtml(reply, check.reason === 'invalid' ? 404 : 410, linkProblemPage(check.reason, resetAgain));
    } catch (err) {
      if (!(err instanceof GatewayError) || err.code !== 'invalid_request') throw err;
      return sendHtml(reply, 400, resetPage(preToken(deps, req, reply), token, { tone: 'bad', text: err.message }));
    }
    clearCookie(reply, CONSOLE_COOKIE, CONSOLE_PATH, consoleCookieSecure(deps, req));
    return redirect(reply, '/console/login?notice=reset');
  });

  app.get('/console/confirm-email', async (req, reply) => {
    const check = await accounts.confirmEmailChange(query(req, 'token'));
    if (!check.ok) {
      return sendHtml(
        reply,
        check.reason === 'invalid' ? 404 : 410,
        linkProblemPage(check.reason, { href: '/console/account', label: 'Start the change again' }),
      );
    }
    return sendHtml(
      reply,
      200,
      messagePage(
        'Address changed',
        html`Your account's address is now ${check.email}. <a href="/console/login">Sign in</a> with it from now on.`,
      ),
    );
  });
}
