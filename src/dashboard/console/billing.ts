import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { formatUsd } from '../../billing/cost.ts';
import type { AccountView } from '../../billing/ledger.ts';
import { GatewayError } from '../../core/errors.ts';
import type { DashboardDeps } from '../deps.ts';
import { dateTime, usd } from '../format.ts';
import { html, type SafeHtml } from '../html.ts';
import { contentSecurityPolicy, formField } from '../http.ts';
import { type Notice, noticeBox } from '../layout.ts';
import { sendHtml } from '../respond.ts';
import { consoleLayout, csrfField } from './layout.ts';
import { type ConsoleContext, consoleForForm, consoleForPage, SUSPENDED_TEXT } from './session.ts';

/** Entries that move money (holds only reserve it and are left out of statements). */
interface StatementRow {
  id: number;
  at: number;
  kind: string;
  amount_nano: number;
  request_id: string | null;
  payment_id: string | null;
  reason: string | null;
}

const STATEMENT_ROWS = 100;
/**
 * The deposit form is answered with a redirect to Stripe's hosted Checkout page, and a form's redirects are
 * bound by `form-action` too: the billing page lets its forms reach Stripe's Checkout origin, and no other.
 */
const BILLING_CSP = contentSecurityPolicy("'self' https://checkout.stripe.com");
const CSV_ROWS = 100_000;
const KIND_LABELS: Record<string, string> = {
  deposit: 'Deposit',
  deposit_fee: 'Deposit fee',
  settle: 'Request',
  refund: 'Refund',
  adjustment: 'Adjustment',
};

/**
 * `/console/billing`: the balance, a deposit through Stripe Checkout (verified accounts; a double submit of the
 * form reuses its idempotency token, so Stripe returns the same session), the return pages, and the ledger
 * statement with its CSV export.
 */
export function registerConsoleBilling(app: FastifyInstance, deps: DashboardDeps): void {
  const render = async (ctx: ConsoleContext, reply: FastifyReply, status: number, notice?: Notice) => {
    const rows = await statement(deps, ctx.tenant.id, 'desc', STATEMENT_ROWS);
    reply.header('content-security-policy', BILLING_CSP);
    return sendHtml(reply, status, billingPage(deps, ctx, await deps.ledger.view(ctx.tenant.id), rows, notice));
  };

  app.get('/console/billing', async (req, reply) => {
    const ctx = await consoleForPage(deps, req, reply);
    if (!ctx) return;
    const q = (req.query as Record<string, unknown>)['deposit'];
    const notice: Notice | undefined =
      q === 'paid'
        ? {
            tone: 'good',
            text: 'Thank you: your payment went through. The balance rises as soon as Stripe confirms it (usually seconds); reload to see it.',
          }
        : q === 'cancelled'
          ? { tone: 'bad', text: 'The payment was cancelled; nothing was charged.' }
          : undefined;
    return render(ctx, reply, 200, notice);
  });

  app.post('/console/billing/deposit', async (req, reply) => {
    const ctx = await consoleForForm(deps, req, reply);
    if (!ctx) return;
    const stripe = deps.stripe;
    if (!stripe) return render(ctx, reply, 404, { tone: 'bad', text: 'Payments are not set up on this gateway.' });
    if (ctx.tenant.suspendedAt != null) return render(ctx, reply, 403, { tone: 'bad', text: SUSPENDED_TEXT });
    if (ctx.account.verifiedAt === null) {
      return render(ctx, reply, 403, {
        tone: 'bad',
        text: 'Confirm your address first: deposits need a verified account.',
      });
    }
    const token = formField(req, 'idempotency') ?? '';
    if (!/^[A-Za-z0-9_-]{16,64}$/.test(token))
      return render(ctx, reply, 400, { tone: 'bad', text: 'The form was incomplete; reload the page and try again.' });
    try {
      const amountNano = stripe.amountOf(formField(req, 'amountUsd'));
      const base = deps.tenancy.links.baseUrl;
      const session = await stripe.checkout(ctx.tenant.id, amountNano, `console-${ctx.tenant.id}-${token}`, {
        successUrl: `${base}/console/billing?deposit=paid`,
        cancelUrl: `${base}/console/billing?deposit=cancelled`,
      });
      return reply.code(303).header('location', session.url).send();
    } catch (err) {
      if (!(err instanceof GatewayError)) throw err;
      if (err.code === 'idempotency_conflict' || err.code === 'invalid_request') {
        const text =
          err.code === 'idempotency_conflict'
            ? 'This form was already sent with another amount; reload the page to start a new deposit.'
            : err.message;
        return render(ctx, reply, err.status, { tone: 'bad', text });
      }
      return render(ctx, reply, 502, {
        tone: 'bad',
        text: 'The payment provider could not be reached; try again in a moment.',
      });
    }
  });

  app.post('/console/billing/plan', async (req, reply) => {
    const ctx = await consoleForForm(deps, req, reply);
    if (!ctx) return;
    if (ctx.tenant.suspendedAt != null) return render(ctx, reply, 403, { tone: 'bad', text: SUSPENDED_TEXT });
    try {
      const account = await deps.ledger.choosePlan(ctx.tenant.id, formField(req, 'plan') ?? '');
      return render(ctx, reply, 200, {
        tone: 'good',
        text: `Your plan is now ${deps.ledger.planOf(ctx.tenant.id)?.name ?? account.planId}.`,
      });
    } catch (err) {
      if (!(err instanceof GatewayError) || err.status >= 500) throw err;
      return render(ctx, reply, err.status, { tone: 'bad', text: err.message });
    }
  });

  app.get('/console/billing/statement.csv', async (req, reply) => {
    const ctx = await consoleForPage(deps, req, reply);
    if (!ctx) return;
    const rows = await statement(deps, ctx.tenant.id, 'asc', CSV_ROWS);
    let balance = 0;
    const lines = ['id,time_utc,kind,amount_usd,balance_usd,request_id,payment_id,reason'];
    for (const r of rows) {
      balance += r.amount_nano;
      lines.push(
        [
          String(r.id),
          new Date(r.at).toISOString(),
          r.kind,
          formatUsd(r.amount_nano),
          formatUsd(balance),
          csvText(r.request_id),
          csvText(r.payment_id),
          csvText(r.reason),
        ].join(','),
      );
    }
    return reply
      .type('text/csv; charset=utf-8')
      .header('content-disposition', `attachment; filename="modro-statement-${ctx.tenant.id}.csv"`)
      .send(`${lines.join('\r\n')}\r\n`);
  });
}

async function statement(
  deps: DashboardDeps,
  tenantId: string,
  order: 'asc' | 'desc',
  limit: number,
): Promise<StatementRow[]> {
  const rows = await deps.store.db
    .selectFrom('ledger_entry')
    .select(['id', 'at', 'kind', 'amount_nano', 'request_id', 'payment_id', 'reason'])
    .where('tenant_id', '=', tenantId)
    .where('amount_nano', '!=', 0)
    .orderBy('id', order)
    .limit(limit)
    .execute();
  return rows.map((r) => ({ ...r, id: Number(r.id), at: Number(r.at), amount_nano: Number(r.amount_nano) }));
}

/** A CSV field: quoted, and never read as a formula by a spreadsheet. */
function csvText(value: string | null): string {
  if (value === null || value === '') return '';
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return `"${safe.replace(/"/g, '""')}"`;
}

function billingPage(
  deps: DashboardDeps,
  ctx: ConsoleContext,
  account: AccountView | undefined,
  rows: StatementRow[],
  notice?: Notice,
): SafeHtml {
  const feePercent = deps.config.billing.depositFeeBps / 100;
  const verified = ctx.account.verifiedAt !== null;
  const deposit = deps.stripe
    ? html`<form class="row" method="post" action="/console/billing/deposit" id="deposit">
    ${csrfField(ctx.session.csrf)}
    <input type="hidden" name="idempotency" value="${randomBytes(18).toString('base64url')}">
    <div class="field"><label for="amount">Amount (USD)</label><input id="amount" name="amountUsd" type="text" inputmode="decimal" pattern="[0-9]+(\\.[0-9]{1,2})?" placeholder="25" required></div>
    <button class="button" type="submit"${verified ? '' : html` disabled`}>Pay with Stripe</button>
  </form>
  <p class="hint">A fee of ${feePercent}% is taken from each deposit: $100 adds $${(100 - feePercent).toFixed(2)} to your balance.${verified ? '' : ' Confirm your address first.'}</p>`
    : html`<p>Payments are not set up on this gateway; ask the operator to add funds.</p>`;
  return consoleLayout('billing', ctx, {
    title: 'Billing',
    body: html`
<div class="page-head"><div><h1>Billing</h1><p>Prepaid: requests are charged at the provider's price from your balance.</p></div></div>
${noticeBox(notice)}
<div class="grid kpis">
  <section class="card kpi highlight"><div class="label">Balance</div><div class="value" id="balance">${usd(account?.balanceNano ?? 0)}</div><div class="kpi-sub">${usd(account?.heldNano ?? 0)} held by requests in flight</div></section>
</div>
<section class="card">
  <div class="card-head"><h2>Add funds</h2></div>
  ${deposit}
</section>
${planCard(deps, ctx)}
<section class="card" id="statement">
  <div class="card-head"><h2>Statement</h2><span class="hint">latest ${STATEMENT_ROWS} · <a href="/console/billing/statement.csv">download CSV</a></span></div>
  ${
    rows.length === 0
      ? html`<p class="empty-row">Nothing yet.</p>`
      : html`<div class="table-wrap"><table>
    <thead><tr><th>Time</th><th>What</th><th>Reference</th><th class="num">Amount</th></tr></thead>
    <tbody>${rows.map(
      (r) => html`<tr data-kind="${r.kind}">
      <td class="mono">${dateTime(r.at)}</td>
      <td>${KIND_LABELS[r.kind] ?? r.kind}${r.reason && r.kind === 'adjustment' ? html`<div class="sub">${r.reason}</div>` : ''}</td>
      <td class="sub mono">${r.request_id ?? r.payment_id ?? ''}</td>
      <td class="num">${usd(r.amount_nano)}</td></tr>`,
    )}</tbody></table></div>`
  }
</section>`,
  });
}

/** The account's plan, and a choice among the public plans (docs/billing.md, "Plans"). */
function planCard(deps: DashboardDeps, ctx: ConsoleContext): SafeHtml {
  const current = deps.ledger.planOf(ctx.tenant.id);
  const choices = deps.ledger
    .plans()
    .filter((p) => p.public)
    .sort((a, b) => a.id.localeCompare(b.id));
  const cap = (nano: number | null) => (nano === null ? 'no monthly cap' : `${usd(nano)} a month`);
  return html`<section class="card" id="plan">
  <div class="card-head"><h2>Plan</h2><span class="hint">${current ? html`${current.name} · ${cap(current.monthlyCapNano)}` : 'no plan'}</span></div>
  ${
    choices.length === 0
      ? html`<p class="hint">The operator assigns plans on this gateway.</p>`
      : html`<form class="row" method="post" action="/console/billing/plan">
    ${csrfField(ctx.session.csrf)}
    <div class="field"><label for="plan-choice">Public plans</label><select id="plan-choice" name="plan">${choices.map(
      (p) =>
        html`<option value="${p.id}"${p.id === current?.id ? html` selected` : ''}>${p.name} (${cap(p.monthlyCapNano)}${p.models ? `, ${p.models.length} models` : ''})</option>`,
    )}</select></div>
    <button class="button" type="submit">Switch plan</button>
  </form>
  <p class="hint">A new cap counts this month's spend so far.</p>`
  }
</section>`;
}
