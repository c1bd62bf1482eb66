import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { GatewayError } from '../../core/errors.ts';
import { TIERS } from '../../core/tiers.ts';
import { modelsTenantMayUse, validateSettings } from '../../tenancy/policy.ts';
import type { Tenant } from '../../tenancy/tenant.ts';
import type { DashboardDeps } from '../deps.ts';
import { formField } from '../http.ts';
import type { Notice } from '../layout.ts';
import type { PageSession } from '../page-session.ts';
import { redirect, sendHtml } from '../respond.ts';
import { firstModelPerTier, tenantRouting } from '../tenant-routing.ts';
import { type ClientContext, clientForForm, clientForPage } from './session.ts';
import { clientSettingsPage, type SettingsPageInput } from './settings-page.ts';

/** `/client/settings`: the tenant's preset and per-tier models, applied to its very next request. */
export function registerClientSettings(app: FastifyInstance, deps: DashboardDeps): void {
  registerSettingsPages(app, deps, {
    base: '/client/settings',
    forPage: clientForPage,
    forForm: clientForForm,
    tenant: (ctx: ClientContext) => ctx.tenant,
    csrf: (ctx) => ctx.session.csrf,
    page: (_ctx, input) => clientSettingsPage(input),
  });
}

/** The settings page and its form under `session.base` (the client dashboard's and the console's). */
export function registerSettingsPages<C>(
  app: FastifyInstance,
  deps: DashboardDeps,
  session: PageSession<C, SettingsPageInput>,
): void {
  const { base } = session;
  const render = (ctx: C, reply: FastifyReply, status: number, notice?: Notice) => {
    const tenant = session.tenant(ctx);
    const { policy, preset } = tenantRouting(deps, tenant);
    return sendHtml(
      reply,
      status,
      session.page(ctx, {
        tenant,
        csrf: session.csrf(ctx),
        defaultPreset: deps.config.routing.defaultPreset,
        current: firstModelPerTier(deps, preset, policy),
        models: modelsTenantMayUse(deps.catalog, policy),
        ...(notice ? { notice } : {}),
      }),
    );
  };

  app.get(base, async (req, reply) => {
    const ctx = await session.forPage(deps, req, reply);
    if (!ctx) return;
    const saved = (req.query as Record<string, unknown>)['saved'] === '1';
    return render(
      ctx,
      reply,
      200,
      saved ? { tone: 'good', text: 'Saved. Your next request uses these settings.' } : undefined,
    );
  });

  app.post(base, async (req, reply) => {
    const ctx = await session.forForm(deps, req, reply);
    if (!ctx) return;
    const refused = await saveSettingsForm(deps, session.tenant(ctx), req);
    if (refused) return render(ctx, reply, 400, refused);
    return redirect(reply, `${base}?saved=1`);
  });
}

/** The settings form's preset and tier models, validated and saved for the tenant; a refusal is returned as a notice. */
export async function saveSettingsForm(
  deps: DashboardDeps,
  tenant: Tenant,
  req: FastifyRequest,
): Promise<Notice | undefined> {
  const { policy } = tenantRouting(deps, tenant);
  try {
    const patch = validateSettings(deps.catalog, policy, {
      preset: formField(req, 'preset') ?? '',
      tierModels: Object.fromEntries(TIERS.map((tier) => [tier, formField(req, tier) ?? ''])),
    });
    await deps.tenancy.repo.updateTenant(tenant.id, patch);
    await deps.tenancy.directory.afterWrite();
    return undefined;
  } catch (err) {
    if (!(err instanceof GatewayError) || err.code !== 'invalid_request') throw err;
    return { tone: 'bad', text: err.message };
  }
}
