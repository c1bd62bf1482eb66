import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Account } from '../../accounts/repository.ts';
import { sha256Hex } from '../../tenancy/auth.ts';
import { csrfMatches, type Session } from '../../tenancy/sessions.ts';
import type { Tenant } from '../../tenancy/tenant.ts';
import type { DashboardDeps } from '../deps.ts';
import { cookieSecure, formField, readCookie, sameOrigin, setCookie } from '../http.ts';
import { messagePage } from '../layout.ts';
import { redirect, sendHtml } from '../respond.ts';

/**
 * Console sessions (docs/accounts.md): a self-service account signed in with its password. Their own cookie
 * (`modro_console`, Path=/console, HttpOnly, SameSite=Lax, Secure behind TLS) and their own session kind, so a
 * signed client-dashboard link never opens the console (which can create keys and take payments) and a console
 * session never opens /client or /admin. The tenant always comes from the session.
 *
 * Forms shown before signing in (sign-up, sign-in, forgot, reset) carry a token that must equal the
 * `modro_console_pre` cookie (double submit): a site that cannot read our cookies cannot forge those posts.
 */
export const CONSOLE_COOKIE = 'modro_console';
export const PRE_COOKIE = 'modro_console_pre';
export const CONSOLE_PATH = '/console';

export interface ConsoleContext {
  token: string;
  session: Session;
  tenant: Tenant;
  account: Account;
}

export function consoleCookieSecure(deps: DashboardDeps, req: FastifyRequest): boolean {
  return cookieSecure(deps.tenancy.config.cookies.secure, deps.config.server.publicUrl, req);
}

export async function consoleFromRequest(
  deps: DashboardDeps,
  req: FastifyRequest,
): Promise<ConsoleContext | undefined> {
  const token = readCookie(req, CONSOLE_COOKIE);
  const session = await deps.tenancy.sessions.find(token, 'console');
  if (!token || !session?.tenantId) return undefined;
  const [tenant, account] = await Promise.all([
    deps.tenancy.repo.getTenant(session.tenantId),
    deps.accounts.get(session.tenantId),
  ]);
  return tenant && account ? { token, session, tenant, account } : undefined;
}

/** GET pages: no console session → the sign-in page. */
export async function consoleForPage(
  deps: DashboardDeps,
  req: FastifyRequest,
  reply: FastifyReply,
): Promise<ConsoleContext | undefined> {
  const ctx = await consoleFromRequest(deps, req);
  if (!ctx) void redirect(reply, '/console/login');
  return ctx;
}

/** POST forms of a signed-in account: the session, same origin and the session's CSRF token, else a plain 403. */
export async function consoleForForm(
  deps: DashboardDeps,
  req: FastifyRequest,
  reply: FastifyReply,
): Promise<ConsoleContext | undefined> {
  const ctx = await consoleFromRequest(deps, req);
  if (ctx && sameOrigin(req, deps.config.server.publicUrl) && csrfMatches(ctx.session, formField(req, '_csrf')))
    return ctx;
  void refuseForm(reply);
  return undefined;
}

export function refuseForm(reply: FastifyReply) {
  return sendHtml(
    reply,
    403,
    messagePage(
      'Request refused',
      'The form was stale or did not come from this site. Reload the page and try again.',
      'error',
    ),
  );
}

/** The pre-session form token: the cookie's value, set now if the browser has none. */
export function preToken(deps: DashboardDeps, req: FastifyRequest, reply: FastifyReply): string {
  const existing = readCookie(req, PRE_COOKIE);
  if (existing && /^[A-Za-z0-9_-]{32}$/.test(existing)) return existing;
  const token = randomBytes(24).toString('base64url');
  setCookie(reply, PRE_COOKIE, token, {
    path: CONSOLE_PATH,
    maxAgeMs: 24 * 3_600_000,
    secure: consoleCookieSecure(deps, req),
    sameSite: 'Lax',
  });
  return token;
}

/** A pre-session form post: same origin and `_csrf` equal to the cookie. */
export function preFormOk(deps: DashboardDeps, req: FastifyRequest): boolean {
  const cookie = readCookie(req, PRE_COOKIE);
  const field = formField(req, '_csrf');
  if (!cookie || !field || !sameOrigin(req, deps.config.server.publicUrl)) return false;
  const a = Buffer.from(cookie);
  const b = Buffer.from(field);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Signs an account in: a new console session and its cookie. */
export async function startConsoleSession(
  deps: DashboardDeps,
  req: FastifyRequest,
  reply: FastifyReply,
  tenantId: string,
): Promise<void> {
  const ttlMs = deps.config.accounts.sessionTtlMs;
  const { token } = await deps.tenancy.sessions.create({ kind: 'console', tenantId, ttlMs });
  setCookie(reply, CONSOLE_COOKIE, token, {
    path: CONSOLE_PATH,
    maxAgeMs: ttlMs,
    secure: consoleCookieSecure(deps, req),
    sameSite: 'Lax',
  });
}

/** The stored id of a session's cookie value (to keep the current session when ending the others). */
export function sessionHash(token: string): string {
  return sha256Hex(token);
}
