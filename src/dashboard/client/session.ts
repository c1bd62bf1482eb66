import type { FastifyReply, FastifyRequest } from 'fastify';
import { csrfMatches, type Session } from '../../tenancy/sessions.ts';
import type { Tenant } from '../../tenancy/tenant.ts';
import type { DashboardDeps } from '../deps.ts';
import { CLIENT_COOKIE, cookieSecure, formField, readCookie, sameOrigin } from '../http.ts';
import { messagePage } from '../layout.ts';
import { sendForbidden, sendHtml } from '../respond.ts';

/**
 * Client sessions, opened from a signed link: the tenant always comes from the session, never from the URL
 * or a form, so no parameter can point a client page at another tenant.
 */
export const CLIENT_COOKIE_PATH = '/client';

export interface ClientContext {
  token: string;
  session: Session;
  tenant: Tenant;
}

export function clientCookieSecure(deps: DashboardDeps, req: FastifyRequest): boolean {
  return cookieSecure(deps.tenancy.config.cookies.secure, deps.config.server.publicUrl, req);
}

/** The session's tenant, or undefined after answering 403. Revoked links also end their sessions. */
export async function clientForPage(
  deps: DashboardDeps,
  req: FastifyRequest,
  reply: FastifyReply,
): Promise<ClientContext | undefined> {
  const { sessions, repo } = deps.tenancy;
  const token = readCookie(req, CLIENT_COOKIE);
  const session = await sessions.find(token, 'client');
  const tenant = session?.tenantId ? await repo.getTenant(session.tenantId) : undefined;
  if (!token || !session || !tenant || session.createdAt < tenant.linksValidAfter) {
    void sendForbidden(reply);
    return undefined;
  }
  return { token, session, tenant };
}

/** State-changing requests: a session as for a page, same origin and the session's CSRF token, or a plain 403. */
export async function clientForForm(
  deps: DashboardDeps,
  req: FastifyRequest,
  reply: FastifyReply,
): Promise<ClientContext | undefined> {
  const ctx = await clientForPage(deps, req, reply);
  if (!ctx) return undefined;
  if (sameOrigin(req, deps.config.server.publicUrl) && csrfMatches(ctx.session, formField(req, '_csrf'))) return ctx;
  void sendHtml(
    reply,
    403,
    messagePage(
      'Request refused',
      'The form was stale or did not come from this site. Reload the page and try again.',
      'error',
    ),
  );
  return undefined;
}
