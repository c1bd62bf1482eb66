import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { GatewayError } from '../../core/errors.ts';
import type { CatalogModel } from '../../providers/types.ts';
import { TIERS, type Tier } from '../../router/tiers.ts';
import { queryRecentRequests } from '../../store/usage-queries.ts';
import { OPEN_PATH } from '../../tenancy/dashboard-links.ts';
import { modelsTenantMayUse, operatorProviders, policyOf, validateSettings } from '../../tenancy/policy.ts';
import { csrfMatches, type Session } from '../../tenancy/sessions.ts';
import type { Tenant } from '../../tenancy/tenant.ts';
import { loadUsage, rangeOf } from '../analytics.ts';
import type { DashboardDeps } from '../deps.ts';
import { CLIENT_COOKIE, clearCookie, cookieSecure, formField, readCookie, sameOrigin, setCookie } from '../http.ts';
import { messagePage } from '../layout.ts';
import { redirect, sendForbidden, sendHtml } from '../respond.ts';
import { computeSavings, deepTierModel } from '../savings.ts';
import { clientOverviewPage } from './overview-page.ts';
import { clientSettingsPage } from './settings-page.ts';

/**
 * The tenant's private pages. The tenant always comes from the session (which came from a signed link),
 * never from the URL or a form, so no parameter can point a client page at another tenant.
 */
const COOKIE_PATH = '/client';

interface ClientContext {
  token: string;
  session: Session;
  tenant: Tenant;
}

export function registerClientRoutes(app: FastifyInstance, deps: DashboardDeps): void {
  const { tenancy } = deps;
  const settings = tenancy.config;
  const secure = (req: FastifyRequest) => cookieSecure(settings.cookies.secure, deps.config.server.publicUrl, req);

  /** The session's tenant, or undefined after answering 403. Revoked links also end their sessions. */
  async function client(req: FastifyRequest, reply: FastifyReply): Promise<ClientContext | undefined> {
    const token = readCookie(req, CLIENT_COOKIE);
    const session = await tenancy.sessions.find(token, 'client');
    const tenant = session?.tenantId ? await tenancy.repo.getTenant(session.tenantId) : undefined;
    if (!token || !session || !tenant || session.createdAt < tenant.linksValidAfter) {
      void sendForbidden(reply);
      return undefined;
    }
    return { token, session, tenant };
  }

  /** State-changing requests: same origin and the session's CSRF token, or a plain 403. */
  function checkCsrf(req: FastifyRequest, reply: FastifyReply, ctx: ClientContext): boolean {
    if (sameOrigin(req, deps.config.server.publicUrl) && csrfMatches(ctx.session, formField(req, '_csrf'))) return true;
    void sendHtml(
      reply,
      403,
      messagePage(
        'Request refused',
        'The form was stale or did not come from this site. Reload the page and try again.',
        'error',
      ),
    );
    return false;
  }

  app.get(OPEN_PATH, async (req, reply) => {
    const link = (req.query as Record<string, unknown>)['link'];
    const check = typeof link === 'string' ? tenancy.links.verify(link) : undefined;
    if (!check?.ok) return sendForbidden(reply);
    const tenant = await tenancy.repo.getTenant(check.claims.tenantId);
    if (!tenant || check.claims.issuedAt < tenant.linksValidAfter) return sendForbidden(reply);
    const { token } = await tenancy.sessions.create({
      kind: 'client',
      tenantId: tenant.id,
      ttlMs: settings.cookies.sessionTtlMs,
    });
    setCookie(reply, CLIENT_COOKIE, token, {
      path: COOKIE_PATH,
      maxAgeMs: settings.cookies.sessionTtlMs,
      secure: secure(req),
      sameSite: settings.cookies.sameSite === 'strict' ? 'Strict' : 'Lax',
    });
    // A clean URL: the token leaves the address bar and the browser history entry.
    return redirect(reply, '/client');
  });

  app.get('/client', async (req, reply) => {
    const ctx = await client(req, reply);
    if (!ctx) return;
    const range = rangeOf((req.query as Record<string, unknown>)['range']);
    const [view, recent] = await Promise.all([
      loadUsage(deps.store.db, range, ctx.tenant.id),
      queryRecentRequests(deps.store.db, { tenantId: ctx.tenant.id, limit: 25 }),
    ]);
    const policy = policyOf(ctx.tenant, deps.catalog, operatorProviders(deps.catalog));
    const preset = ctx.tenant.preset ?? deps.config.routing.defaultPreset;
    const savings = computeSavings(view.totals, deepTierModel(deps.router, preset, policy));
    return sendHtml(
      reply,
      200,
      clientOverviewPage({
        tenant: ctx.tenant,
        csrf: ctx.session.csrf,
        view,
        recent,
        savings,
        preset: ctx.tenant.preset ?? `${preset} (default)`,
      }),
    );
  });

  const renderSettings = (
    ctx: ClientContext,
    reply: FastifyReply,
    status: number,
    notice?: { tone: 'good' | 'bad'; text: string },
  ) => {
    const policy = policyOf(ctx.tenant, deps.catalog, operatorProviders(deps.catalog));
    const preset = ctx.tenant.preset ?? deps.config.routing.defaultPreset;
    const current = Object.fromEntries(
      TIERS.map((tier) => [tier, deps.router.listFor(preset, tier, policy)[0]]),
    ) as Record<Tier, CatalogModel | undefined>;
    return sendHtml(
      reply,
      status,
      clientSettingsPage({
        tenant: ctx.tenant,
        csrf: ctx.session.csrf,
        defaultPreset: deps.config.routing.defaultPreset,
        current,
        models: modelsTenantMayUse(deps.catalog, policy),
        ...(notice ? { notice } : {}),
      }),
    );
  };

  app.get('/client/settings', async (req, reply) => {
    const ctx = await client(req, reply);
    if (!ctx) return;
    const saved = (req.query as Record<string, unknown>)['saved'] === '1';
    return renderSettings(
      ctx,
      reply,
      200,
      saved ? { tone: 'good', text: 'Saved. Your next request uses these settings.' } : undefined,
    );
  });

  app.post('/client/settings', async (req, reply) => {
    const ctx = await client(req, reply);
    if (!ctx || !checkCsrf(req, reply, ctx)) return;
    const policy = policyOf(ctx.tenant, deps.catalog, operatorProviders(deps.catalog));
    try {
      const patch = validateSettings(deps.catalog, policy, {
        preset: formField(req, 'preset') ?? '',
        tierModels: Object.fromEntries(TIERS.map((tier) => [tier, formField(req, tier) ?? ''])),
      });
      await tenancy.repo.updateTenant(ctx.tenant.id, patch);
      await tenancy.directory.afterWrite();
    } catch (err) {
      if (!(err instanceof GatewayError) || err.code !== 'invalid_request') throw err;
      return renderSettings(ctx, reply, 400, { tone: 'bad', text: err.message });
    }
    return redirect(reply, '/client/settings?saved=1');
  });

  app.post('/client/revoke-links', async (req, reply) => {
    const ctx = await client(req, reply);
    if (!ctx || !checkCsrf(req, reply, ctx)) return;
    await tenancy.repo.revokeDashboardLinks(ctx.tenant.id);
    await tenancy.directory.afterWrite();
    clearCookie(reply, CLIENT_COOKIE, COOKIE_PATH, secure(req));
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
    const ctx = await client(req, reply);
    if (!ctx || !checkCsrf(req, reply, ctx)) return;
    await tenancy.sessions.delete(ctx.token);
    clearCookie(reply, CLIENT_COOKIE, COOKIE_PATH, secure(req));
    return sendHtml(
      reply,
      200,
      messagePage('Signed out', 'Open the dashboard link from any API response to come back.'),
    );
  });
}
