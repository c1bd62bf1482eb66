import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AdminUser } from '../../tenancy/admin-users.ts';
import type { Session } from '../../tenancy/sessions.ts';
import type { DashboardDeps } from '../deps.ts';
import { ADMIN_COOKIE, cookieSecure, readCookie, setCookie } from '../http.ts';

/** Admin sessions: their own cookie, scoped to /admin, SameSite=Strict; a client session never counts. */
export const ADMIN_COOKIE_PATH = '/admin';
export const ADMIN_SESSION_TTL_MS = 8 * 3_600_000;

export interface AdminContext {
  token: string;
  session: Session;
  user: AdminUser;
}

export async function adminFromRequest(deps: DashboardDeps, req: FastifyRequest): Promise<AdminContext | undefined> {
  const token = readCookie(req, ADMIN_COOKIE);
  const session = await deps.tenancy.sessions.find(token, 'admin');
  if (!token || !session?.adminUserId) return undefined;
  const user = await deps.tenancy.admins.get(session.adminUserId);
  return user ? { token, session, user } : undefined;
}

export async function startAdminSession(
  deps: DashboardDeps,
  req: FastifyRequest,
  reply: FastifyReply,
  user: AdminUser,
) {
  const ttlMs = Math.min(ADMIN_SESSION_TTL_MS, deps.tenancy.config.cookies.sessionTtlMs);
  const { token, session } = await deps.tenancy.sessions.create({ kind: 'admin', adminUserId: user.id, ttlMs });
  setCookie(reply, ADMIN_COOKIE, token, {
    path: ADMIN_COOKIE_PATH,
    maxAgeMs: ttlMs,
    secure: cookieSecure(deps.tenancy.config.cookies.secure, deps.config.server.publicUrl, req),
    sameSite: 'Strict',
  });
  return session;
}
