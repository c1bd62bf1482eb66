import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Runtime } from '../../server/runtime.ts';
import type { AdminUser } from '../../tenancy/admin-users.ts';
import type { Session } from '../../tenancy/sessions.ts';
import { ADMIN_COOKIE, cookieSecure, readCookie, setCookie } from '../http.ts';

/** Admin sessions: their own cookie, scoped to /admin, SameSite=Strict; a client session never counts. */
export const ADMIN_COOKIE_PATH = '/admin';
export const ADMIN_SESSION_TTL_MS = 8 * 3_600_000;

export interface AdminContext {
  token: string;
  session: Session;
  user: AdminUser;
}

export async function adminFromRequest(runtime: Runtime, req: FastifyRequest): Promise<AdminContext | undefined> {
  const token = readCookie(req, ADMIN_COOKIE);
  const session = await runtime.tenancy.sessions.find(token, 'admin');
  if (!token || !session?.adminUserId) return undefined;
  const user = await runtime.tenancy.admins.get(session.adminUserId);
  return user ? { token, session, user } : undefined;
}

export async function startAdminSession(runtime: Runtime, req: FastifyRequest, reply: FastifyReply, user: AdminUser) {
  const ttlMs = Math.min(ADMIN_SESSION_TTL_MS, runtime.tenancy.config.cookies.sessionTtlMs);
  const { token, session } = await runtime.tenancy.sessions.create({ kind: 'admin', adminUserId: user.id, ttlMs });
  setCookie(reply, ADMIN_COOKIE, token, {
    path: ADMIN_COOKIE_PATH,
    maxAgeMs: ttlMs,
    secure: cookieSecure(runtime.tenancy.config.cookies.secure, runtime.config.server.publicUrl, req),
    sameSite: 'Strict',
  });
  return session;
}
