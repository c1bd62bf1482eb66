import type { FastifyInstance } from 'fastify';
import type { AccountView, Plan } from '../../billing/ledger.ts';
import type { UsageRecord } from '../../store/usage.ts';
import { queryRecentRequests } from '../../store/usage-queries.ts';
import { loadUsage, rangeOf, type UsageView } from '../analytics.ts';
import { donut } from '../charts/donut.ts';
import type { DashboardDeps } from '../deps.ts';
import { compact, percent, usd } from '../format.ts';
import { html, type SafeHtml } from '../html.ts';
import { sendHtml } from '../respond.ts';
import { breakdownTable, kpi, rangeTabs, recentTable, requestsChart, spendChart, tierSplit } from '../widgets.ts';
import { consoleLayout } from './layout.ts';
import { type ConsoleContext, consoleForPage } from './session.ts';

/** The account's plan, if it has one. */
export function planOf(deps: DashboardDeps, account: AccountView | undefined): Plan | undefined {
  return account?.planId ? deps.ledger.plans().find((p) => p.id === account.planId) : undefined;
}

/** `/console`: balance, the month's spend against the plan's cap, spend by day and by model, latest requests. */
export function registerConsoleOverview(app: FastifyInstance, deps: DashboardDeps): void {
  app.get('/console', async (req, reply) => {
    const ctx = await consoleForPage(deps, req, reply);
    if (!ctx) return;
    const range = rangeOf((req.query as Record<string, unknown>)['range'] ?? '30d');
    const [view, recent] = await Promise.all([
      loadUsage(deps.store.db, range, ctx.tenant.id),
      queryRecentRequests(deps.store.db, { tenantId: ctx.tenant.id, limit: 10 }),
    ]);
    const account = await deps.ledger.view(ctx.tenant.id);
    return sendHtml(reply, 200, overviewPage(ctx, view, recent, account, planOf(deps, account)));
  });
}

function overviewPage(
  ctx: ConsoleContext,
  view: UsageView,
  recent: UsageRecord[],
  account: AccountView | undefined,
  plan: Plan | undefined,
): SafeHtml {
  const t = view.totals;
  const month = account?.monthSpendNano ?? 0;
  const cap = plan?.monthlyCapNano ?? null;
  const capSub =
    cap === null
      ? plan
        ? `plan ${plan.name}: no monthly cap`
        : 'no plan cap'
      : html`${percent(month, cap)} of the ${usd(cap)} cap of plan ${plan!.name}`;
  return consoleLayout('overview', ctx, {
    title: 'Overview',
    body: html`
<div class="page-head">
  <div><h1>Overview</h1><p>Your balance, what you spent and on which models.</p></div>
  ${rangeTabs('/console', view.range.key)}
</div>
<div class="grid kpis">
  ${kpi('Balance', usd(account?.balanceNano ?? 0), html`<span id="available">${usd(account?.availableNano ?? 0)}</span> available · <a href="/console/billing">add funds</a>`, { highlight: true })}
  ${kpi('Spent this month', usd(month), capSub)}
  ${kpi('Requests', compact(t.requests), t.requests > 0 ? `${percent(t.errors, t.requests)} failed` : 'none yet')}
  ${kpi('Spend', usd(t.costNanoUsd), `in the last ${view.range.key}`)}
</div>
<section class="card" id="spend">
  <div class="card-head"><h2>Spend by ${view.range.bucket}</h2><span class="hint">what your requests cost</span></div>
  ${spendChart(view)}
</section>
<section class="card" id="by-model">
  <div class="card-head"><h2>Spend by model</h2><span class="hint">share of spend</span></div>
  <div class="split">${modelDonut(view)}${breakdownTable(view.byModel, 'Model')}</div>
</section>
<div class="grid two">
  <section class="card"><div class="card-head"><h2>Requests</h2><span class="hint">succeeded and failed</span></div>${requestsChart(view)}</section>
  <section class="card"><div class="card-head"><h2>By tier</h2><span class="hint">utility · fast · deep</span></div>${tierSplit(view)}</section>
</div>
<section class="card" id="recent">
  <div class="card-head"><h2>Latest requests</h2><span class="hint">newest first</span></div>
  ${recentTable(recent)}
</section>`,
  });
}

const TONES = ['c1', 'c2', 'c3', 'c4', 'c5', 'c6'];

/** The period's spend split by model, in the tones of the table's share bars beside it. */
function modelDonut(view: UsageView): SafeHtml {
  const rows = view.byModel;
  const spend = rows.reduce((sum, r) => sum + r.costNanoUsd, 0);
  return donut(
    rows.map((r, i) => ({
      label: `${r.key ?? 'not routed'}: ${usd(r.costNanoUsd)}`,
      value: r.costNanoUsd,
      tone: TONES[i % TONES.length]!,
    })),
    usd(spend),
    'spent',
  );
}
