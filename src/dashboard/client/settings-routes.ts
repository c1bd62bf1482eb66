import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { GatewayError } from '../../core/errors.ts';
import { TIERS } from '../../core/tiers.ts';
import { modelsTenantMayUse, validateSettings } from '../../tenancy/policy.ts';
import type { Tenant } from '../../tenancy/tenant.ts';
import type { DashboardDeps } from '../deps.ts';
import { formField } from '../http.ts';
import type { Notice } from '../layout.ts';
import { redirect, sendHtml } from '../respond.ts';
import { firstModelPerTier, tenantRouting } from '../tenant-routing.ts';
import { type ClientContext, clientForForm, clientForPage } from './session.ts';
import { clientSettingsPage } from './settings-page.ts';

/** `/client/settings`: the tenant's preset and per-tier models, applied to its very next request. */
export function registerClientSettings(app: FastifyInstance, deps: DashboardDeps): void {
  const render = (ctx: ClientContext, reply: FastifyReply, status: number, notice?: Notice) => {
    const { policy, preset } = tenantRouting(deps, ctx.tenant);
    return sendHtml(
      reply,
      status,
      clientSettingsPage({
        tenant: ctx.tenant,
        csrf: ctx.session.csrf,
        defaultPreset: deps.config.routing.defaultPreset,
        current: firstModelPerTier(deps, preset, policy),
        models: modelsTenantMayUse(deps.catalog, policy),
        ...(notice ? { notice } : {}),
      }),
    );
  };

  app.get('/client/settings', async (req, reply) => {
    const ctx = await clientForPage(deps, req, reply);
    if (!ctx) return;
    const saved = (req.query as Record<string, unknown>)['saved'] === '1';
    return render(
      ctx,
      reply,
      200,
      saved ? { tone: 'good', text: 'Saved. Your next request uses these settings.' } : undefined,
    );
  });

  app.post('/client/settings', async (req, reply) => {
    const ctx = await clientForForm(deps, req, reply);
    if (!ctx) return;
    const refused = await saveSettingsForm(deps, ctx.tenant, req);
    if (refused) return render(ctx, reply, 400, refused);
    return redirect(reply, '/client/settings?saved=1');
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
