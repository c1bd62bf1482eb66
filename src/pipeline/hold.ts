import { costNanoUsd } from '../billing/cost.ts';
import type { HoldResult, Ledger } from '../billing/ledger.ts';
import { type Catalog, resolveModelRef } from '../catalog/catalog.ts';
import { GatewayError } from '../core/errors.ts';
import type { ChatRequest, EmbeddingRequest } from '../core/ir.ts';
import type { KeyLimiter } from '../limits/limiter.ts';
import { parseModelField, type RouteDecision } from '../router/router.ts';
import { promptTokenUpperBound } from '../tokens/tokens.ts';
import type { Caller, CallerContext } from './context.ts';

/**
 * The balance hold of a billed account (docs/billing.md, decision 0025): after routing, before the first
 * upstream byte, the most the request can cost is held; the record stage settles it at the real cost or
 * releases it. Bring-your-own-key callers and tenants without an account are never billed.
 */

export type Held = { ok: true; ctx: CallerContext } | { ok: false; error: GatewayError };

export function billedCaller(ledger: Ledger | undefined, caller: Caller): boolean {
  return ledger !== undefined && caller.ownKey === undefined && ledger.billed(caller.tenantId);
}

/**
 * The plan's model access: a named model outside it is refused, and routing (tiers, `auto`) picks only among
 * its models (narrowing the key's model list). Undefined: the caller may go on as it is.
 */
export function planAccess(
  ledger: Ledger | undefined,
  catalog: Catalog,
  caller: Caller,
  model: string,
): { ok: true; caller: Caller } | { ok: false; error: GatewayError } {
  if (!billedCaller(ledger, caller)) return { ok: true, caller };
  const plan = ledger!.planOf(caller.tenantId);
  if (!plan?.models) return { ok: true, caller };
  const inPlan = new Set(
    catalog.models.filter((m) => plan.models!.includes(m.id) || plan.models!.includes(m.name)).map((m) => m.id),
  );
  try {
    const parsed = parseModelField(model);
    if (parsed.kind === 'model') {
      const resolved = resolveModelRef(catalog, parsed.ref!);
      if (resolved.length > 0 && !resolved.some((m) => inPlan.has(m.id))) {
        return {
          ok: false,
          error: new GatewayError(
            'permission_denied',
            `The plan '${plan.id}' does not include the model '${parsed.ref!.slice(0, 100)}'`,
            { param: 'model' },
          ),
        };
      }
    }
  } catch {
    // routing reports a malformed model field
  }
  const keyModels = caller.policy.keyModels;
  const narrowed = keyModels ? new Set([...inPlan].filter((id) => keyModels.has(id))) : inPlan;
  return { ok: true, caller: { ...caller, policy: { ...caller.policy, keyModels: narrowed } } };
}

/**
 * Holds the most the routed request can cost: on the account of a billed caller (the ledger's hold, which also
 * checks the key's quota when this process knows the key's spend), and against the key's quota through the
 * limiter's reservation otherwise (an unbilled key, or the shared counters of `redis:`; docs/limits.md).
 */
export function holdFor(
  ledger: Ledger | undefined,
  limiter: KeyLimiter,
  ctx: CallerContext,
  decision: RouteDecision,
): Held | Promise<Held> {
  const { caller } = ctx;
  const billed = billedCaller(ledger, caller);
  const quota = caller.limits?.quota;
  const spent = billed && caller.keyId !== null && quota ? limiter.spent?.(caller.keyId) : undefined;
  const reserve = quota && !(billed && spent !== undefined) ? ctx.ticket?.reserve : undefined;
  if (!billed && !reserve) return { ok: true, ctx };
  const amountNano = mostItCanCost(ctx.request as ChatRequest | EmbeddingRequest, decision);
  // Free models (every candidate priced at zero): nothing to hold or reserve, whatever the balance (docs/billing.md).
  if (amountNano === 0) return { ok: true, ctx };
  const hold = (): Held | Promise<Held> => {
    if (!billed) return { ok: true, ctx };
    const held = ledger!.reserve({
      tenantId: caller.tenantId,
      keyId: caller.keyId,
      requestId: ctx.requestId,
      amountNano,
      keyQuota: quota && spent !== undefined ? { nanoUsd: quota.nanoUsd, spentNano: spent } : undefined,
    });
    const done = (result: HoldResult): Held => (result.ok ? { ok: true, ctx: { ...ctx, hold: result.hold } } : result);
    return held instanceof Promise ? held.then(done) : done(held);
  };
  if (!reserve) return hold();
  // The key's reservation first; if the balance then refuses, the record stage settles the ticket, which
  // gives the reservation back.
  const refused = reserve(amountNano);
  const next = (error: GatewayError | undefined): Held | Promise<Held> => (error ? { ok: false, error } : hold());
  return refused instanceof Promise ? refused.then(next) : next(refused);
}

/**
 * The most a request can cost on any candidate failover may use: its prompt counted high (one token per
 * byte of text: a token is never shorter than a byte, plus the per-message overhead) and the whole output it
 * may ask for (`max_tokens`, else the model's maximum output, times `n`), at each candidate's price.
 */
export function mostItCanCost(request: ChatRequest | EmbeddingRequest, decision: RouteDecision): number {
  let most = 0;
  if ('messages' in request) {
    const input = promptTokenUpperBound(request);
    const choices = Math.max(1, request.n ?? 1);
    for (const model of decision.candidates) {
      const output = Math.min(request.maxTokens ?? model.maxOutputTokens, model.maxOutputTokens) * choices;
      most = Math.max(most, cost(input, output, model.price));
    }
    return most;
  }
  const input =
    request.input.kind === 'tokens'
      ? request.input.tokens.reduce((sum, t) => sum + t.length, 0)
      : request.input.texts.reduce((sum, text) => sum + Buffer.byteLength(text), 0);
  for (const model of decision.candidates) most = Math.max(most, cost(input, 0, model.price));
  return most;
}

function cost(inputTokens: number, outputTokens: number, price: RouteDecision['candidates'][number]['price']): number {
  return costNanoUsd(
    { inputTokens, outputTokens, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 },
    price,
  );
}
