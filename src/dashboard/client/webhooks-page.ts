import type { Tenant } from '../../tenancy/tenant.ts';
import type { AttemptRow, DeliveryRow } from '../../webhooks/outbox.ts';
import type { SecretView } from '../../webhooks/signing-secrets.ts';
import { dateTime } from '../format.ts';
import { html, type SafeHtml } from '../html.ts';
import { type Notice, noticeBox } from '../layout.ts';
import { clientLayout } from './layout.ts';

export interface WebhooksPageInput {
  tenant: Tenant;
  csrf: string;
  /** Where the page's forms post: `/client/webhooks` or `/console/webhooks`. */
  base: string;
  secret: SecretView;
  deliveries: Array<{ row: DeliveryRow; attempts: AttemptRow[] }>;
  notice?: Notice;
}

function stateBadge(row: DeliveryRow): SafeHtml {
  if (row.state === 'delivered') return html`<span class="badge good">delivered</span>`;
  if (row.state === 'failed') return html`<span class="badge bad">failed</span>`;
  return html`<span class="badge warn">${row.lease_token ? 'sending' : 'pending'}</span>`;
}

function attemptText(a: AttemptRow): string {
  const what = a.status !== null ? `HTTP ${a.status}` : (a.error ?? 'no answer');
  return `${dateTime(a.at)} · ${what} · ${a.duration_ms} ms${a.manual ? ' · manual' : ''}`;
}

/** `/client/webhooks`: the signing secret (rotate), the latest deliveries with every attempt (redeliver). */
export function clientWebhooksPage(input: WebhooksPageInput): SafeHtml {
  return clientLayout('webhooks', input.tenant, input.csrf, { title: 'Webhooks', body: webhooksBody(input) });
}

/** The page's content, framed by the client dashboard or by the console. */
export function webhooksBody(input: WebhooksPageInput): SafeHtml {
  const { secret } = input;
  return html`
<div class="page-head"><div><h1>Webhooks</h1><p>Executions with a <span class="mono">webhook_url</span> are announced there, signed per Standard Webhooks.</p></div></div>
${noticeBox(input.notice)}
<section class="card" id="secret">
  <div class="card-head"><h2>Signing secret</h2><span class="hint">verify each webhook with it (standardwebhooks)</span></div>
  <details><summary>Show the secret</summary><p><code class="mono" id="webhook-secret">${secret.secret}</code></p></details>
  <p class="sub">Created ${dateTime(secret.createdAt)}${secret.rotatedAt ? ` · rotated ${dateTime(secret.rotatedAt)}` : ''}${secret.previousValidUntil ? ` · the previous secret also signs until ${dateTime(secret.previousValidUntil)}` : ''}</p>
  <form method="post" action="${input.base}/rotate"><input type="hidden" name="_csrf" value="${input.csrf}"><button class="button secondary" type="submit">Rotate the secret</button></form>
</section>
<section class="card" id="deliveries">
  <div class="card-head"><h2>Deliveries</h2><span class="hint">newest first · every attempt</span></div>
  ${
    input.deliveries.length === 0
      ? html`<p class="empty-row">No webhooks yet.</p>`
      : html`<div class="table-wrap"><table class="recent">
  <thead><tr><th>Created</th><th>Event</th><th>Status</th><th>Attempts</th><th></th></tr></thead>
  <tbody>${input.deliveries.map(
    ({ row, attempts }) => html`<tr data-delivery="${row.id}">
      <td class="mono">${dateTime(row.created_at)}</td>
      <td><div class="name">${row.type}</div><div class="sub mono">${row.message_id} → ${row.url}</div></td>
      <td>${stateBadge(row)}</td>
      <td>${attempts.length === 0 ? '—' : html`<details><summary>${attempts.length}</summary>${attempts.map((a) => html`<div class="sub mono">${attemptText(a)}</div>`)}</details>`}</td>
      <td><form method="post" action="${input.base}/redeliver"><input type="hidden" name="_csrf" value="${input.csrf}"><input type="hidden" name="id" value="${row.id}"><button class="button secondary" type="submit">Redeliver</button></form></td>
    </tr>`,
  )}</tbody>
</table></div>`
  }
</section>`;
}
