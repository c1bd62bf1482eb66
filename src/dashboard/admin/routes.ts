import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { GatewayError } from '../../core/errors.ts';
import type { CatalogModel } from '../../providers/types.ts';
import { TIERS, type Tier } from '../../router/tiers.ts';
import { queryTopTenants } from '../../store/usage-queries.ts';
import {
  type AdminOps,
  createKey,
  createTenant,
  linesToList,
  revokeKey,
  revokeLinks,
  updateTenantSettings,
} from '../../tenancy/admin-operations.ts';
import { modelsTenantMayUse, operatorProviders, policyOf } from '../../tenancy/policy.ts';
import { csrfMatches } from '../../tenancy/sessions.ts';
import { loadUsage, rangeOf } from '../analytics.ts';
import type { DashboardDeps } from '../deps.ts';
import { ADMIN_COOKIE, clearCookie, cookieSecure, formField, sameOrigin } from '../http.ts';
import { messagePage } from '../layout.ts';
import { redirect, sendHtml } from '../respond.ts';
import { computeSavings, deepTierModel } from '../savings.ts';
import { attemptLogin } from './attempt-login.ts';
import { adminLoginPage } from './login-page.ts';
import type { LoginThrottle } from './login-throttle.ts';
import { adminOverviewPage } from './overview-page.ts';
import { ADMIN_COOKIE_PATH, type AdminContext, adminFromRequest, startAdminSession } from './session.ts';
import { keysPage, secretPage, tenantDetailPage, tenantsPage } from './tenant-pages.ts';

/**
 * Admin pages: login, analytics across tenants, tenants, keys. Every page but the login needs an admin session.
 * The login throttle is shared with the JSON API's sign-in.
 */
export function registerAdminRoutes(app: FastifyInstance, deps: DashboardDeps, throttle: LoginThrottle): void {
  const { tenancy } = deps;
  const ops: AdminOps = { repo: tenancy.repo, catalog: deps.catalog, directory: tenancy.directory };

  /** GET pages: no admin session → the login page. */
  async function adminPage(req: FastifyRequest, reply: FastifyReply): Promise<AdminContext | undefined> {
    const ctx = await adminFromRequest(deps, req);
    if (!ctx) void redirect(reply, '/admin/login');
    return ctx;
  }

  /** POST actions: an admin session, same origin and the session's CSRF token, else a plain 403. */
  async function adminAction(req: FastifyRequest, reply: FastifyReply): Promise<AdminContext | undefined> {
    const ctx = await adminFromRequest(deps, req);
    if (ctx && sameOrigin(req, deps.config.server.publicUrl) && csrfMatches(ctx.session, formField(req, '_csrf')))
      return ctx;
    void sendHtml(reply, 403, messagePage('Request refused', 'Sign in again and retry from the admin pages.', 'error'));
    return undefined;
  }

  app.get('/admin/login', async (req, reply) => {
    if (await adminFromRequest(deps, req)) return redirect(reply, '/admin');
    return sendHtml(reply, 200, adminLoginPage());
  });

  app.post('/admin/login', async (req, reply) => {
    const [username, password] = [formField(req, 'username') ?? '', formField(req, 'password') ?? ''];
    const login = await attemptLogin(tenancy.admins, throttle, req.ip, username, password);
    if (login.kind === 'throttled') {
      reply.header('retry-after', String(login.retryAfterSeconds));
      return sendHtml(reply, 429, adminLoginPage('Too many attempts. Wait a few minutes and try again.'));
    }
    if (login.kind === 'wrong') return sendHtml(reply, 401, adminLoginPage('Wrong username or password.'));
    await startAdminSession(deps, req, reply, login.user);
    return redirect(reply, '/admin');
  });

  app.post('/admin/logout', async (req, reply) => {
    const ctx = await adminAction(req, reply);
    if (!ctx) return;
    await tenancy.sessions.delete(ctx.token);
    clearCookie(
      reply,
      ADMIN_COOKIE,
      ADMIN_COOKIE_PATH,
      cookieSecure(tenancy.config.cookies.secure, deps.config.server.publicUrl, req),
    );
    return redirect(reply, '/admin/login');
  });

  app.get('/admin', async (req, reply) => {
    const ctx = await adminPage(req, reply);
    if (!ctx) return;
    const range = rangeOf((req.query as Record<string, unknown>)['range']);
    const [view, topTenants, tenantCounts] = await Promise.all([
      loadUsage(deps.store.db, range),
      queryTopTenants(deps.store.db, { from: range.from, to: range.to, limit: 10 }),
      tenancy.repo.countTenants(),
    ]);
    const operatorOnly = operatorProviders(deps.catalog);
    const savings = computeSavings(
      view.totals,
      deepTierModel(deps.router, deps.config.routing.defaultPreset, operatorOnly ? { providers: operatorOnly } : {}),
    );
    return sendHtml(
      reply,
      200,
      adminOverviewPage({
        username: ctx.user.username,
        csrf: ctx.session.csrf,
        view,
        topTenants,
        health: deps.health.snapshot(deps.catalog.providers.values()),
        tenantCounts,
        savings,
      }),
    );
  });

  app.get('/admin/tenants', async (req, reply) => {
    const ctx = await adminPage(req, reply);
    if (!ctx) return;
    return sendHtml(
      reply,
      200,
      tenantsPage({
        csrf: ctx.session.csrf,
        tenants: await tenancy.repo.listTenants({ limit: 500 }),
        defaultPreset: deps.config.routing.defaultPreset,
        notice: noticeFrom(req),
      }),
    );
  });

  app.post('/admin/tenants', async (req, reply) => {
    const ctx = await adminAction(req, reply);
    if (!ctx) return;
    try {
      const tenant = await createTenant(ops, {
        id: formField(req, 'id'),
        name: formField(req, 'name'),
        preset: formField(req, 'preset') ?? '',
      });
      return redirect(reply, `/admin/tenants/${encodeURIComponent(tenant.id)}?notice=created`);
    } catch (err) {
      return sendHtml(
        reply,
        invalidStatus(err),
        tenantsPage({
          csrf: ctx.session.csrf,
          tenants: await tenancy.repo.listTenants({ limit: 500 }),
          defaultPreset: deps.config.routing.defaultPreset,
          notice: { tone: 'bad', text: (err as Error).message },
        }),
      );
    }
  });

  async function renderTenant(ctx: AdminContext, id: string, reply: FastifyReply, status: number, notice?: Notice) {
    const tenant = await tenancy.repo.getTenant(id);
    if (!tenant) return sendHtml(reply, 404, messagePage('Not found', `No tenant '${id}'.`, 'error'));
    const policy = policyOf(tenant, deps.catalog, operatorProviders(deps.catalog));
    const preset = tenant.preset ?? deps.config.routing.defaultPreset;
    const current = Object.fromEntries(
      TIERS.map((tier) => [tier, deps.router.listFor(preset, tier, policy)[0]]),
    ) as Record<Tier, CatalogModel | undefined>;
    const [keys, view] = await Promise.all([
      tenancy.repo.listKeys({ tenantId: id }),
      loadUsage(deps.store.db, rangeOf('30d'), id),
    ]);
    return sendHtml(
      reply,
      status,
      tenantDetailPage({
        csrf: ctx.session.csrf,
        tenant,
        keys,
        view,
        models: modelsTenantMayUse(deps.catalog, { ...policy, allowedModels: undefined }),
        current,
        defaultPreset: deps.config.routing.defaultPreset,
        notice,
      }),
    );
  }

  app.get('/admin/tenants/:id', async (req, reply) => {
    const ctx = await adminPage(req, reply);
    if (!ctx) return;
    return renderTenant(ctx, (req.params as { id: string }).id, reply, 200, noticeFrom(req));
  });

  app.post('/admin/tenants/:id/settings', async (req, reply) => {
    const ctx = await adminAction(req, reply);
    if (!ctx) return;
    const id = (req.params as { id: string }).id;
    try {
      await updateTenantSettings(ops, id, {
        name: formField(req, 'name'),
        preset: formField(req, 'preset') ?? '',
        tierModels: Object.fromEntries(TIERS.map((tier) => [tier, formField(req, tier) ?? ''])),
        allowedModels: linesToList(formField(req, 'allowedModels')),
      });
    } catch (err) {
      return renderTenant(ctx, id, reply, invalidStatus(err), { tone: 'bad', text: (err as Error).message });
    }
    return redirect(reply, `/admin/tenants/${encodeURIComponent(id)}?notice=saved`);
  });

  app.post('/admin/tenants/:id/keys', async (req, reply) => {
    const ctx = await adminAction(req, reply);
    if (!ctx) return;
    const id = (req.params as { id: string }).id;
    try {
      const created = await createKey(ops, {
        tenantId: id,
        name: formField(req, 'name'),
        expiresInDays: formField(req, 'expiresInDays'),
      });
      return sendKey(ctx, reply, created.key, `/admin/tenants/${encodeURIComponent(id)}`);
    } catch (err) {
      return renderTenant(ctx, id, reply, invalidStatus(err), { tone: 'bad', text: (err as Error).message });
    }
  });

  app.post('/admin/tenants/:id/revoke-links', async (req, reply) => {
    const ctx = await adminAction(req, reply);
    if (!ctx) return;
    const id = (req.params as { id: string }).id;
    await revokeLinks(ops, id);
    return redirect(reply, `/admin/tenants/${encodeURIComponent(id)}?notice=links-revoked`);
  });

  app.post('/admin/tenants/:id/link', async (req, reply) => {
    const ctx = await adminAction(req, reply);
    if (!ctx) return;
    const id = (req.params as { id: string }).id;
    if (!(await tenancy.repo.getTenant(id))) throw new GatewayError('not_found', `No tenant '${id}'`);
    return sendHtml(
      reply,
      200,
      secretPage({
        csrf: ctx.session.csrf,
        title: 'Dashboard link',
        intro: `A signed link to ${id}'s dashboard, valid for ${Math.round(tenancy.config.dashboard.linkTtlMs / 3_600_000)} hours. Anyone holding it can open that dashboard.`,
        secret: tenancy.links.issue(id),
        back: `/admin/tenants/${encodeURIComponent(id)}`,
      }),
    );
  });

  app.get('/admin/keys', async (req, reply) => {
    const ctx = await adminPage(req, reply);
    if (!ctx) return;
    return sendHtml(
      reply,
      200,
      keysPage({
        csrf: ctx.session.csrf,
        keys: await tenancy.repo.listKeys(),
        tenants: await tenancy.repo.listTenants({ kind: 'managed' }),
        notice: noticeFrom(req),
      }),
    );
  });

  app.post('/admin/keys', async (req, reply) => {
    const ctx = await adminAction(req, reply);
    if (!ctx) return;
    try {
      const created = await createKey(ops, {
        tenantId: formField(req, 'tenantId'),
        name: formField(req, 'name'),
        expiresInDays: formField(req, 'expiresInDays'),
      });
      return sendKey(ctx, reply, created.key, '/admin/keys');
    } catch (err) {
      return sendHtml(
        reply,
        invalidStatus(err),
        keysPage({
          csrf: ctx.session.csrf,
          keys: await tenancy.repo.listKeys(),
          tenants: await tenancy.repo.listTenants({ kind: 'managed' }),
          notice: { tone: 'bad', text: (err as Error).message },
        }),
      );
    }
  });

  app.post('/admin/keys/:id/revoke', async (req, reply) => {
    const ctx = await adminAction(req, reply);
    if (!ctx) return;
    const key = await revokeKey(ops, (req.params as { id: string }).id);
    const back = (req.headers.referer ?? '').includes('/admin/tenants/')
      ? `/admin/tenants/${encodeURIComponent(key.tenantId)}`
      : '/admin/keys';
    return redirect(reply, `${back}?notice=revoked`);
  });

  function sendKey(ctx: AdminContext, reply: FastifyReply, key: string, back: string) {
    return sendHtml(
      reply,
      201,
      secretPage({
        csrf: ctx.session.csrf,
        title: 'New API key',
        intro:
          'Copy it now: it is shown only this once and stored only as a hash. Use it as the Bearer token (OpenAI SDK apiKey).',
        secret: key,
        back,
      }),
    );
  }
}

type Notice = { tone: 'good' | 'bad'; text: string } | undefined;

const NOTICES: Record<string, string> = {
  created: 'Tenant created. Create a key for it below.',
  saved: 'Saved. The tenant’s next request uses the new policy.',
  revoked: 'Key revoked. Requests with it are refused from now on.',
  'links-revoked': 'All dashboard links of this tenant were revoked.',
};

function noticeFrom(req: FastifyRequest): Notice {
  const key = (req.query as Record<string, unknown>)['notice'];
  const text = typeof key === 'string' ? NOTICES[key] : undefined;
  return text ? { tone: 'good', text } : undefined;
}

function invalidStatus(err: unknown): number {
  if (err instanceof GatewayError && (err.code === 'invalid_request' || err.code === 'not_found')) return err.status;
  throw err;
}
