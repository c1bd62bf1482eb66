import { type Catalog, resolveModelRef } from '../catalog/catalog.ts';
import { inRanges } from '../core/cidr.ts';
import { GatewayError } from '../core/errors.ts';
import type { ChatRequest, EmbeddingRequest } from '../core/ir.ts';
import { type Endpoint, scopeAllows } from '../limits/key-limits.ts';
import type { KeyLimiter, LimitTicket, Taken } from '../limits/limiter.ts';
import { parseModelField } from '../router/router.ts';
import { promptTokenEstimate } from '../tokens/tokens.ts';
import type { Caller, CallerContext } from './context.ts';

/**
 * Admission: the policy checks a request passes before routing, and so before any upstream byte is sent.
 * Each check is one function here returning a refusal or a narrower caller: the key's scopes, client
 * addresses and model list, the tenant's model list, provider kinds, then the key's quota and rates (counted
 * last, so a request refused for another reason does not use up the key's rate). A check that needs the
 * chosen model (a balance hold at its price) runs after routing, from `Pipeline.handle`, still before the
 * first attempt; the key's model list also narrows routing itself (router.ts, `keyModels`).
 */
export type Admitted =
  | { ok: true; caller: Caller; ticket: LimitTicket | undefined }
  | { ok: false; error: GatewayError; headers?: Record<string, string> | undefined };

export interface AdmitDeps {
  catalog: Catalog;
  limiter: KeyLimiter;
}

/** The endpoint of a chat request (scopes: `messages` for Anthropic's format, `chat` for OpenAI's two). */
export function endpointOf(ctx: CallerContext, counting: boolean): Endpoint {
  if (counting) return 'count_tokens';
  return ctx.protocol === 'anthropic-messages' ? 'messages' : 'chat';
}

export function admit(ctx: CallerContext, deps: AdmitDeps, endpoint: Endpoint): Admitted | Promise<Admitted> {
  const refused = keyAccess(ctx.caller, ctx.clientIp, endpoint) ?? namedModelAllowed(ctx, deps.catalog);
  if (refused) return { ok: false, error: refused };
  const kinds = keepToRequiredKinds(ctx, deps.catalog);
  if (!kinds.ok) return kinds;
  const limits = ctx.caller.limits;
  // An execution's run was counted when it was submitted.
  if (!limits || ctx.caller.keyId === null || ctx.execution) return kinds;
  if (!limits.quota && limits.rpm === undefined && limits.tpm === undefined) return kinds; // nothing to count
  const keyId = ctx.caller.keyId;
  const toAdmitted = (taken: Taken): Admitted =>
    taken.ok
      ? { ok: true, caller: kinds.caller, ticket: taken.ticket }
      : { ok: false, error: taken.error, headers: taken.headers };
  const taken = deps.limiter.admit(keyId, limits, limits.tpm === undefined ? 0 : inputTokenEstimate(ctx.request));
  if (!(taken instanceof Promise)) return toAdmitted(taken);
  return taken.then(toAdmitted, (err: unknown) => ({
    ok: false,
    error: new GatewayError('internal_error', 'Internal error: the limits of this key could not be checked', {
      cause: err,
    }),
  }));
}

/**
 * The key's scopes and client address list: what any endpoint checks first (the model list too, below).
 * Undefined when the caller may go on.
 */
export function keyAccess(caller: Caller, clientIp: string, endpoint: Endpoint): GatewayError | undefined {
  const limits = caller.limits;
  if (!limits) return undefined;
  if (!scopeAllows(limits.scopes, endpoint)) {
    return new GatewayError('permission_denied', `This API key may not call this endpoint (${endpoint})`);
  }
  if (limits.ips && !inRanges(limits.ips, clientIp)) {
    return new GatewayError('permission_denied', 'This API key may not be used from your address');
  }
  return undefined;
}

/**
 * A concrete model outside the tenant's list is refused as if it did not exist (the message does not tell a
 * caller which models exist); one the tenant allows but the key's own list does not is refused with 403.
 * Tiers and `auto` route among the operator's candidates, narrowed to the key's list by the router.
 */
function namedModelAllowed(ctx: CallerContext, catalog: Catalog): GatewayError | undefined {
  const allowed = ctx.caller.policy.allowedModels;
  const keyModels = ctx.caller.policy.keyModels;
  if (!allowed && !keyModels) return undefined;
  let parsed: ReturnType<typeof parseModelField>;
  try {
    parsed = parseModelField(ctx.request.model);
  } catch {
    return undefined; // routing reports the malformed model field
  }
  if (parsed.kind !== 'model') return undefined;
  const ref = parsed.ref!;
  const resolved = resolveModelRef(catalog, ref);
  if (allowed && !allowed.includes(ref) && !resolved.some((m) => allowed.includes(m.id))) {
    return new GatewayError(
      'not_found',
      `The model '${ref}' does not exist or you do not have access to it. GET /v1/models lists the models you can use.`,
      { param: 'model' },
    );
  }
  if (keyModels && resolved.length > 0 && !resolved.some((m) => keyModels.has(m.id))) {
    return new GatewayError('permission_denied', `This API key may not use the model '${ref.slice(0, 100)}'`, {
      param: 'model',
    });
  }
  return undefined;
}

/**
 * A request using what only some provider kinds serve (the decoder says so: Anthropic's server tools,
 * documents…) may go only to providers of those kinds: translating it elsewhere would silently drop parts.
 */
function keepToRequiredKinds(
  ctx: CallerContext,
  catalog: Catalog,
): Extract<Admitted, { ok: true }> | Extract<Admitted, { ok: false }> {
  const { caller } = ctx;
  const requires = ctx.request.requires;
  if (!requires) return { ok: true, caller, ticket: undefined };
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
  return { ok: true, caller: { ...caller, policy: { ...caller.policy, providers: allowed } }, ticket: undefined };
}

/**
 * The tokens admission reserves against tpm (no tokenizer): the prompt's estimate plus the output the request
 * asks for at most (`max_tokens` × `n`, when given, as OpenAI reserves it), so requests in flight together
 * cannot all pass a nearly spent budget. Corrected to the metered prompt + completion when the request ends.
 */
function inputTokenEstimate(request: CallerContext['request']): number {
  if ('messages' in request) {
    const chat = request as ChatRequest;
    const output = chat.maxTokens !== undefined ? chat.maxTokens * Math.max(1, chat.n ?? 1) : 0;
    return promptTokenEstimate(chat) + output;
  }
  // Not a chat request nor an embeddings one (an execution of a media kind): no tokens to estimate.
  if (!('input' in request)) return 0;
  const input = (request as EmbeddingRequest).input;
  if (input.kind === 'tokens') return input.tokens.reduce((sum, tokens) => sum + tokens.length, 0);
  return input.texts.reduce((sum, text) => sum + Math.ceil(Buffer.byteLength(text) / 4), 0);
}
