import type { KeyHealthSnapshot } from '../../pipeline/health.ts';
import type { TenantTotals } from '../../store/usage-queries.ts';
import type { UsageView } from '../analytics.ts';
import { compact, integer, ms, percent, usd } from '../format.ts';
import { html, type SafeHtml } from '../html.ts';
import type { Savings } from '../savings.ts';
import { breakdownTable, kpi, latencyCard, rangeTabs, requestsChart, spendChart, tierSplit } from '../widgets.ts';
import { adminLayout } from './layout.ts';

export interface AdminOverviewInput {
  username: string;
  csrf: string;
  view: UsageView;
  topTenants: TenantTotals[];
  health: KeyHealthSnapshot[];
  tenantCounts: { managed: number; byok: number };
  savings: Savings;
}

const STATE_TONE: Record<string, string> = { closed: 'good', 'half-open': 'warn', open: 'bad', rejected: 'bad' };

export function adminOverviewPage(input: AdminOverviewInput): SafeHtml {
  const { view } = input;
  const t = view.totals;
  const p95 = view.latency.percentiles.find((p) => p.p === 95)?.ms ?? null;
  const unhealthy = input.health.filter((h) => h.state !== 'closed').length;
  return adminLayout('overview', input.csrf, {
    title: 'Admin analytics',
    body: html`
<div class="page-head">
  <div><h1>Analytics</h1><p>All tenants · signed in as ${input.username}</p></div>
  ${rangeTabs('/admin', view.range.key)}
</div>
<div class="grid kpis">
  ${kpi('Requests', compact(t.requests), `${integer(t.attempts)} upstream attempts`)}
  ${kpi('Spend', usd(t.costNanoUsd), input.savings.model ? `all-deep price ${usd(input.savings.deepNano)}` : '')}
  ${kpi('Error rate', percent(t.errors, t.requests), `${integer(t.errors)} failed`, { tone: t.requests > 0 && t.errors / t.requests > 0.05 ? 'bad' : undefined })}
  ${kpi('Latency p95', ms(p95), `mean ${ms(view.latency.meanMs)}`)}
  ${kpi('Tenants', integer(input.tenantCounts.managed + input.tenantCounts.byok), `${integer(input.tenantCounts.managed)} managed · ${integer(input.tenantCounts.byok)} own-key`)}
  ${kpi('Provider keys', `${input.health.length - unhealthy}/${input.health.length}`, unhealthy > 0 ? `${unhealthy} not healthy` : 'all circuits closed', { tone: unhealthy > 0 ? 'bad' : 'good' })}
</div>
<div class="grid two">
  <section class="card"><div class="card-head"><h2>Traffic</h2><span class="hint">succeeded and failed</span></div>${requestsChart(view)}</section>
  <section class="card"><div class="card-head"><h2>Spend</h2></div>${spendChart(view, 'half')}</section>
</div>
<div class="grid two">
  <section class="card">
    <div class="card-head"><h2>Top tenants</h2><span class="hint">by spend</span></div>
    ${topTenantsTable(input.topTenants)}
  </section>
  <section class="card">
    <div class="card-head"><h2>Provider health</h2><span class="hint">circuit state per key</span></div>
    ${healthTable(input.health)}
  </section>
</div>
<section class="card"><div class="card-head"><h2>Providers</h2><span class="hint">error rate and latency per provider</span></div>${breakdownTable(view.byProvider, 'Provider')}</section>
<div class="grid two">
  ${latencyCard(view)}
  <section class="card"><div class="card-head"><h2>Tiers</h2></div>${tierSplit(view)}</section>
</div>
<section class="card"><div class="card-head"><h2>Models</h2></div>${breakdownTable(view.byModel, 'Model')}</section>`,
  });
}

function topTenantsTable(rows: TenantTotals[]): SafeHtml {
  if (rows.length === 0) return html`<p class="empty-row">No traffic in this period.</p>`;
  return html`<div class="table-wrap"><table>
  <thead><tr><th>Tenant</th><th class="num">Requests</th><th class="num">Tokens</th><th class="num">Spend</th><th class="num">Errors</th></tr></thead>
  <tbody>${rows.map(
    (r) => html`<tr>
    <td><div class="name">${r.tenantId === '-' ? html`<span class="muted">unauthenticated</span>` : html`<a href="/admin/tenants/${encodeURIComponent(r.tenantId)}">${r.tenantId}</a>`}</div></td>
    <td class="num">${integer(r.requests)}</td><td class="num">${compact(r.inputTokens + r.outputTokens)}</td>
    <td class="num">${usd(r.costNanoUsd)}</td><td class="num">${percent(r.errors, r.requests)}</td></tr>`,
  )}</tbody></table></div>`;
}

function healthTable(rows: KeyHealthSnapshot[]): SafeHtml {
  if (rows.length === 0) return html`<p class="empty-row">No provider keys configured.</p>`;
  return html`<div class="table-wrap"><table>
  <thead><tr><th>Provider</th><th>Key</th><th>State</th><th class="num">Failures</th><th>Last error</th></tr></thead>
  <tbody>${rows.map(
    (h) => html`<tr><td class="name">${h.provider}</td><td class="mono">${h.keyId}</td>
    <td><span class="badge ${STATE_TONE[h.state] ?? ''}">${h.state}</span></td>
    <td class="num">${h.consecutiveFailures}</td><td class="sub">${h.lastError ?? '—'}</td></tr>`,
  )}</tbody></table></div>`;
}
