import type { CatalogModel } from '../../billing/catalog-types.ts';
import { PRESETS, TIERS, type Tier } from '../../core/tiers.ts';
import { limitsSummary } from '../../limits/key-limits.ts';
import type { ApiKeyRecord, Tenant } from '../../tenancy/tenant.ts';
import type { UsageView } from '../analytics.ts';
import { compact, dateTime, percent, usd } from '../format.ts';
import { html, type SafeHtml } from '../html.ts';
import { type Notice, noticeBox } from '../layout.ts';
import { kpi, spendChart } from '../widgets.ts';
import { keyLimitFields } from './key-limits-form.ts';
import { adminLayout } from './layout.ts';

interface Frame {
  csrf: string;
  notice?: Notice | undefined;
}

const csrfField = (csrf: string) => html`<input type="hidden" name="_csrf" value="${csrf}">`;

export function keyStatus(key: ApiKeyRecord, now = Date.now()): SafeHtml {
  if (key.revokedAt !== null) return html`<span class="badge bad">revoked</span>`;
  if (key.expiresAt !== null && key.expiresAt <= now) return html`<span class="badge warn">expired</span>`;
  return html`<span class="badge good">active</span>`;
}

/**
 * The keys table of the admin pages and of the console: `/admin/keys` or `/console/keys` for the rotate and revoke
 * forms; the admin sees each key's id (and its tenant on the all-keys page).
 */
export function keysTable(
  keys: ApiKeyRecord[],
  csrf: string,
  options: { showTenant: boolean; showId: boolean; actionBase: '/admin/keys' | '/console/keys' },
): SafeHtml {
  if (keys.length === 0) return html`<p class="empty-row">No keys yet.</p>`;
  const { showTenant, showId, actionBase } = options;
  return html`<div class="table-wrap"><table>
  <thead><tr><th>Key</th>${showTenant ? html`<th>Tenant</th>` : ''}<th>Status</th><th>Limits</th><th>Created</th><th>Expires</th><th>Last used</th><th></th></tr></thead>
  <tbody>${keys.map(
    (k) => html`<tr data-key="${k.id}">
    <td><div class="name">${k.name}</div><div class="sub mono">${k.prefix}…${showId ? html` · ${k.id}` : ''}</div></td>
    ${showTenant ? html`<td><a href="/admin/tenants/${encodeURIComponent(k.tenantId)}">${k.tenantId}</a></td>` : ''}
    <td>${keyStatus(k)}</td>
    <td class="sub">${limitsSummary(k.limits)}</td>
    <td class="mono">${dateTime(k.createdAt)}</td>
    <td class="mono">${k.expiresAt === null ? 'never' : dateTime(k.expiresAt)}</td>
    <td class="mono">${k.lastUsedAt === null ? '—' : dateTime(k.lastUsedAt)}</td>
    <td class="num">${
      k.revokedAt === null
        ? html`<div class="actions key-actions"><form method="post" action="${actionBase}/${encodeURIComponent(k.id)}/rotate">${csrfField(csrf)}<button class="button secondary small" type="submit" title="A new secret; the current one keeps working for 24 hours">Rotate</button></form>
        <form method="post" action="${actionBase}/${encodeURIComponent(k.id)}/revoke">${csrfField(csrf)}<button class="button danger small" type="submit">Revoke</button></form></div>`
        : ''
    }</td></tr>`,
  )}</tbody></table></div>`;
}

/** One page of `/admin/tenants`: the search, its tenants, and the cursors of the neighbouring pages. */
export interface TenantListPage {
  q: string;
  tenants: Tenant[];
  /** `before` for the previous page (undefined: this is the first). */
  previous?: string | undefined;
  /** `after` for the next page (undefined: this is the last). */
  next?: string | undefined;
}

export function tenantsPage(input: Frame & { page: TenantListPage; defaultPreset: string }): SafeHtml {
  const { q, tenants, previous, next } = input.page;
  const link = (name: 'before' | 'after', cursor: string) =>
    `/admin/tenants?${new URLSearchParams(q ? { q, [name]: cursor } : { [name]: cursor })}`;
  return adminLayout('tenants', input.csrf, {
    title: 'Tenants',
    body: html`
<div class="page-head"><div><h1>Tenants</h1><p>Operator-made tenants hold managed keys; own-key tenants appear on their first successful call.</p></div></div>
${noticeBox(input.notice)}
<section class="card">
  <div class="card-head"><h2>New tenant</h2></div>
  <form class="row" method="post" action="/admin/tenants">
    ${csrfField(input.csrf)}
    <div class="field"><label for="id">Id</label><input id="id" name="id" type="text" placeholder="acme" pattern="[a-z0-9][a-z0-9_\\-]{0,62}" required></div>
    <div class="field"><label for="name">Name</label><input id="name" name="name" type="text" placeholder="Acme Inc."></div>
    <div class="field"><label for="preset">Preset</label><select id="preset" name="preset"><option value="">Default (${input.defaultPreset})</option>${PRESETS.map((p) => html`<option value="${p}">${p}</option>`)}</select></div>
    <button class="button" type="submit">Create tenant</button>
  </form>
</section>
<section class="card">
  <form class="row" method="get" action="/admin/tenants" role="search">
    <div class="field"><label for="q">Search</label><input id="q" name="q" type="search" value="${q}" maxlength="100" placeholder="tenant id or name"></div>
    <button class="button secondary" type="submit">Search</button>
  </form>
</section>
<section class="card">
  <div class="card-head"><h2>${q ? `Tenants matching “${q}”` : 'All tenants'}</h2><span class="hint">${tenants.length} shown, newest first</span></div>
  ${
    tenants.length === 0
      ? html`<p class="empty-row">No tenant${q ? ' matches' : ' here'}.</p>`
      : html`<div class="table-wrap"><table class="tenants">
    <thead><tr><th>Tenant</th><th>Kind</th><th>Preset</th><th>Tier models</th><th>Created</th></tr></thead>
    <tbody>${tenants.map(
      (t) => html`<tr data-tenant="${t.id}">
      <td><div class="name"><a href="/admin/tenants/${encodeURIComponent(t.id)}">${t.name}</a></div><div class="sub mono">${t.id}</div></td>
      <td>${t.byokProvider ? html`<span class="badge accent">own ${t.byokProvider} key</span>` : html`<span class="badge">managed</span>`}</td>
      <td>${t.preset ?? html`<span class="muted">default</span>`}</td>
      <td class="sub">${
        TIERS.filter((tier) => t.tierModels[tier])
          .map((tier) => `${tier}: ${t.tierModels[tier]}`)
          .join(' · ') || '—'
      }</td>
      <td class="mono">${dateTime(t.createdAt)}</td></tr>`,
    )}</tbody>
  </table></div>`
  }
  <div class="actions pager">
    ${previous ? html`<a class="button secondary small" rel="prev" href="${link('before', previous)}">Previous</a>` : ''}
    ${next ? html`<a class="button secondary small" rel="next" href="${link('after', next)}">Next</a>` : ''}
  </div>
</section>`,
  });
}

export interface TenantDetailInput extends Frame {
  tenant: Tenant;
  keys: ApiKeyRecord[];
  view: UsageView;
  models: CatalogModel[];
  current: Record<Tier, CatalogModel | undefined>;
  defaultPreset: string;
  /** The tenant has a billed account (its page: /admin/accounts/<id>). */
  billed?: boolean;
}

export function tenantDetailPage(input: TenantDetailInput): SafeHtml {
  const { tenant, view } = input;
  const t = view.totals;
  const base = `/admin/tenants/${encodeURIComponent(tenant.id)}`;
  return adminLayout('tenants', input.csrf, {
    title: tenant.name,
    body: html`
<div class="page-head"><div><h1>${tenant.name}</h1><p class="mono">${tenant.id}${tenant.byokProvider ? ` · own ${tenant.byokProvider} key` : ''}${input.billed ? html` · <a href="/admin/accounts/${encodeURIComponent(tenant.id)}">billed account</a>` : ''}</p></div>${tenant.suspendedAt != null ? html`<div><span class="badge bad">suspended</span></div>` : ''}</div>
${noticeBox(input.notice)}
<div class="grid kpis">
  ${kpi('Requests (30 days)', compact(t.requests), t.requests > 0 ? `${percent(t.errors, t.requests)} failed` : 'none yet')}
  ${kpi('Tokens', compact(t.inputTokens + t.outputTokens))}
  ${kpi('Spend', usd(t.costNanoUsd))}
</div>
<section class="card"><div class="card-head"><h2>Spend, last 30 days</h2></div>${spendChart(view)}</section>
<section class="card">
  <div class="card-head"><h2>Routing policy</h2><span class="hint">applies to the tenant's next request</span></div>
  <form class="stack" method="post" action="${base}/settings">
    ${csrfField(input.csrf)}
    <div class="row">
      <div class="field"><label for="name">Name</label><input id="name" name="name" type="text" value="${tenant.name}"></div>
      <div class="field"><label for="preset">Preset</label><select id="preset" name="preset">
        <option value="default"${tenant.preset === null ? html` selected` : ''}>Default (${input.defaultPreset})</option>
        ${PRESETS.map((p) => html`<option value="${p}"${tenant.preset === p ? html` selected` : ''}>${p}</option>`)}
      </select></div>
    </div>
    <div class="tiers">${TIERS.map(
      (tier) => html`<div class="field"><label for="t-${tier}">${tier}</label>
      <select id="t-${tier}" name="${tier}"><option value="">Preset's choice</option>${input.models.map(
        (m) => html`<option value="${m.id}"${tenant.tierModels[tier] === m.id ? html` selected` : ''}>${m.id}</option>`,
      )}</select><span class="now">Now: <strong>${input.current[tier]?.id ?? 'none'}</strong></span></div>`,
    )}</div>
    <div class="field"><label for="allowed">Models callable by name</label>
      <span class="help">One catalog id or model name per line; empty allows every model.</span>
      <textarea id="allowed" name="allowedModels">${(tenant.allowedModels ?? []).join('\n')}</textarea></div>
    <div class="field"><label for="groups">Channel groups</label>
      <span class="help">Groups this tenant is in, one per line or comma-separated: channels restricted to groups serve only their members.</span>
      <input id="groups" name="groups" type="text" value="${tenant.groups.join(', ')}"></div>
    <div class="actions"><button class="button" type="submit">Save policy</button></div>
  </form>
</section>
${
  tenant.byokProvider
    ? ''
    : html`<section class="card">
  <div class="card-head"><h2>API keys</h2><span class="hint">shown once at creation, stored as a hash</span></div>
  <form class="stack" method="post" action="${base}/keys">
    ${csrfField(input.csrf)}
    <div class="row">
      <div class="field"><label for="key-name">Name</label><input id="key-name" name="name" type="text" placeholder="production"></div>
      <div class="field"><label for="expires">Expires in days</label><input id="expires" name="expiresInDays" type="number" min="1" placeholder="never"></div>
      <button class="button" type="submit">Create key</button>
    </div>
    ${keyLimitFields()}
  </form>
  ${keysTable(input.keys, input.csrf, { showTenant: false, showId: true, actionBase: '/admin/keys' })}
</section>`
}
<section class="card danger-zone">
  <h2>Dashboard access</h2>
  <p>Issue a signed link to this tenant's dashboard, or revoke every link issued so far (open sessions end too).</p>
  <div class="actions">
    <form method="post" action="${base}/link">${csrfField(input.csrf)}<button class="button secondary" type="submit">Issue dashboard link</button></form>
    <form method="post" action="${base}/revoke-links">${csrfField(input.csrf)}<button class="button danger" type="submit">Revoke all dashboard links</button></form>
  </div>
</section>`,
  });
}

export function keysPage(input: Frame & { keys: ApiKeyRecord[]; tenants: Tenant[] }): SafeHtml {
  return adminLayout('keys', input.csrf, {
    title: 'API keys',
    body: html`
<div class="page-head"><div><h1>API keys</h1><p>Managed keys use the operator's provider credentials.</p></div></div>
${noticeBox(input.notice)}
<section class="card">
  <div class="card-head"><h2>New key</h2></div>
  <form class="stack" method="post" action="/admin/keys">
    ${csrfField(input.csrf)}
    <div class="row">
      <div class="field"><label for="tenant">Tenant</label><select id="tenant" name="tenantId" required>${input.tenants.map(
        (t) => html`<option value="${t.id}">${t.name} (${t.id})</option>`,
      )}</select></div>
      <div class="field"><label for="key-name">Name</label><input id="key-name" name="name" type="text" placeholder="production"></div>
      <div class="field"><label for="expires">Expires in days</label><input id="expires" name="expiresInDays" type="number" min="1" placeholder="never"></div>
      <button class="button" type="submit">Create key</button>
    </div>
    ${keyLimitFields()}
  </form>
</section>
<section class="card"><div class="card-head"><h2>All keys</h2></div>${keysTable(input.keys, input.csrf, { showTenant: true, showId: true, actionBase: '/admin/keys' })}</section>`,
  });
}

/** Shown exactly once, right after creation: the key itself (or a fresh dashboard link). */
export function secretPage(input: {
  csrf: string;
  title: string;
  intro: string;
  secret: string;
  back: string;
}): SafeHtml {
  return adminLayout('keys', input.csrf, {
    title: input.title,
    width: 'narrow',
    body: html`<section class="card">
  <h1>${input.title}</h1>
  <p class="muted">${input.intro}</p>
  <code class="secret" id="secret">${input.secret}</code>
  <a class="button secondary" href="${input.back}">Done</a>
</section>`,
  });
}

/** A key just created (or rotated): shown this once, with how to use it. */
export function newKeyPage(input: { csrf: string; key: string; back: string; rotatedUntil?: number }): SafeHtml {
  const rotated =
    input.rotatedUntil === undefined ? '' : ` The previous secret keeps working until ${dateTime(input.rotatedUntil)}.`;
  return secretPage({
    csrf: input.csrf,
    title: input.rotatedUntil === undefined ? 'New API key' : 'Rotated API key',
    intro: `Copy it now: it is shown only this once and stored only as a hash. Use it as the Bearer token (OpenAI SDK apiKey).${rotated}`,
    secret: input.key,
    back: input.back,
  });
}
