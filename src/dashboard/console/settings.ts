import type { FastifyInstance, FastifyReply } from 'fastify';
import { modelsTenantMayUse } from '../../tenancy/policy.ts';
import { type SettingsPageInput, settingsForm } from '../client/settings-page.ts';
import { saveSettingsForm } from '../client/settings-routes.ts';
import type { DashboardDeps } from '../deps.ts';
import { html } from '../html.ts';
import { type Notice, noticeBox } from '../layout.ts';
import { redirect, sendHtml } from '../respond.ts';
import { firstModelPerTier, tenantRouting } from '../tenant-routing.ts';
import { consoleLayout } from './layout.ts';
import { type ConsoleContext, consoleForForm, consoleForPage } from './session.ts';

/** `/console/settings`: the account's preset and per-tier models: the client dashboard's form and rules. */
export function registerConsoleSettings(app: FastifyInstance, deps: DashboardDeps): void {
  const render = (ctx: ConsoleContext, reply: FastifyReply, status: number, notice?: Notice) => {
    const { policy, preset } = tenantRouting(deps, ctx.tenant);
    const input: SettingsPageInput = {
      tenant: ctx.tenant,
      csrf: ctx.session.csrf,
      defaultPreset: deps.config.routing.defaultPreset,
      current: firstModelPerTier(deps, preset, policy),
      models: modelsTenantMayUse(deps.catalog, policy),
    };
    return sendHtml(
      reply,
      status,
      consoleLayout('settings', ctx, {
        title: 'Routing',
        body: html`
<div class="page-head"><div><h1>Routing</h1><p>Changes apply to your next API request.</p></div></div>
${noticeBox(notice)}
${settingsForm(input, '/console/settings', '/console')}`,
      }),
    );
  };

  app.get('/console/settings', async (req, reply) => {
    const ctx = await consoleForPage(deps, req, reply);
    if (!ctx) return;
    const saved = (req.query as Record<string, unknown>)['saved'] === '1';
    return render(
      ctx,
      reply,
      200,
      saved ? { tone: 'good', text: 'Saved. Your next request uses these settings.' } : undefined,
    );
  });

  app.post('/console/settings', async (req, reply) => {
    const ctx = await consoleForForm(deps, req, reply);
    if (!ctx) return;
    const refused = await saveSettingsForm(deps, ctx.tenant, req);
    if (refused) return render(ctx, reply, 400, refused);
    return redirect(reply, '/console/settings?saved=1');
  });
}
