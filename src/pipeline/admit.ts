import { type Catalog, resolveModelRef } from '../catalog/catalog.ts';
import { GatewayError } from '../core/errors.ts';
import { parseModelField } from '../router/router.ts';
import type { Caller, CallerContext } from './context.ts';

/**
 * Admission: the policy checks a request passes before routing, and so before any upstream byte is sent.
 * Each check is one function here returning a refusal or a narrower caller; the next ones (key limits, IP
 * and model lists, quotas, balance holds, idempotency) join this list. A check that needs the chosen model
 * (a balance hold at its price) runs after routing, from `Pipeline.handle`, still before the first attempt.
 */
export type Admitted = { ok: true; caller: Caller } | { ok: false; error: GatewayError };

export function admit(ctx: CallerContext, catalog: Catalog): Admitted {
  const named = namedModelAllowed(ctx, catalog);
  if (named) return { ok: false, error: named };
  return keepToRequiredKinds(ctx, catalog);
}

/**
 * A concrete model the caller's policy does not list is refused as if it did not exist (the message does not
 * tell a caller which models exist). Tiers and `auto` route among the operator's candidates.
 */
function namedModelAllowed(ctx: CallerContext, catalog: Catalog): GatewayError | undefined {
  const allowed = ctx.caller.policy.allowedModels;
  if (!allowed) return undefined;
  let parsed: ReturnType<typeof parseModelField>;
  try {
    parsed = parseModelField(ctx.request.model);
  } catch {
    return undefined; // routing reports the malformed model field
  }
  if (parsed.kind !== 'model') return undefined;
  const ref = parsed.ref!;
  if (allowed.includes(ref) || resolveModelRef(catalog, ref).some((m) => allowed.includes(m.id))) return undefined;
  return new GatewayError(
    'not_found',
    `The model '${ref}' does not exist or you do not have access to it. GET /v1/models lists the models you can use.`,
    { param: 'model' },
  );
}

/**
 * A request using what only some provider kinds serve (the decoder says so: Anthropic's server tools,
 * documents…) may go only to providers of those kinds: translating it elsewhere would silently drop parts.
 */
function keepToRequiredKinds(ctx: CallerContext, catalog: Catalog): Admitted {
  const { caller } = ctx;
  const requires = ctx.request.requires;
  if (!requires) return { ok: true, caller };
  const ofKind = [...catalog.providers.values()]
    .filter((p) => requires.providerKinds.includes(p.kind))
    .map((p) => p.id);
  const allowed = caller.policy.providers ? caller.policy.providers.filter((id) => ofKind.includes(id)) : ofKind;
  if (allowed.length === 0) {
    const kinds = requires.providerKinds
      .map((kind) => (kind === 'anthropic' ? 'an Anthropic' : kind === 'openai' ? 'an OpenAI' : `a ${kind}`))
      .join(' or ');
    return {
      ok: false,
      error: new GatewayError(
        'invalid_request',
        `This request uses ${requires.features.join(', ')}, which only ${kinds} provider can serve, and none is configured`,
      ),
    };
  }
  return { ok: true, caller: { ...caller, policy: { ...caller.policy, providers: allowed } } };
}
