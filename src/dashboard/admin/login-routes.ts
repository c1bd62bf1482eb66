import type { FastifyInstance } from 'fastify';
import type { DashboardDeps } from '../deps.ts';
import { ADMIN_COOKIE, clearCookie, cookieSecure, formField } from '../http.ts';
import { redirect, sendHtml } from '../respond.ts';
import { attemptLogin } from './attempt-login.ts';
import { adminForForm } from './guards.ts';
import { adminLoginPage } from './login-page.ts';
import type { LoginThrottle } from './login-throttle.ts';
import { ADMIN_COOKIE_PATH, adminFromRequest, startAdminSession } from './session.ts';

/** The admin login page, its form (throttled with the JSON API's sign-in) and sign-out. */
export function registerAdminLogin(app: FastifyInstance, deps: DashboardDeps, throttle: LoginThrottle): void {
  app.get('/admin/login', async (req, reply) => {
    if (await adminFromRequest(deps, req)) return redirect(reply, '/admin');
    return sendHtml(reply, 200, adminLoginPage());
  });

  app.post('/admin/login', async (req, reply) => {
    const [username, password] = [formField(req, 'username') ?? '', formField(req, 'password') ?? ''];
    const login = await attemptLogin(deps.tenancy.admins, throttle, req.ip, username, password);
    if (login.kind === 'throttled') {
      reply.header('retry-after', String(login.retryAfterSeconds));
      return sendHtml(reply, 429, adminLoginPage('Too many attempts. Wait a few minutes and try again.'));
    }
    if (login.kind === 'wrong') return sendHtml(reply, 401, adminLoginPage('Wrong username or password.'));
    await startAdminSession(deps, req, reply, login.user);
    return redirect(reply, '/admin');
  });

  app.post('/admin/logout', async (req, reply) => {
    const ctx = await adminForForm(deps, req, reply);
    if (!ctx) return;
    await deps.tenancy.sessions.delete(ctx.token);
    const secure = cookieSecure(deps.tenancy.config.cookies.secure, deps.config.server.publicUrl, req);
    clearCookie(reply, ADMIN_COOKIE, ADMIN_COOKIE_PATH, secure);
    return redirect(reply, '/admin/login');
  });
}
