import type { CatalogModel } from '../../billing/catalog-types.ts';
import { PRESETS, type Preset, TIERS, type Tier } from '../../core/tiers.ts';
import type { Tenant } from '../../tenancy/tenant.ts';
import { html, type SafeHtml } from '../html.ts';
import { type Notice, noticeBox } from '../layout.ts';
import { clientLayout } from './layout.ts';

export interface SettingsPageInput {
  tenant: Tenant;
  csrf: string;
  defaultPreset: Preset;
  /** What each tier routes to right now (first candidate), under the current settings. */
  current: Record<Tier, CatalogModel | undefined>;
  /** Models the tenant may choose. */
  models: CatalogModel[];
  notice?: Notice;
}

export const PRESET_TEXT: Record<Preset, string> = {
  cheapest: 'Lowest price that can do the job; may step one notch down in quality.',
  balanced: 'Best value: quality per dollar within each tier.',
  quality: 'Best model available for each tier, price second.',
};

const TIER_TEXT: Record<Tier, string> = {
  utility: 'Short, simple jobs: extraction, classification, formatting.',
  fast: 'Everyday chat and tool use.',
  deep: 'Hard reasoning, long context, code.',
};

function price(m: CatalogModel): string {
  return `$${m.price.input}/$${m.price.output} per Mtok`;
}

/** The preset and per-tier model form (shared by the client dashboard and the console). */
export function settingsForm(input: SettingsPageInput, action: string, cancelHref: string): SafeHtml {
  const { tenant } = input;
  const chosen = tenant.preset;
  const presetCard = (value: Preset | 'default', title: string, desc: string) => html`<label class="preset">
    <input type="radio" name="preset" value="${value}"${(value === 'default' ? chosen === null : chosen === value) ? html` checked` : ''}>
    <span class="title">${title}<span class="check"></span></span>
    <span class="desc">${desc}</span>
  </label>`;
  return html`<form class="stack" method="post" action="${action}">
  <input type="hidden" name="_csrf" value="${input.csrf}">
  <section class="card">
    <div class="card-head"><h2>Preset</h2><span class="hint">how each tier picks its model</span></div>
    <div class="presets">
      ${PRESETS.map((p) => presetCard(p, p === 'quality' ? 'Highest quality' : p[0]!.toUpperCase() + p.slice(1), PRESET_TEXT[p]))}
      ${presetCard('default', 'Default', `Follow the operator's default (${input.defaultPreset}).`)}
    </div>
  </section>
  <section class="card">
    <div class="card-head"><h2>Models per tier</h2><span class="hint">optional: pin a model; the preset's list stays as fallback</span></div>
    <div class="tiers">
      ${TIERS.map(
        (tier) => html`<div class="field">
        <label for="tier-${tier}">${tier[0]!.toUpperCase() + tier.slice(1)}</label>
        <span class="help">${TIER_TEXT[tier]}</span>
        <select id="tier-${tier}" name="${tier}">
          <option value="">Preset's choice</option>
          ${input.models.map(
            (m) =>
              html`<option value="${m.id}"${tenant.tierModels[tier] === m.id ? html` selected` : ''}>${m.id} · ${price(m)}</option>`,
          )}
        </select>
        <span class="now" data-tier="${tier}">Now: <strong>${input.current[tier]?.id ?? 'no model available'}</strong></span>
      </div>`,
      )}
    </div>
  </section>
  <div class="actions"><button class="button" type="submit">Save settings</button><a class="button secondary" href="${cancelHref}">Cancel</a></div>
</form>`;
}

export function clientSettingsPage(input: SettingsPageInput): SafeHtml {
  const { tenant } = input;
  return clientLayout('settings', tenant, input.csrf, {
    title: 'Routing settings',
    body: html`
<div class="page-head"><div><h1>Routing settings</h1><p>Changes apply to your next API request.</p></div></div>
${noticeBox(input.notice)}
${settingsForm(input, '/client/settings', '/client')}
<section class="card danger-zone">
  <h2>Dashboard links</h2>
  <p>Every API response carries a fresh link to this dashboard. If a link leaked, revoke all links issued so far: this signs you out too, and the link in your next API response works again.</p>
  <form method="post" action="/client/revoke-links"><input type="hidden" name="_csrf" value="${input.csrf}"><button class="button danger" type="submit">Revoke all dashboard links</button></form>
</section>`,
  });
}
