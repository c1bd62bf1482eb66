import type { FastifyInstance } from 'fastify';
import type { CatalogModel } from '../../billing/catalog-types.ts';
import { PRESETS, TIERS } from '../../core/tiers.ts';
import { modelsTenantMayUse } from '../../tenancy/policy.ts';
import type { DashboardDeps } from '../deps.ts';
import { html, type SafeHtml } from '../html.ts';
import { sendHtml } from '../respond.ts';
import { firstModelPerTier, tenantRouting } from '../tenant-routing.ts';
import { consoleLayout } from './layout.ts';
import { planOf } from './overview.ts';
import { consoleForPage } from './session.ts';

const perMillion = (usd: number) => `$${usd}`;

/**
 * `/console/models`: what the account may call (its policy and its plan's model list), with the price per
 * million tokens, and which model each tier routes to first under each preset.
 */
export function registerConsoleModels(app: FastifyInstance, deps: DashboardDeps): void {
  app.get('/console/models', async (req, reply) => {
    const ctx = await consoleForPage(deps, req, reply);
    if (!ctx) return;
    const { policy, preset } = tenantRouting(deps, ctx.tenant);
    const plan = planOf(deps, await deps.ledger.view(ctx.tenant.id));
    const inPlan = (m: CatalogModel | undefined) => !m || !plan?.models || plan.models.includes(m.id);
    const models = modelsTenantMayUse(deps.catalog, policy).filter(inPlan);
    const byPreset = PRESETS.map((p) => ({ preset: p, first: firstModelPerTier(deps, p, policy) }));
    const lists = TIERS.map((tier) => ({
      tier,
      ids: new Set(deps.router.listFor(preset, tier, policy).map((m) => m.id)),
    }));
    const tiersOf = (m: CatalogModel) => lists.filter((l) => l.ids.has(m.id)).map((l) => l.tier);
    const cell = (m: CatalogModel | undefined): SafeHtml =>
      m && inPlan(m)
        ? html`<span class="mono">${m.id}</span><div class="sub">${perMillion(m.price.input)} in · ${perMillion(m.price.output)} out</div>`
        : html`<span class="muted">none</span>`;
    return sendHtml(
      reply,
      200,
      consoleLayout('models', ctx, {
        title: 'Models',
        body: html`
<div class="page-head"><div><h1>Models</h1><p>Ask for a tier (<span class="mono">utility</span>, <span class="mono">fast</span>, <span class="mono">deep</span>, <span class="mono">auto</span>) or a model by name. Prices are the provider's, per million tokens.${plan ? ` Your plan: ${plan.name}.` : ''}</p></div></div>
<section class="card" id="tiers">
  <div class="card-head"><h2>Tiers by preset</h2><span class="hint">the first model each tier routes to; yours: ${preset}</span></div>
  <div class="table-wrap"><table>
    <thead><tr><th>Preset</th>${TIERS.map((t) => html`<th>${t}</th>`)}</tr></thead>
    <tbody>${byPreset.map(
      (row) =>
        html`<tr${row.preset === preset ? html` class="active"` : ''}><td>${row.preset}${row.preset === preset ? html` <span class="badge accent">yours</span>` : ''}</td>${TIERS.map((t) => html`<td>${cell(row.first[t])}</td>`)}</tr>`,
    )}</tbody>
  </table></div>
</section>
<section class="card" id="catalog">
  <div class="card-head"><h2>Catalog</h2><span class="hint">${models.length} models you can call</span></div>
  <div class="table-wrap"><table>
    <thead><tr><th>Model</th><th>Tiers (${preset})</th><th class="num">Input / Mtok</th><th class="num">Output / Mtok</th><th class="num">Context</th></tr></thead>
    <tbody>${models.map(
      (m) => html`<tr data-model="${m.id}">
      <td class="mono">${m.id}</td>
      <td>${tiersOf(m).join(', ') || '—'}</td>
      <td class="num">${perMillion(m.price.input)}</td>
      <td class="num">${perMillion(m.price.output)}</td>
      <td class="num">${m.contextWindow.toLocaleString('en-US')}</td></tr>`,
    )}</tbody>
  </table></div>
</section>`,
      }),
    );
  });
}
