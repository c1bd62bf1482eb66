import type { FastifyRequest } from 'fastify';
import { QUOTA_PERIODS, SCOPES } from '../../limits/key-limits.ts';
import { html, type SafeHtml } from '../html.ts';
import { formField } from '../http.ts';

/**
 * The limit fields of the admin pages' "new key" forms, and the limits object they post (validated by the
 * same operation as the JSON API and the CLI: src/limits/key-limits.ts). docs/limits.md.
 */
export function keyLimitFields(): SafeHtml {
  return html`<details class="limits"><summary>Limits (optional)</summary>
    <div class="row">
      <div class="field"><label for="limit-rpm">Requests / min</label><input id="limit-rpm" name="limitRpm" type="number" min="1" step="1" placeholder="no limit"></div>
      <div class="field"><label for="limit-tpm">Tokens / min</label><input id="limit-tpm" name="limitTpm" type="number" min="1" step="1" placeholder="no limit"></div>
      <div class="field"><label for="limit-quota">Quota (USD)</label><input id="limit-quota" name="limitQuotaUsd" type="number" min="0" step="any" placeholder="no quota"></div>
      <div class="field"><label for="limit-period">per</label><select id="limit-period" name="limitQuotaPeriod">${QUOTA_PERIODS.map(
        (p) => html`<option value="${p}"${p === 'monthly' ? html` selected` : ''}>${p}</option>`,
      )}</select></div>
    </div>
    <div class="row">
      <div class="field"><label for="limit-ips">Client addresses (CIDR, one a line)</label><textarea id="limit-ips" name="limitIps" rows="2" placeholder="any address"></textarea></div>
      <div class="field"><label for="limit-models">Models (one a line)</label><textarea id="limit-models" name="limitModels" rows="2" placeholder="any model"></textarea></div>
    </div>
    <fieldset class="row scopes"><legend>Scopes (none ticked: all)</legend>${SCOPES.map(
      (s) => html`<label class="check"><input type="checkbox" name="limitScope-${s}" value="on"> ${s}</label>`,
    )}</fieldset>
  </details>`;
}

/** The limits a "new key" form posted, unvalidated (blank fields are left out). */
export function keyLimitsFromForm(req: FastifyRequest): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const field = (name: string) => formField(req, name)?.trim() ?? '';
  if (field('limitRpm')) out['rpm'] = field('limitRpm');
  if (field('limitTpm')) out['tpm'] = field('limitTpm');
  if (field('limitQuotaUsd'))
    out['quota'] = { usd: field('limitQuotaUsd'), period: field('limitQuotaPeriod') || 'monthly' };
  if (field('limitIps')) out['ips'] = field('limitIps');
  if (field('limitModels')) out['models'] = field('limitModels');
  const scopes = SCOPES.filter((s) => formField(req, `limitScope-${s}`) === 'on');
  if (scopes.length > 0) out['scopes'] = scopes;
  return out;
}
