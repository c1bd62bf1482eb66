import type { FastifyReply, FastifyRequest } from 'fastify';

/**
 * Cookies, security headers and forms for the dashboard pages, by hand: three small functions instead of
 * three plugins. Pages run no script at all, which the Content-Security-Policy enforces.
 */
export const CLIENT_COOKIE = 'modro_client';
export const ADMIN_COOKIE = 'modro_admin';

/** The pages' Content-Security-Policy, with the origins their forms may post to (and be redirected to). */
export function contentSecurityPolicy(formAction = "'self'"): string {
  return `default-src 'none'; style-src 'self'; img-src 'self' data:; form-action ${formAction}; frame-ancestors 'none'; base-uri 'none'`;
}

export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': contentSecurityPolicy(),
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  // Dashboard links carry a token in their query string: never hand it to another site. (Not no-referrer:
  // with it Chromium sends `Origin: null` on same-site form posts, which the origin check must refuse.)
  'referrer-policy': 'same-origin',
  'cache-control': 'no-store',
};

export function readCookie(req: FastifyRequest, name: string): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) {
      const value = part.slice(eq + 1).trim();
      try {
        return decodeURIComponent(value);
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

export interface CookieOptions {
  path: string;
  maxAgeMs: number;
  secure: boolean;
  sameSite: 'Lax' | 'Strict';
}

export function setCookie(reply: FastifyReply, name: string, value: string, o: CookieOptions): void {
  const parts = [
    `${name}=${encodeURIComponent(value)}`,
    `Path=${o.path}`,
    `Max-Age=${Math.max(0, Math.floor(o.maxAgeMs / 1000))}`,
    'HttpOnly',
    `SameSite=${o.sameSite}`,
  ];
  if (o.secure) parts.push('Secure');
  const existing = reply.getHeader('set-cookie');
  const list = Array.isArray(existing) ? existing.map(String) : existing ? [String(existing)] : [];
  reply.header('set-cookie', [...list, parts.join('; ')]);
}

export function clearCookie(reply: FastifyReply, name: string, path: string, secure: boolean): void {
  setCookie(reply, name, '', { path, maxAgeMs: 0, secure, sameSite: 'Lax' });
}

/** Secure cookies when configured, or (auto) when the public URL is https or the request came over TLS. */
export function cookieSecure(setting: boolean | 'auto', publicUrl: string | undefined, req: FastifyRequest): boolean {
  if (setting !== 'auto') return setting;
  return publicUrl?.startsWith('https://') === true || req.protocol === 'https';
}

/** `application/x-www-form-urlencoded` → first value per field. */
export function parseForm(body: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of new URLSearchParams(body)) if (!(key in out)) out[key] = value;
  return out;
}

/**
 * A state-changing request from another origin is refused even before the CSRF token is checked (browsers
 * send Origin on cross-site POSTs). Requests without Origin (old browsers, scripts) rely on the token. The
 * origin may be this request's host, or server.publicUrl's (a proxy may rewrite Host).
 */
export function sameOrigin(req: FastifyRequest, publicUrl?: string): boolean {
  const origin = req.headers.origin;
  if (!origin) return true;
  try {
    const host = new URL(origin).host;
    return host === req.headers.host || (publicUrl !== undefined && host === new URL(publicUrl).host);
  } catch {
    return false;
  }
}

export function formField(req: FastifyRequest, name: string): string | undefined {
  const body = req.body as Record<string, unknown> | undefined;
  const value = body?.[name];
  return typeof value === 'string' ? value : undefined;
}
