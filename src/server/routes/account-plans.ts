import type { FastifyInstance } from 'fastify';
import { formatUsd } from '../../billing/cost.ts';
import type { Ledger, Plan } from '../../billing/ledger.ts';
import { GatewayError } from '../../core/errors.ts';
import { keyAccess } from '../../pipeline/admit.ts';
import type { Caller } from '../../pipeline/context.ts';
import type { Pipeline } from '../../pipeline/pipeline.ts';
import { openAIChatCodec } from '../../protocols/openai-chat/codec.ts';
import { sendError } from '../answer.ts';
import { authenticateFirst, callerOf } from '../authenticate-first.ts';
import type { BodyBudget } from '../body-budget.ts';

/**
 * The plans a billed account may choose itself (docs/billing.md, "Plans"): `GET /v1/account/plans` lists the
 * public plans and the current one, `POST /v1/account/plan` `{"plan":"<id>"}` switches to a public plan.
 * Authenticated by an API key of the account, like /v1/models; errors in OpenAI's envelope. Reading needs a
 * key that may list models; switching needs a key without scopes.
 */
export function registerAccountPlans(
  app: FastifyInstance,
  deps: { pipeline: Pipeline; budget: BodyBudget; ledger: Pick<Ledger, 'billed' | 'plans' | 'planOf' | 'choosePlan'> },
): void {
  const { pipeline, budget, ledger } = deps;
  const onRequest = authenticateFirst(pipeline, budget, (_req, reply, error) =>
    sendError(reply, openAIChatCodec, error, {}, ''),
  );
  const billedTenant = (caller: Caller): string => {
    if (caller.ownKey !== undefined || !ledger.billed(caller.tenantId)) {
      throw new GatewayError(
        'invalid_request',
        'This API key belongs to an account that is not billed: it has no plan',
      );
    }
    return caller.tenantId;
  };

  app.get('/v1/account/plans', { onRequest }, async (req, reply) => {
    const caller = callerOf(req);
    try {
      const refused = keyAccess(caller, req.ip, 'models');
      if (refused) throw refused;
      const tenantId = billedTenant(caller);
      const current = ledger.planOf(tenantId)?.id ?? null;
      const data = ledger
        .plans()
        .filter((p) => p.public || p.id === current)
        .sort((a, b) => a.id.localeCompare(b.id))
        .map((p) => planJson(p, current));
      return reply.send({ object: 'list', current, data });
    } catch (err) {
      return sendError(reply, openAIChatCodec, asGatewayError(err), {}, '');
    }
  });

  app.post('/v1/account/plan', { onRequest }, async (req, reply) => {
    const caller = callerOf(req);
    try {
      if (caller.limits?.scopes) {
        throw new GatewayError('permission_denied', 'Changing the plan needs an API key without scopes');
      }
      const refused = keyAccess(caller, req.ip, 'models');
      if (refused) throw refused;
      const tenantId = billedTenant(caller);
      const body = req.body as Record<string, unknown> | undefined;
      const planId = body && typeof body === 'object' ? body['plan'] : undefined;
      if (typeof planId !== 'string' || planId === '') {
        throw new GatewayError('invalid_request', 'Send {"plan":"<plan id>"}; GET /v1/account/plans lists them', {
          param: 'plan',
        });
      }
      const account = await ledger.choosePlan(tenantId, planId);
      const plan = ledger.planOf(tenantId);
      return reply.send({ object: 'account.plan', plan: plan ? planJson(plan, account.planId) : null });
    } catch (err) {
      return sendError(reply, openAIChatCodec, asGatewayError(err), {}, '');
    }
  });
}

function planJson(p: Plan, current: string | null) {
  return {
    id: p.id,
    object: 'plan',
    name: p.name,
    monthly_cap_usd: p.monthlyCapNano === null ? null : formatUsd(p.monthlyCapNano),
    monthly_cap_nano: p.monthlyCapNano,
    models: p.models,
    current: p.id === current,
  };
}

function asGatewayError(err: unknown): GatewayError {
  if (err instanceof GatewayError) return err;
  return new GatewayError('internal_error', 'Internal error', { cause: err });
}
