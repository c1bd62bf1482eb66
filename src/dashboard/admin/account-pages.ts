import type { AccountRow, StatementRow } from '../../billing/account-search.ts';
import { formatUsd } from '../../billing/cost.ts';
import type { AccountView, Plan } from '../../billing/ledger.ts';
import type { Tenant } from '../../tenancy/tenant.ts';
import { dateTime, usd } from '../format.ts';
import { html, type SafeHtml } from '../html.ts';
import { type Notice, noticeBox } from '../layout.ts';
import { kpi } from '../widgets.ts';
import { adminLayout } from './layout.ts';

/** `/admin/accounts` and `/admin/accounts/:id`: billed tenants, their money, plan and suspension. */

const csrfField = (csrf: string) => html`<input type="hidden" name="_csrf" value="${csrf}">`;

export interface AccountListItem extends AccountRow {
  view: AccountView | undefined;
}

export function suspendedBadge(suspendedAt: number | null | undefined): SafeHtml {
  return suspendedAt != null
    ? html`<span class="badge bad">suspended</span>`
    : html`<span class="badge good">active</span>`;
}

export function accountsPage(input: {
  csrf: string;
  q: string;
  items: AccountListItem[];
  page: number;
  more: boolean;
  plans: Plan[];
  notice?: Notice | undefined;
  /** What the admin typed in the plan form, kept after a refusal. */
  planForm?: Record<string, string | undefined> | undefined;
}): SafeHtml {
  const pf = input.planForm ?? {};
  const link = (page: number) => `/admin/accounts?q=${encodeURIComponent(input.q)}&page=${page}`;
  return adminLayout('accounts', input.csrf, {
    title: 'Accounts',
    body: html`
<div class="page-head"><div><h1>Accounts</h1><p>Billed tenants: balance, open holds, plan and this month's spend (as this gateway process sees them).</p></div></div>
${noticeBox(input.notice)}
<section class="card">
  <form class="row" method="get" action="/admin/accounts" role="search">
    <div class="field"><label for="q">Search</label><input id="q" name="q" type="search" value="${input.q}" placeholder="tenant id or name"></div>
    <button class="button secondary" type="submit">Search</button>
  </form>
</section>
<section class="card">
  <div class="card-head"><h2>${input.q ? `Accounts matching “${input.q}”` : 'All accounts'}</h2><span class="hint">${input.items.length} shown, by id</span></div>
  ${
    input.items.length === 0
      ? html`<p class="empty-row">No billed account${input.q ? ' matches' : ' yet'}.</p>`
      : html`<div class="table-wrap"><table class="accounts">
    <thead><tr><th>Account</th><th>Status</th><th class="num">Balance</th><th class="num">Open holds</th><th>Plan</th><th class="num">Spend this month</th></tr></thead>
    <tbody>${input.items.map(
      (a) => html`<tr>
      <td><div class="name"><a href="/admin/accounts/${encodeURIComponent(a.tenantId)}">${a.name}</a></div><div class="sub mono">${a.tenantId}</div></td>
      <td>${suspendedBadge(a.suspendedAt)}</td>
      <td class="num mono">${a.view ? usd(a.view.balanceNano) : '—'}</td>
      <td class="num mono">${a.view ? usd(a.view.heldNano) : '—'}</td>
      <td>${a.planId ?? html`<span class="muted">none</span>`}</td>
      <td class="num mono">${a.view ? usd(a.view.monthSpendNano) : '—'}</td></tr>`,
    )}</tbody></table></div>`
  }
  <div class="actions pager">
    ${input.page > 1 ? html`<a class="button secondary small" href="${link(input.page - 1)}">Previous</a>` : ''}
    ${input.more ? html`<a class="button secondary small" href="${link(input.page + 1)}">Next</a>` : ''}
  </div>
</section>
<section class="card" id="plans">
  <div class="card-head"><h2>Plans</h2><span class="hint">public plans are the ones users may choose themselves</span></div>
  ${
    input.plans.length === 0
      ? html`<p class="empty-row">No plans yet.</p>`
      : html`<div class="table-wrap"><table class="plans">
    <thead><tr><th>Plan</th><th class="num">Monthly cap</th><th>Models</th><th>Public</th></tr></thead>
    <tbody>${input.plans.map(
      (p) => html`<tr>
      <td><div class="name">${p.name}</div><div class="sub mono">${p.id}</div></td>
      <td class="num mono">${p.monthlyCapNano === null ? 'none' : usd(p.monthlyCapNano)}</td>
      <td class="sub">${p.models ? p.models.join(', ') : 'every model'}</td>
      <td>${p.public ? html`<span class="badge good">public</span>` : html`<span class="badge">admin only</span>`}</td></tr>`,
    )}</tbody></table></div>`
  }
  <form class="stack" method="post" action="/admin/accounts/plans">
    ${csrfField(input.csrf)}
    <div class="row">
      <div class="field"><label for="plan-id">Id</label><input id="plan-id" name="id" type="text" placeholder="pro" value="${pf['id'] ?? ''}" required></div>
      <div class="field"><label for="plan-name">Name</label><input id="plan-name" name="name" type="text" placeholder="Pro" value="${pf['name'] ?? ''}"></div>
      <div class="field"><label for="plan-cap">Monthly cap (USD)</label><input id="plan-cap" name="cap" type="text" inputmode="decimal" placeholder="none" value="${pf['cap'] ?? ''}"></div>
    </div>
    <div class="field"><label for="plan-models">Models</label><span class="help">Catalog ids, comma-separated; empty gives every model.</span><input id="plan-models" name="models" type="text" value="${pf['models'] ?? ''}"></div>
    <label class="check"><input type="checkbox" name="public" value="yes"${pf['public'] === 'yes' ? html` checked` : ''}> Users may choose it (public)</label>
    <div class="actions"><button class="button" type="submit">Save plan</button></div>
  </form>
</section>`,
  });
}

export interface AccountDetailInput {
  csrf: string;
  tenant: Tenant;
  view: AccountView;
  plans: Plan[];
  entries: StatementRow[];
  /** The id to pass as `before` for the next (older) page; undefined on the last page. */
  olderThan: number | undefined;
  first: boolean;
  notice?: Notice | undefined;
  /** What the admin typed, kept after a refused form. */
  form?: { kind?: string | undefined; amount?: string | undefined; reason?: string | undefined } | undefined;
}

export function accountDetailPage(input: AccountDetailInput): SafeHtml {
  const { tenant, view } = input;
  const base = `/admin/accounts/${encodeURIComponent(tenant.id)}`;
  const plan = input.plans.find((p) => p.id === view.planId);
  const suspended = tenant.suspendedAt != null;
  const form = input.form ?? {};
  return adminLayout('accounts', input.csrf, {
    title: `${tenant.name} · account`,
    body: html`
<div class="page-head"><div><h1>${tenant.name}</h1><p class="mono">${tenant.id} · <a href="/admin/tenants/${encodeURIComponent(tenant.id)}">tenant settings and keys</a></p></div><div>${suspendedBadge(tenant.suspendedAt)}</div></div>
${noticeBox(input.notice)}
<div class="grid kpis">
  ${kpi('Balance', usd(view.balanceNano), `$${formatUsd(view.balanceNano)}`)}
  ${kpi('Available', usd(view.availableNano), `${usd(view.heldNano)} in open holds`)}
  ${kpi('Spend this month', usd(view.monthSpendNano), plan?.monthlyCapNano != null ? `cap ${usd(plan.monthlyCapNano)} (${plan.id})` : plan ? `plan ${plan.id}, no cap` : 'no plan')}
</div>
<section class="card">
  <div class="card-head"><h2>Manual credit or debit</h2><span class="hint">an adjustment entry in the ledger, with your name and the reason</span></div>
  <form class="stack" method="post" action="${base}/adjust" id="adjust">
    ${csrfField(input.csrf)}
    <div class="row">
      <div class="field"><label for="kind">Kind</label><select id="kind" name="kind">
        <option value="credit"${form.kind !== 'debit' ? html` selected` : ''}>Credit (adds to the balance)</option>
        <option value="debit"${form.kind === 'debit' ? html` selected` : ''}>Debit (takes from the balance)</option>
      </select></div>
      <div class="field"><label for="amount">Amount (USD)</label><input id="amount" name="amount" type="text" inputmode="decimal" placeholder="12.50" value="${form.amount ?? ''}" required></div>
    </div>
    <div class="field"><label for="reason">Reason</label><span class="help">Required; shown in the statement.</span><input id="reason" name="reason" type="text" maxlength="500" value="${form.reason ?? ''}" required></div>
    <div class="actions"><button class="button" type="submit">Record entry</button></div>
  </form>
</section>
<section class="card">
  <div class="card-head"><h2>Plan</h2><span class="hint">applies to the account's next request</span></div>
  <form class="row" method="post" action="${base}/plan">
    ${csrfField(input.csrf)}
    <div class="field"><label for="plan">Plan</label><select id="plan" name="planId">
      <option value=""${view.planId === null ? html` selected` : ''}>No plan (no cap, every model)</option>
      ${input.plans.map(
        (p) =>
          html`<option value="${p.id}"${p.id === view.planId ? html` selected` : ''}>${p.name} (${p.id}${p.monthlyCapNano != null ? `, ${usd(p.monthlyCapNano)}/month` : ''}${p.public ? ', public' : ''})</option>`,
      )}
    </select></div>
    <button class="button" type="submit">Assign plan</button>
  </form>
</section>
<section class="card danger-zone">
  <h2>${suspended ? 'Suspended' : 'Suspend'}</h2>
  ${
    suspended
      ? html`<p>Suspended since ${dateTime(tenant.suspendedAt!)}: ${tenant.suspendedReason ?? ''}. Every API key of this account is refused with 403.</p>
  <form method="post" action="${base}/unsuspend">${csrfField(input.csrf)}<button class="button secondary" type="submit">Lift the suspension</button></form>`
      : html`<p>A suspended account's API keys are refused with <code>403 permission_denied</code> on every /v1 route, on every gateway process, until the suspension is lifted. Its balance is kept.</p>
  <form class="row" method="post" action="${base}/suspend">${csrfField(input.csrf)}
    <div class="field"><label for="suspend-reason">Reason</label><input id="suspend-reason" name="reason" type="text" maxlength="500" required></div>
    <button class="button danger" type="submit">Suspend account</button></form>`
  }
</section>
<section class="card">
  <div class="card-head"><h2>Statement</h2><a class="button secondary small" href="${base}/ledger.csv">Export CSV</a></div>
  ${
    input.entries.length === 0
      ? html`<p class="empty-row">No entries${input.first ? ' yet' : ' older than these'}.</p>`
      : html`<div class="table-wrap"><table class="statement">
    <thead><tr><th>#</th><th>Time</th><th>Kind</th><th class="num">Amount</th><th class="num">Held</th><th>Cause</th></tr></thead>
    <tbody>${input.entries.map(
      (e) => html`<tr>
      <td class="mono">${e.id}</td>
      <td class="mono">${dateTime(e.at)}</td>
      <td>${e.kind}</td>
      <td class="num mono">${e.amountNano === 0 ? '' : formatUsd(e.amountNano)}</td>
      <td class="num mono">${e.heldNano === 0 ? '' : formatUsd(e.heldNano)}</td>
      <td class="sub">${[e.requestId, e.paymentId, e.admin ? `by ${e.admin}` : null, e.reason].filter(Boolean).join(' · ')}</td></tr>`,
    )}</tbody></table></div>`
  }
  <div class="actions pager">
    ${input.first ? '' : html`<a class="button secondary small" href="${base}">Newest</a>`}
    ${input.olderThan !== undefined ? html`<a class="button secondary small" href="${base}?before=${input.olderThan}">Older</a>` : ''}
  </div>
</section>`,
  });
}
