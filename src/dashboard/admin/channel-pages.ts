import type { DiscoveryResult } from '../../catalog/discovery.ts';
import type { ChannelView, CredentialView } from '../../channels/operations.ts';
import type { ConfiguredProviderView } from '../../channels/service.ts';
import { PROVIDER_KINDS } from '../../providers/kinds/index.ts';
import { html, type SafeHtml } from '../html.ts';
import { type Notice, noticeBox } from '../layout.ts';
import { adminLayout } from './layout.ts';

/**
 * `/admin/channels`: the channels with their credentials (last four characters, state, age, rotate-by
 * warning), forms to create one, add a credential, enable/disable, drain/activate/revoke and test; and the
 * configuration file's providers, read-only. A credential typed into a form is never rendered back.
 */
const csrfField = (csrf: string) => html`<input type="hidden" name="_csrf" value="${csrf}">`;

function action(csrf: string, path: string, label: string, tone: 'secondary' | 'danger' = 'secondary'): SafeHtml {
  return html`<form method="post" action="${path}">${csrfField(csrf)}<button class="button ${tone} small" type="submit">${label}</button></form>`;
}

function credentialRow(channel: ChannelView, c: CredentialView, csrf: string): SafeHtml {
  const base = `/admin/channels/${encodeURIComponent(channel.id)}/credentials/${encodeURIComponent(c.id)}`;
  const tone = c.state === 'active' ? 'good' : c.state === 'draining' ? 'warn' : 'bad';
  return html`<tr>
    <td><div class="name">${c.label ?? c.id}</div><div class="sub mono">…${c.last4 || '????'} · ${c.id}</div></td>
    <td><span class="badge ${tone}">${c.state}</span></td>
    <td class="mono">${c.ageDays} d</td>
    <td class="num mono">${String(c.inFlight ?? 0)}</td>
    <td class="mono">${c.rotateBy ? c.rotateBy.slice(0, 10) : '—'}${c.warning ? html` <span class="badge warn">${c.warning}</span>` : ''}</td>
    <td class="num"><div class="actions">${
      c.state === 'active'
        ? action(csrf, `${base}/drain`, 'Drain')
        : c.state === 'draining'
          ? action(csrf, `${base}/activate`, 'Activate')
          : ''
    }${c.state !== 'revoked' ? action(csrf, `${base}/revoke`, 'Revoke', 'danger') : ''}</div></td>
  </tr>`;
}

function channelCard(channel: ChannelView, csrf: string): SafeHtml {
  const base = `/admin/channels/${encodeURIComponent(channel.id)}`;
  return html`<section class="card">
  <div class="card-head"><h2>${channel.id}</h2><span class="hint">${channel.kind} · ${channel.baseUrl ?? 'default URL'} · priority ${String(channel.priority)} · weight ${String(channel.weight)} · ${channel.groups ? `groups ${channel.groups.join(', ')}` : 'every tenant'} · <span class="badge ${channel.enabled ? 'good' : 'bad'}">${channel.enabled ? 'enabled' : 'disabled'}</span></span></div>
  <div class="actions">${action(csrf, `${base}/${channel.enabled ? 'disable' : 'enable'}`, channel.enabled ? 'Disable' : 'Enable')}${action(csrf, `${base}/test`, 'Test')}${action(csrf, `${base}/delete`, 'Delete', 'danger')}</div>
  ${
    channel.credentials.length === 0
      ? html`<p class="empty-row">No credentials.</p>`
      : html`<div class="table-wrap"><table><thead><tr><th>Credential</th><th>State</th><th>Age</th><th>In flight</th><th>Rotate by</th><th></th></tr></thead>
  <tbody>${channel.credentials.map((c) => credentialRow(channel, c, csrf))}</tbody></table></div>`
  }
  <details class="limits">
    <summary>Edit</summary>
    <form class="stack" method="post" action="${base}/edit" autocomplete="off">
      ${csrfField(csrf)}
      <div class="row">
        <div class="field"><label>Base URL</label><input name="baseUrl" type="url" value="${channel.baseUrl ?? ''}" placeholder="the kind's default"></div>
        <div class="field"><label>Priority</label><input name="priority" type="number" min="-1000" max="1000" step="1" value="${String(channel.priority)}"></div>
        <div class="field"><label>Weight</label><input name="weight" type="number" min="1" max="1000" step="1" value="${String(channel.weight)}"></div>
        <div class="field"><label>Groups</label><input name="groups" type="text" value="${channel.groups?.join(', ') ?? ''}" placeholder="empty: every tenant"></div>
      </div>
      <div class="field"><label>Models (JSON list, as providers[].models in YAML; empty: the kind's known models)</label><textarea name="models" rows="4" class="mono">${channel.models ? JSON.stringify(channel.models, null, 1) : ''}</textarea></div>
      <button class="button" type="submit">Save changes</button>
    </form>
  </details>
  <form class="row" method="post" action="${base}/credentials" autocomplete="off">
    ${csrfField(csrf)}
    <div class="field"><label>New credential</label><input name="key" type="password" required autocomplete="off"></div>
    <div class="field"><label>Label</label><input name="label" type="text"></div>
    <div class="field"><label>Rotate by</label><input name="rotateBy" type="date"></div>
    <button class="button" type="submit">Add credential</button>
  </form>
</section>`;
}

export function channelsPage(input: {
  csrf: string;
  notice?: Notice | undefined;
  channels: ChannelView[];
  configured: ConfiguredProviderView[];
  masterKey: boolean;
}): SafeHtml {
  const { csrf } = input;
  return adminLayout('channels', csrf, {
    title: 'Channels',
    body: html`
<div class="page-head"><div><h1>Channels</h1><p>Provider connections managed here; their credentials are encrypted under the master key and never shown again (last four characters only). Changes apply without a restart.</p></div></div>
${noticeBox(input.notice)}
${input.masterKey ? '' : noticeBox({ tone: 'bad', text: 'No master key: set MODRO_MASTER_KEY or MODRO_MASTER_KEY_FILE to store credentials.' })}
<section class="card">
  <div class="card-head"><h2>New channel</h2></div>
  <form class="row" method="post" action="/admin/channels" autocomplete="off">
    ${csrfField(csrf)}
    <div class="field"><label for="ch-id">Id</label><input id="ch-id" name="id" type="text" pattern="[a-z0-9][a-z0-9_\\-]{0,62}" required></div>
    <div class="field"><label for="ch-kind">Kind</label><select id="ch-kind" name="kind">${PROVIDER_KINDS.filter((k) => k !== 'demo').map((k) => html`<option value="${k}">${k}</option>`)}</select></div>
    <div class="field"><label for="ch-url">Base URL</label><input id="ch-url" name="baseUrl" type="url" placeholder="the kind's default"></div>
    <div class="field"><label for="ch-groups">Groups</label><input id="ch-groups" name="groups" type="text" placeholder="empty: every tenant"></div>
    <div class="field"><label for="ch-key">Credential</label><input id="ch-key" name="key" type="password" autocomplete="off"></div>
    <button class="button" type="submit">Create channel</button>
  </form>
</section>
${input.channels.map((c) => channelCard(c, csrf))}
<section class="card">
  <div class="card-head"><h2>Models from the providers' listings</h2><span class="hint">discovery: every provider's model list read now; new priced and ranked models join their tier</span></div>
  ${action(csrf, '/admin/catalog/refresh', 'Refresh models')}
</section>
<section class="card">
  <div class="card-head"><h2>From the configuration file</h2><span class="hint">read-only: edit the YAML file</span></div>
  ${
    input.configured.length === 0
      ? html`<p class="empty-row">None.</p>`
      : html`<div class="table-wrap"><table><thead><tr><th>Provider</th><th>Kind</th><th>Keys</th><th>Models</th></tr></thead><tbody>${input.configured.map(
          (p) =>
            html`<tr><td class="mono">${p.id}</td><td>${p.kind}</td><td class="num">${String(p.keys)}</td><td class="sub">${p.models.join(', ')}</td></tr>`,
        )}</tbody></table></div>`
  }
</section>`,
  });
}

/** What a discovery refresh found, in one line per provider (never an upstream message). */
export function discoveryNotice(results: DiscoveryResult[]): Notice {
  if (results.length === 0) return { tone: 'bad', text: 'No provider to list (demo and keyless providers are not).' };
  const lines = results.map((r) =>
    r.ok
      ? `${r.provider}: ${r.listed} listed${r.added.length ? `, added ${r.added.join(', ')}` : ''}${r.removed.length ? `, removed ${r.removed.join(', ')}` : ''}${r.unranked.length ? `; waiting for a rank (catalog.ranks): ${r.unranked.join(', ')}` : ''}`
      : `${r.provider}: listing failed (${r.code}${r.upstreamStatus ? `, upstream ${r.upstreamStatus}` : ''})`,
  );
  return { tone: results.every((r) => r.ok) ? 'good' : 'bad', text: `Models refreshed. ${lines.join('. ')}.` };
}

export function testResultNotice(
  id: string,
  results: Array<{ credential: string; ok: boolean; code?: string; upstreamStatus?: number | null }>,
): Notice {
  const failed = results.filter((r) => !r.ok);
  if (failed.length === 0) return { tone: 'good', text: `Channel ${id}: every active credential answered.` };
  return {
    tone: 'bad',
    text: `Channel ${id}: ${failed.map((r) => `${r.credential} failed (${r.code}${r.upstreamStatus ? `, upstream ${r.upstreamStatus}` : ''})`).join('; ')}`,
  };
}
