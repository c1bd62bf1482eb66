import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { csvField, searchAccounts, statement } from '../../billing/account-search.ts';
import { parseDollarsInput } from '../../billing/amounts.ts';
import { formatUsd } from '../../billing/cost.ts';
import { GatewayError } from '../../core/errors.ts';
import { setSuspended } from '../../tenancy/admin-operations.ts';
import { adminOps, type DashboardDeps } from '../deps.ts';
import { formField } from '../http.ts';
import { messagePage, type Notice } from '../layout.ts';
import { redirect, sendHtml } from '../respond.ts';
import { accountDetailPage, accountsPage } from './account-pages.ts';
import { adminForForm, adminForPage } from './guards.ts';
import { noticeFrom, refusal } from './notices.ts';
import type { AdminContext } from './session.ts';

const PAGE = 50;
/** Most entries one CSV export holds (newest first). */
const CSV_MAX = 100_000;

/**
 * `/admin/accounts` (docs/billing.md, "Admin pages"): billed tenants with search; one account's statement
 * (paged, CSV), manual credit or debit with a reason, plan, suspension. Money moves only through the ledger.
 */
export function registerAdminAccounts(app: FastifyInstance, deps: DashboardDeps): void {
  const { ledger } = deps;
  const ops = adminOps(deps);
  const idOf = (req: FastifyRequest) => (req.params as { id: string }).id;
  const pageOf = (id: string) => `/admin/accounts/${encodeURIComponent(id)}`;
  const query = (req: FastifyRequest, name: string) => {
    const v = (req.query as Record<string, unknown>)[name];
    return typeof v === 'string' ? v : undefined;
  };

  async function renderList(
    ctx: AdminContext,
    req: FastifyRequest,
    reply: FastifyReply,
    status: number,
    notice: Notice | undefined,
    planForm?: Record<string, string | undefined>,
  ) {
    const q = (query(req, 'q') ?? '').slice(0, 100);
    const page = Math.min(10_000, Math.max(1, Number.parseInt(query(req, 'page') ?? '1', 10) || 1));
    const found = await searchAccounts(deps.store.db, { q, limit: PAGE, offset: (page - 1) * PAGE });
    const items = await Promise.all(found.rows.map(async (row) => ({ ...row, view: await ledger.view(row.tenantId) })));
    const plans = ledger.plans().sort((a, b) => a.id.localeCompare(b.id));
    return sendHtml(
      reply,
      status,
      accountsPage({ csrf: ctx.session.csrf, q, items, page, more: found.more, plans, notice, planForm }),
    );
  }

  app.get('/admin/accounts', async (req, reply) => {
    const ctx = await adminForPage(deps, req, reply);
    if (!ctx) return;
    return renderList(ctx, req, reply, 200, noticeFrom(req));
  });

  // A plan created or changed (docs/billing.md, "Plans"); the same rules as PUT /admin/api/plans/:id.
  app.post('/admin/accounts/plans', async (req, reply) => {
    const ctx = await adminForForm(deps, req, reply);
    if (!ctx) return;
    const form = {
      id: formField(req, 'id'),
      name: formField(req, 'name'),
      cap: formField(req, 'cap'),
      models: formField(req, 'models'),
      public: formField(req, 'public'),
    };
    try {
      const capText = form.cap?.trim() ?? '';
      let monthlyCapNano: number | null = null;
      if (capText !== '') {
        const cap = parseDollarsInput(capText);
        if (!cap.ok) throw new GatewayError('invalid_request', `Monthly cap: ${cap.message}`, { param: 'monthlyCap' });
        monthlyCapNano = cap.nano;
      }
      const models = (form.models ?? '')
        .split(',')
        .map((m) => m.trim())
        .filter((m) => m !== '');
      const id = form.id?.trim() ?? '';
      await ledger.savePlan({
        id,
        name: form.name?.trim() || id,
        monthlyCapNano,
        models: models.length > 0 ? models : null,
        public: form.public === 'yes',
      });
    } catch (err) {
      const { status, notice } = refusal(err);
      return renderList(ctx, req, reply, status, notice, form);
    }
    return redirect(reply, '/admin/accounts?notice=plan-saved#plans');
  });

  async function render(
    ctx: AdminContext,
    req: FastifyRequest,
    reply: FastifyReply,
    status: number,
    notice: Notice | undefined,
    form?: { kind?: string | undefined; amount?: string | undefined; reason?: string | undefined },
  ) {
    const id = idOf(req);
    const tenant = await deps.tenancy.repo.getTenant(id);
    const view = await ledger.view(id);
    if (!tenant || !view) {
      return sendHtml(reply, 404, messagePage('Not found', `No billed account '${id}'.`, 'error'));
    }
    const beforeText = query(req, 'before');
    const before = beforeText && /^\d{1,15}$/.test(beforeText) ? Number(beforeText) : undefined;
    const rows = await statement(deps.store.db, id, { before, limit: PAGE + 1 });
    const entries = rows.slice(0, PAGE);
    return sendHtml(
      reply,
      status,
      accountDetailPage({
        csrf: ctx.session.csrf,
        tenant,
        view,
        plans: ledger.plans(),
        entries,
        olderThan: rows.length > PAGE ? entries[entries.length - 1]!.id : undefined,
        first: before === undefined,
        notice,
        form,
      }),
    );
  }

  app.get('/admin/accounts/:id', async (req, reply) => {
    const ctx = await adminForPage(deps, req, reply);
    if (!ctx) return;
    return render(ctx, req, reply, 200, noticeFrom(req));
  });

  app.get('/admin/accounts/:id/ledger.csv', async (req, reply) => {
    const ctx = await adminForPage(deps, req, reply);
    if (!ctx) return;
    const id = idOf(req);
    if (!(await ledger.view(id))) throw new GatewayError('not_found', `No billed account '${id}'`);
    const rows = await statement(deps.store.db, id, { limit: CSV_MAX });
    const header = 'id,time_utc,kind,amount_nano,amount_usd,held_nano,request_id,payment_id,admin,reason';
    const lines = rows.map((e) =>
      [
        e.id,
        new Date(e.at).toISOString(),
        e.kind,
        e.amountNano,
        formatUsd(e.amountNano),
        e.heldNano,
        e.requestId,
        e.paymentId,
        e.admin,
        e.reason,
      ]
        .map(csvField)
        .join(','),
    );
    const name = `ledger-${id.replace(/[^a-z0-9_-]/g, '')}.csv`;
    return reply
      .type('text/csv; charset=utf-8')
      .header('content-disposition', `attachment; filename="${name}"`)
      .header('cache-control', 'no-store')
      .send(`${[header, ...lines].join('\r\n')}\r\n`);
  });

  app.post('/admin/accounts/:id/adjust', async (req, reply) => {
    const ctx = await adminForForm(deps, req, reply);
    if (!ctx) return;
    const id = idOf(req);
    const form = { kind: formField(req, 'kind'), amount: formField(req, 'amount'), reason: formField(req, 'reason') };
    try {
      if (form.kind !== 'credit' && form.kind !== 'debit') {
        throw new GatewayError('invalid_request', 'Choose credit or debit', { param: 'kind' });
      }
      const amount = parseDollarsInput(form.amount);
      if (!amount.ok) throw new GatewayError('invalid_request', amount.message, { param: 'amount' });
      if (!(await ledger.view(id))) throw new GatewayError('not_found', `No billed account '${id}'`);
      await ledger.manual({
        tenantId: id,
        kind: form.kind,
        amountNano: amount.nano,
        admin: ctx.user.username,
        reason: form.reason ?? '',
      });
    } catch (err) {
      const { status, notice } = refusal(err);
      return render(ctx, req, reply, status, notice, form);
    }
    return redirect(reply, `${pageOf(id)}?notice=${form.kind === 'credit' ? 'credited' : 'debited'}`);
  });

  app.post('/admin/accounts/:id/plan', async (req, reply) => {
    const ctx = await adminForForm(deps, req, reply);
    if (!ctx) return;
    const id = idOf(req);
    try {
      if (!(await ledger.view(id))) throw new GatewayError('not_found', `No billed account '${id}'`);
      const planId = formField(req, 'planId') ?? '';
      await ledger.assignPlan(id, planId === '' ? null : planId);
    } catch (err) {
      const { status, notice } = refusal(err);
      return render(ctx, req, reply, status, notice);
    }
    return redirect(reply, `${pageOf(id)}?notice=plan-assigned`);
  });

  for (const action of ['suspend', 'unsuspend'] as const) {
    app.post(`/admin/accounts/:id/${action}`, async (req, reply) => {
      const ctx = await adminForForm(deps, req, reply);
      if (!ctx) return;
      const id = idOf(req);
      try {
        if (!(await ledger.view(id))) throw new GatewayError('not_found', `No billed account '${id}'`);
        await setSuspended(ops, id, { suspended: action === 'suspend', reason: formField(req, 'reason') });
      } catch (err) {
        const { status, notice } = refusal(err);
        return render(ctx, req, reply, status, notice);
      }
      return redirect(reply, `${pageOf(id)}?notice=${action === 'suspend' ? 'suspended' : 'unsuspended'}`);
    });
  }
}
