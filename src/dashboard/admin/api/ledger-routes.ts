import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { parseAmount } from '../../../billing/amounts.ts';
import { verifyLedger } from '../../../billing/verify.ts';
import { GatewayError } from '../../../core/errors.ts';
import type { DashboardDeps } from '../../deps.ts';
import { adminForApi, jsonObject } from './request.ts';

/**
 * `/admin/api/…` money (docs/billing.md): a tenant's account and ledger statement, manual entries by an admin
 * with a reason (credit, debit, deposit with its fee, refund), plans and a tenant's plan, and the ledger check.
 */
export function registerAdminApiLedger(app: FastifyInstance, deps: DashboardDeps): void {
  const { ledger } = deps;
  const idOf = (req: FastifyRequest) => (req.params as { id: string }).id;

  app.get('/admin/api/tenants/:id/account', async (req, reply) => {
    if (!(await adminForApi(deps, req, reply, false))) return;
    const id = idOf(req);
    const account = await ledger.view(id);
    if (!account) throw new GatewayError('not_found', `Tenant '${id}' has no billed account`);
    const entries = await deps.store.db
      .selectFrom('ledger_entry')
      .select([
        'id',
        'at',
        'kind',
        'amount_nano',
        'held_nano',
        'hold_id',
        'request_id',
        'payment_id',
        'admin',
        'reason',
      ])
      .where('tenant_id', '=', id)
      .orderBy('id', 'desc')
      .limit(200)
      .execute();
    return { ...account, entries };
  });

  app.post('/admin/api/tenants/:id/account', async (req, reply) => {
    if (!(await adminForApi(deps, req, reply, true))) return;
    return reply.code(201).send(await ledger.openAccount(idOf(req)));
  });

  app.post('/admin/api/tenants/:id/ledger', async (req, reply) => {
    const admin = await adminForApi(deps, req, reply, true);
    if (!admin) return;
    const input = jsonObject(req);
    const kind = input['kind'];
    if (kind !== 'credit' && kind !== 'debit' && kind !== 'deposit' && kind !== 'refund') {
      throw new GatewayError('invalid_request', 'kind: credit, debit, deposit or refund', { param: 'kind' });
    }
    const amountNano = parseAmount({ usd: input['amountUsd'], nano: input['amountNano'] });
    if (amountNano === undefined) {
      throw new GatewayError(
        'invalid_request',
        'Give amountUsd (dollars as text, up to 9 decimals, e.g. "12.50") or amountNano (a whole number)',
        { param: 'amount' },
      );
    }
    const reason = input['reason'];
    if (typeof reason !== 'string')
      throw new GatewayError('invalid_request', 'A reason is required', { param: 'reason' });
    const paymentId = input['paymentId'];
    if (paymentId !== undefined && (typeof paymentId !== 'string' || paymentId.length > 200)) {
      throw new GatewayError('invalid_request', 'paymentId: text up to 200 characters', { param: 'paymentId' });
    }
    const done = await ledger.manual({
      tenantId: idOf(req),
      kind,
      amountNano,
      admin: admin.user.username,
      reason,
      paymentId: paymentId ?? null,
      feeBps: deps.config.billing.depositFeeBps,
    });
    return reply.code(201).send(done);
  });

  // A Stripe Checkout session for a deposit (docs/billing.md): the payer opens `url`; the signed webhook credits.
  // An `Idempotency-Key` header (or `idempotencyKey`) makes a double submit give the same session.
  app.post('/admin/api/tenants/:id/checkout', async (req, reply) => {
    if (!(await adminForApi(deps, req, reply, true))) return;
    const stripe = deps.stripe;
    if (!stripe) throw new GatewayError('not_found', 'Stripe deposits are off (billing.stripe is not set)');
    const input = jsonObject(req);
    const amountNano = stripe.amountOf(input['amountUsd']);
    const header = req.headers['idempotency-key'];
    const key = typeof header === 'string' ? header : input['idempotencyKey'];
    if (key !== undefined && (typeof key !== 'string' || !/^[\x21-\x7e]{8,200}$/.test(key))) {
      throw new GatewayError('invalid_request', 'Idempotency key: 8 to 200 printable characters', {
        param: 'idempotencyKey',
      });
    }
    const idempotencyKey = key ?? `modro-${randomUUID()}`;
    const session = await stripe.checkout(idOf(req), amountNano, idempotencyKey);
    return reply.code(201).send({ ...session, amountNano, idempotencyKey });
  });

  app.put('/admin/api/tenants/:id/plan', async (req, reply) => {
    if (!(await adminForApi(deps, req, reply, true))) return;
    const planId = jsonObject(req)['planId'];
    if (planId !== null && typeof planId !== 'string') {
      throw new GatewayError('invalid_request', 'planId: a plan id, or null', { param: 'planId' });
    }
    return ledger.assignPlan(idOf(req), planId);
  });

  app.get('/admin/api/plans', async (req, reply) => {
    if (!(await adminForApi(deps, req, reply, false))) return;
    return { data: ledger.plans() };
  });

  app.put('/admin/api/plans/:id', async (req, reply) => {
    if (!(await adminForApi(deps, req, reply, true))) return;
    const input = jsonObject(req);
    const cap = input['monthlyCapUsd'];
    const monthlyCapNano = cap === undefined || cap === null ? null : parseAmount({ usd: cap });
    if (monthlyCapNano === undefined) {
      throw new GatewayError('invalid_request', 'monthlyCapUsd: dollars as text (e.g. "50"), or null', {
        param: 'monthlyCap',
      });
    }
    const models = input['models'];
    if (models !== undefined && models !== null && !Array.isArray(models)) {
      throw new GatewayError('invalid_request', 'models: a list of model ids, or null', { param: 'models' });
    }
    const name = input['name'] ?? idOf(req);
    if (typeof name !== 'string') throw new GatewayError('invalid_request', 'name: text', { param: 'name' });
    const isPublic = input['public'] ?? false;
    if (typeof isPublic !== 'boolean') {
      throw new GatewayError('invalid_request', 'public: true (users may choose it) or false', { param: 'public' });
    }
    return ledger.savePlan({
      id: idOf(req),
      name,
      monthlyCapNano,
      models: (models as string[] | null) ?? null,
      public: isPublic,
    });
  });

  app.get('/admin/api/ledger/verify', async (req, reply) => {
    if (!(await adminForApi(deps, req, reply, false))) return;
    return verifyLedger(deps.store.db);
  });
}
