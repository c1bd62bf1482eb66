import type { FastifyReply, FastifyRequest } from 'fastify';
import { csrfMatches } from '../../tenancy/sessions.ts';
import type { DashboardDeps } from '../deps.ts';
import { formField, sameOrigin } from '../http.ts';
import { messagePage } from '../layout.ts';
import { redirect, sendHtml } from '../respond.ts';
import { type AdminContext, adminFromRequest } from './session.ts';

/**
 * The checks in front of every admin page and form. Each answers the request itself when the check fails
 * (a redirect to the login page, or a plain 403) and returns undefined; the route then returns at once.
 */

/** GET pages: no admin session → the login page. */
export async function adminForPage(
  deps: DashboardDeps,
  req: FastifyRequest,
  reply: FastifyReply,
): Promise<AdminContext | undefined> {
  const ctx = await adminFromRequest(deps, req);
  if (!ctx) void redirect(reply, '/admin/login');
  return ctx;
}

/** POST forms: an admin session, same origin and the session's CSRF token, else a plain 403. */
export async function adminForForm(
  deps: DashboardDeps,
  req: FastifyRequest,
  reply: FastifyReply,
): Promise<AdminContext | undefined> {
  const ctx = await adminFromRequest(deps, req);
  if (ctx && sameOrigin(req, deps.config.server.publicUrl) && csrfMatches(ctx.session, formField(req, '_csrf')))
    return ctx;
  void sendHtml(reply, 403, messagePage('Request refused', 'Sign in again and retry from the admin pages.', 'error'));
  return undefined;
}
