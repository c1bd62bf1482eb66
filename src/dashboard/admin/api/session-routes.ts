import type { FastifyInstance } from 'fastify';
import type { DashboardDeps } from '../../deps.ts';
import { attemptLogin } from '../attempt-login.ts';
import type { LoginThrottle } from '../login-throttle.ts';
import { startAdminSession } from '../session.ts';
import { adminForApi, jsonObject } from './request.ts';

/**
 * `POST /admin/api/session {"username","password"}` signs in (sharing the login page's throttle) and returns
 * the `csrfToken` to send as `X-CSRF-Token` on every POST, PATCH and DELETE; `DELETE` signs out.
 */
export function registerAdminApiSession(app: FastifyInstance, deps: DashboardDeps, throttle: LoginThrottle): void {
  app.post('/admin/api/session', async (req, reply) => {
    const input = jsonObject(req);
    const [username, password] = [String(input['username'] ?? ''), String(input['password'] ?? '')];
    const login = await attemptLogin(deps.tenancy.admins, throttle, req.ip, username, password);
    if (login.kind === 'throttled') {
      return reply
        .code(429)
        .header('retry-after', String(login.retryAfterSeconds))
        .send({ error: { code: 'rate_limited', message: 'Too many attempts' } });
    }
    if (login.kind === 'wrong') {
      return reply.code(401).send({ error: { code: 'authentication_failed', message: 'Wrong username or password' } });
    }
    const session = await startAdminSession(deps, req, reply, login.user);
    return { username: login.user.username, csrfToken: session.csrf, expiresAt: session.expiresAt };
  });

  app.delete('/admin/api/session', async (req, reply) => {
    const ctx = await adminForApi(deps, req, reply, true);
    if (!ctx) return;
    await deps.tenancy.sessions.delete(ctx.token);
    return { ok: true };
  });
}
