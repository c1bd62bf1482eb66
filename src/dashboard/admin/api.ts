import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { GatewayError } from '../../core/errors.ts';
import { PRESETS, TIERS } from '../../router/tiers.ts';
import { queryTopTenants } from '../../store/usage-queries.ts';
import {
  type AdminOps,
  createKey,
  createTenant,
  revokeKey,
  revokeLinks,
  updateTenantSettings,
} from '../../tenancy/admin-operations.ts';
import { operatorProviders } from '../../tenancy/policy.ts';
import { csrfMatches } from '../../tenancy/sessions.ts';
import { loadUsage, rangeOf } from '../analytics.ts';
import type { DashboardDeps } from '../deps.ts';
import { sameOrigin } from '../http.ts';
import { attemptLogin } from './attempt-login.ts';
import type { LoginThrottle } from './login-throttle.ts';
import { type AdminContext, adminFromRequest, startAdminSession } from './session.ts';

/**
 * The admin JSON API, for scripts: the same operations as the pages. Sign in with
 * `POST /admin/api/session {"username","password"}`, keep the `modro_admin` cookie, and send the returned
 * `csrfToken` as `X-CSRF-Token` on every POST, PATCH and DELETE. The sign-in shares the login page's throttle.
 */
export function registerAdminApi(app: FastifyInstance, deps: DashboardDeps, throttle: LoginThrottle): void {
  const { tenancy } = deps;
  const ops: AdminOps = { repo: tenancy.repo, catalog: deps.catalog, directory: tenancy.directory };

  async function admin(req: FastifyRequest, reply: FastifyReply, mutating: boolean): Promise<AdminContext | undefined> {
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

  const body = (req: FastifyRequest): Record<string, unknown> => {
    const value = req.body;
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      throw new GatewayError('invalid_request', 'Send a JSON object');
    }
    return value as Record<string, unknown>;
  };

  app.post('/admin/api/session', async (req, reply) => {
    const input = body(req);
    const [username, password] = [String(input['username'] ?? ''), String(input['password'] ?? '')];
    const login = await attemptLogin(tenancy.admins, throttle, req.ip, username, password);
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
    const ctx = await admin(req, reply, true);
    if (!ctx) return;
    await tenancy.sessions.delete(ctx.token);
    return { ok: true };
  });

  app.get('/admin/api/tenants', async (req, reply) => {
    if (!(await admin(req, reply, false))) return;
    const kind = (req.query as Record<string, unknown>)['kind'];
    return { data: await tenancy.repo.listTenants(kind === 'managed' || kind === 'byok' ? { kind } : {}) };
  });

  app.post('/admin/api/tenants', async (req, reply) => {
    if (!(await admin(req, reply, true))) return;
    const input = body(req);
    const tenant = await createTenant(ops, {
      id: input['id'],
      name: input['name'],
      preset: input['preset'],
      tierModels: input['tierModels'] as Record<string, unknown> | undefined,
      allowedModels: input['allowedModels'],
    });
    return reply.code(201).send(tenant);
  });

  app.get('/admin/api/tenants/:id', async (req, reply) => {
    if (!(await admin(req, reply, false))) return;
    const id = (req.params as { id: string }).id;
    const tenant = await tenancy.repo.getTenant(id);
    if (!tenant) throw new GatewayError('not_found', `No tenant '${id}'`);
    return { ...tenant, keys: await tenancy.repo.listKeys({ tenantId: id }) };
  });

  app.patch('/admin/api/tenants/:id', async (req, reply) => {
    if (!(await admin(req, reply, true))) return;
    const input = body(req);
    return updateTenantSettings(ops, (req.params as { id: string }).id, {
      name: input['name'],
      preset: input['preset'],
      tierModels: input['tierModels'] as Record<string, unknown> | undefined,
      allowedModels: input['allowedModels'],
    });
  });

  app.post('/admin/api/tenants/:id/revoke-links', async (req, reply) => {
    if (!(await admin(req, reply, true))) return;
    return { linksValidAfter: await revokeLinks(ops, (req.params as { id: string }).id) };
  });

  app.post('/admin/api/tenants/:id/link', async (req, reply) => {
    if (!(await admin(req, reply, true))) return;
    const id = (req.params as { id: string }).id;
    if (!(await tenancy.repo.getTenant(id))) throw new GatewayError('not_found', `No tenant '${id}'`);
    return { url: tenancy.links.issue(id) };
  });

  app.get('/admin/api/keys', async (req, reply) => {
    if (!(await admin(req, reply, false))) return;
    const tenant = (req.query as Record<string, unknown>)['tenant'];
    return { data: await tenancy.repo.listKeys(typeof tenant === 'string' ? { tenantId: tenant } : {}) };
  });

  app.post('/admin/api/keys', async (req, reply) => {
    if (!(await admin(req, reply, true))) return;
    const input = body(req);
    const created = await createKey(ops, {
      tenantId: input['tenantId'],
      name: input['name'],
      expiresInDays: input['expiresInDays'],
      expiresAt: input['expiresAt'],
    });
    // The only response that ever contains the key.
    return reply.code(201).send({ ...created.record, key: created.key });
  });

  app.post('/admin/api/keys/:id/revoke', async (req, reply) => {
    if (!(await admin(req, reply, true))) return;
    return revokeKey(ops, (req.params as { id: string }).id);
  });

  app.get('/admin/api/presets', async (req, reply) => {
    if (!(await admin(req, reply, false))) return;
    const operatorOnly = operatorProviders(deps.catalog);
    const policy = operatorOnly ? { providers: operatorOnly } : {};
    return {
      default: deps.config.routing.defaultPreset,
      presets: Object.fromEntries(
        PRESETS.map((preset) => [
          preset,
          Object.fromEntries(TIERS.map((tier) => [tier, deps.router.listFor(preset, tier, policy).map((m) => m.id)])),
        ]),
      ),
    };
  });

  app.get('/admin/api/analytics', async (req, reply) => {
    if (!(await admin(req, reply, false))) return;
    const query = req.query as Record<string, unknown>;
    const range = rangeOf(query['range']);
    const tenant = typeof query['tenant'] === 'string' ? query['tenant'] : undefined;
    const [view, topTenants] = await Promise.all([
      loadUsage(deps.store.db, range, tenant),
      queryTopTenants(deps.store.db, { from: range.from, to: range.to, limit: 10 }),
    ]);
    return {
      range: { key: range.key, from: range.from, to: range.to, bucket: range.bucket },
      totals: view.totals,
      series: view.series,
      byTier: view.byTier,
      byModel: view.byModel,
      byProvider: view.byProvider,
      latency: view.latency,
      topTenants,
      health: deps.health.snapshot(deps.catalog.providers.values()),
    };
  });
}
