import type { UsageRecord } from '../../store/usage.ts';
import type { Tenant } from '../../tenancy/tenant.ts';
import type { UsageView } from '../analytics.ts';
import { compact, percent, usd } from '../format.ts';
import { html, type SafeHtml } from '../html.ts';
import type { Savings } from '../savings.ts';
import {
  breakdownTable,
  kpi,
  latencyCard,
  rangeTabs,
  recentTable,
  requestsChart,
  spendChart,
  tierSplit,
  tokensChart,
} from '../widgets.ts';
import { clientLayout } from './layout.ts';

export interface ClientOverviewInput {
  tenant: Tenant;
  csrf: string;
  view: UsageView;
  recent: UsageRecord[];
  savings: Savings;
  preset: string;
}

export function clientOverviewPage(input: ClientOverviewInput): SafeHtml {
  const { view, savings, tenant } = input;
  const t = view.totals;
  const saved = savings.savedNano;
  const savedShare = savings.deepNano > 0 ? percent(Math.max(0, saved), savings.deepNano) : '—';
  const savingsSub = savings.model
    ? html`You would have paid <strong>${usd(savings.deepNano)}</strong> sending everything to the deep tier (<span class="mono">${savings.model.id}</span>)`
    : 'No deep-tier model is available to compare with';
  return clientLayout('overview', tenant, input.csrf, {
    title: 'Usage',
    body: html`
<div class="page-head">
  <div><h1>Usage</h1><p>Preset <span class="badge accent">${input.preset}</span> · last ${view.range.key === '24h' ? '24 hours' : view.range.key === '7d' ? '7 days' : '30 days'}</p></div>
  ${rangeTabs('/client', view.range.key)}
</div>
<div class="grid kpis">
  ${kpi('Requests', compact(t.requests), t.requests > 0 ? `${percent(t.errors, t.requests)} failed` : 'none yet')}
  ${kpi('Tokens', compact(t.inputTokens + t.outputTokens), `${compact(t.inputTokens)} in · ${compact(t.outputTokens)} out`)}
  ${kpi('Spend', usd(t.costNanoUsd), t.requests > 0 ? `${usd(t.costNanoUsd / Math.max(1, t.requests))} per request` : '')}
  ${kpi(saved >= 0 ? 'Saved vs. deep tier' : 'Extra vs. deep tier', usd(Math.abs(saved)), savingsSub, { tone: saved > 0 ? 'good' : saved < 0 ? 'bad' : undefined, highlight: true })}
</div>
<section class="card" id="spend">
  <div class="card-head"><h2>Spend over time</h2><span class="hint">${savedShare === '—' ? '' : `${savedShare} below the all-deep price`}</span></div>
  ${spendChart(view)}
</section>
<div class="grid two">
  <section class="card"><div class="card-head"><h2>Requests</h2><span class="hint">${percent(t.errors, t.requests)} error rate</span></div>${requestsChart(view)}</section>
  <section class="card"><div class="card-head"><h2>Tokens</h2><span class="hint">input and output</span></div>${tokensChart(view)}</section>
</div>
<div class="grid two">
  <section class="card"><div class="card-head"><h2>By tier</h2><span class="hint">utility · fast · deep</span></div>${tierSplit(view)}</section>
  ${latencyCard(view)}
</div>
<section class="card"><div class="card-head"><h2>By model</h2><span class="hint">share of spend</span></div>${breakdownTable(view.byModel, 'Model')}</section>
<section class="card"><div class="card-head"><h2>By provider</h2><span class="hint">share of spend</span></div>${breakdownTable(view.byProvider, 'Provider')}</section>
<section class="card" id="recent">
  <div class="card-head"><h2>Most recent requests</h2><span class="hint">newest first</span></div>
  ${recentTable(input.recent)}
</section>`,
  });
}
