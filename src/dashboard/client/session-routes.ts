import type { FastifyInstance } from 'fastify';
import { OPEN_PATH } from '../../tenancy/dashboard-links.ts';
import type { DashboardDeps } from '../deps.ts';
import { CLIENT_COOKIE, clearCookie, setCookie } from '../http.ts';
import { messagePage } from '../layout.ts';
import { redirect, sendForbidden, sendHtml } from '../respond.ts';
import { CLIENT_COOKIE_PATH, clientCookieSecure, clientForForm } from './session.ts';

/** A client session's life: opened from a signed link, ended by signing out or by revoking every link. */
export function registerClientSession(app: FastifyInstance, deps: DashboardDeps): void {
  const { tenancy } = deps;
  const { cookies } = tenancy.config;

  app.get(OPEN_PATH, async (req, reply) => {
    const link = (req.query as Record<string, unknown>)['link'];
    const check = typeof link === 'string' ? tenancy.links.verify(link) : undefined;
    if (!check?.ok) return sendForbidden(reply);
    // A new bring-your-own-key tenant's first link can be opened while its row is still being written.
    await tenancy.auth.provisioned(check.claims.tenantId);
    const tenant = await tenancy.repo.getTenant(check.claims.tenantId);
    if (!tenant || check.claims.issuedAt < tenant.linksValidAfter) return sendForbidden(reply);
    const { token } = await tenancy.sessions.create({
      kind: 'client',
      tenantId: tenant.id,
      ttlMs: cookies.sessionTtlMs,
    });
    setCookie(reply, CLIENT_COOKIE, token, {
      path: CLIENT_COOKIE_PATH,
      maxAgeMs: cookies.sessionTtlMs,
      secure: clientCookieSecure(deps, req),
      sameSite: cookies.sameSite === 'strict' ? 'Strict' : 'Lax',
    });
    // A clean URL: the token leaves the address bar and the browser history entry.
    return redirect(reply, '/client');
  });

  app.post('/client/revoke-links', async (req, reply) => {
    const ctx = await clientForForm(deps, req, reply);
    if (!ctx) return;
    await tenancy.repo.revokeDashboardLinks(ctx.tenant.id);
    await tenancy.directory.afterWrite();
    clearCookie(reply, CLIENT_COOKIE, CLIENT_COOKIE_PATH, clientCookieSecure(deps, req));
    return sendHtml(
      reply,
      200,
      messagePage(
        'All links revoked',
        'Every dashboard link issued so far, including the one you used, no longer works. The link in your next API response opens the dashboard again.',
      ),
    );
  });

  app.post('/client/logout', async (req, reply) => {
    const ctx = await clientForForm(deps, req, reply);
    if (!ctx) return;
    await tenancy.sessions.delete(ctx.token);
    clearCookie(reply, CLIENT_COOKIE, CLIENT_COOKIE_PATH, clientCookieSecure(deps, req));
    return sendHtml(
      reply,
      200,
      messagePage('Signed out', 'Open the dashboard link from any API response to come back.'),
    );
  });
}
