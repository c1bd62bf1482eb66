import type { FastifyReply, FastifyRequest } from 'fastify';
import { GatewayError } from '../../../core/errors.ts';
import { csrfMatches } from '../../../tenancy/sessions.ts';
import type { DashboardDeps } from '../../deps.ts';
import { sameOrigin } from '../../http.ts';
import { type AdminContext, adminFromRequest } from '../session.ts';

/**
 * The admin session of an API call, or undefined after answering 401 (no session) or 403 (a mutating call
 * without the session's X-CSRF-Token, or from another origin).
 */
export async function adminForApi(
  deps: DashboardDeps,
  req: FastifyRequest,
  reply: FastifyReply,
  mutating: boolean,
): Promise<AdminContext | undefined> {
  const ctx = await adminFromRequest(deps, req);
  if (!ctx) {
    void reply.code(401).send({ error: { code: 'authentication_failed', message: 'Admin session required' } });
    return undefined;
  }
  if (
    mutating &&
    !(sameOrigin(req, deps.config.server.publicUrl) && csrfMatches(ctx.session, req.headers['x-csrf-token']))
  ) {
    void reply.code(403).send({ error: { code: 'permission_denied', message: 'Missing or wrong X-CSRF-Token' } });
    return undefined;
  }
  return ctx;
}

/** The request's JSON object body; any other JSON value is refused. */
export function jsonObject(req: FastifyRequest): Record<string, unknown> {
  const value = req.body;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new GatewayError('invalid_request', 'Send a JSON object');
  }
  return value as Record<string, unknown>;
}
