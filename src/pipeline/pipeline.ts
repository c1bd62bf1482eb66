import type { CatalogModel } from '../billing/catalog-types.ts';
import { costNanoUsd } from '../billing/cost.ts';
import type { Ledger } from '../billing/ledger.ts';
import { type Catalog, groupsAllow } from '../catalog/catalog.ts';
import type { Config } from '../config/schema.ts';
import { GatewayError, toGatewayError } from '../core/errors.ts';
import { allFree, type FreeModelLimiter } from '../limits/free-limits.ts';
import type { Endpoint } from '../limits/key-limits.ts';
import type { KeyLimiter } from '../limits/limiter.ts';
import type { Logger } from '../ops/logger.ts';
import type { Metrics } from '../ops/metrics.ts';
import type { UpstreamPool } from '../providers/http.ts';
import { type ProviderAdapter, type ProviderSpec, passthroughFor, type UpstreamTarget } from '../providers/types.ts';
import type { RouteDecision, Router } from '../router/router.ts';
import type { TokenCounter } from '../tokens/token-counter.ts';
import { promptTokens } from '../tokens/tokens.ts';
import { admit, endpointOf, keyAccess } from './admit.ts';
import { type Authenticator, successHeaders } from './authenticate.ts';
import type { Caller, CallerContext, EmbeddingContext, RequestContext, RequestStart } from './context.ts';
import { callWithFailover, type FailoverDeps, firstOf } from './failover.ts';
import { routingHeaders } from './headers.ts';
import type { ProviderHealth } from './health.ts';
import { billedCaller, holdFor, planAccess } from './hold.ts';
import type { KeysInFlight } from './in-flight.ts';
import { StreamMeter } from './meter.ts';
import type { AnswerHeaders, Counted, Embedded, Failure, Handled, Outcome, Served } from './outcome.ts';
import { Recorder, type UsageSink } from './record.ts';
import { MeteredStream } from './stream.ts';

/**
 * The one request pipeline. Every endpoint goes through it: its HTTP route decodes the protocol into the
 * internal request, calls `handle` (or `countTokens`), and encodes what comes back. The stages:
 *
 *   authenticate  the caller from the headers, before the body is read        `authenticate` (server hook)
 *   admit         policy checks before any upstream byte                       admit.ts
 *   route         tier / model → ordered candidates                           router/router.ts
 *   call          candidates and keys with failover, circuit breakers         failover.ts, health.ts
 *   meter         tokens → cost; a stream meters itself                       meter.ts, stream.ts
 *   record        one usage record per request, durable before the last byte  record.ts
 *
 * Nothing here throws for a request's failure: outcomes are values (outcome.ts).
 */
export interface PipelineDeps {
  config: Config;
  catalog: Catalog;
  router: Router;
  health: ProviderHealth;
  adapterFor(provider: ProviderSpec): ProviderAdapter;
  auth: Authenticator;
  metrics: Metrics;
  logger: Logger;
  usage: UsageSink;
  /** Exact token counts within their budget (usage estimates, count_tokens). */
  tokens: TokenCounter;
  /** The runtime's upstream connection pools. */
  upstreams: UpstreamPool;
  /** Per-key rate and quota counters (src/limits/). */
  limiter: KeyLimiter;
  /** Balances, holds and plans of billed accounts (src/billing/ledger.ts); absent: nobody is billed. */
  ledger?: Ledger | undefined;
  /** Uses of each provider key under way on this gateway (in-flight.ts). */
  inFlight?: KeysInFlight | undefined;
  /** Billed accounts' requests to free models: their own per-key rates (limits/free-limits.ts). */
  freeLimits?: FreeModelLimiter | undefined;
}

export class Pipeline {
  readonly #deps: PipelineDeps;
  readonly #failover: FailoverDeps;
  readonly #recorder: Recorder;

  constructor(deps: PipelineDeps) {
    this.#deps = deps;
    this.#failover = {
      routing: deps.config.routing,
      catalog: deps.catalog,
      health: deps.health,
      adapterFor: deps.adapterFor,
      metrics: deps.metrics,
      logger: deps.logger,
      inFlight: deps.inFlight,
    };
    this.#recorder = new Recorder(deps.usage, deps.metrics, deps.logger);
  }

  /**
   * Who is calling, from the request headers alone (throws GatewayError authentication_failed). The caller's
   * billing state is in memory when this resolves: its account (or the knowledge that it has none) is loaded
   * on the tenant's first request, with one query (decision 0043); a warm one answers synchronously.
   */
  authenticate(headers: Readonly<Record<string, string | string[] | undefined>>): Caller | Promise<Caller> {
    const found = this.#deps.auth.authenticate(headers);
    if (!this.#deps.ledger) return found;
    const withAccount = (caller: Caller): Caller | Promise<Caller> => {
      const cold = this.#accountInMemory(caller);
      return cold ? cold.then(() => caller) : caller;
    };
    return found instanceof Promise ? found.then(withAccount) : withAccount(found);
  }

  /**
   * The caller's account (or the knowledge that it has none) in the ledger's memory: nothing to wait for when
   * warm. A load the database failed is logged and becomes a retryable 503, as a cold key's lookup does.
   */
  #accountInMemory(caller: Caller): Promise<void> | undefined {
    if (caller.ownKey !== undefined) return undefined;
    return this.#deps.ledger?.use(caller.tenantId)?.catch((err: unknown) => {
      this.#deps.logger.error({ err, tenantId: caller.tenantId }, 'a billed account could not be loaded');
      throw new GatewayError(
        'provider_unavailable',
        "The gateway could not read this account's balance; retry shortly",
        {
          retryAfter: 1,
        },
      );
    });
  }

  /** False for a caller no provider has verified yet (a new bring-your-own key): its body is budgeted. */
  verified(caller: Caller): boolean {
    return this.#deps.auth.verified?.(caller) !== false;
  }

  /**
   * A request refused before it could be decoded (authentication, an unreadable or invalid body, draining):
   * recorded like any other, with what could be read of it. Resolves with its headers once the record is
   * durable.
   */
  async refuse(
    start: RequestStart,
    error: GatewayError,
    seen: { caller?: Caller | undefined; model?: unknown; stream?: unknown } = {},
  ): Promise<AnswerHeaders> {
    await this.#recorder.record({
      start,
      caller: seen.caller,
      requestedModel: typeof seen.model === 'string' ? seen.model : '',
      stream: seen.stream === true,
      outcome: { attempts: 0, costNano: 0, status: error.status, errorCode: error.code, ttfbMs: null },
    });
    return { ...this.#limitHeaders(seen.caller), ...errorHeaders(start.requestId, error, 0) };
  }

  /** A chat request (any inbound protocol): admitted, routed, called with failover, metered and recorded. */
  async handle(ctx: RequestContext): Promise<Handled> {
    const endpoint = ctx.execution ? 'executions' : endpointOf(ctx, false);
    const routed = await this.#admitAndRoute(ctx, endpoint, this.#routeChat);
    if (!routed.ok) return this.#fail(routed.ctx, routed);
    const { decision } = routed;
    ctx = routed.ctx;
    const deps = this.#deps;
    const call = { requestId: ctx.requestId, tokens: deps.tokens, pool: deps.upstreams };
    if (ctx.request.stream) {
      const meter = new StreamMeter(deps.tokens);
      const open = await callWithFailover(
        this.#failover,
        ctx,
        decision,
        async (target, adapter, signal) => {
          const pass = passthroughFor(adapter, ctx.request, target);
          if (pass) {
            const it = (await pass.stream(ctx.request, target, { ...call, signal }))[Symbol.asyncIterator]();
            return { mode: 'passthrough' as const, first: await firstOf(it, target), rest: it };
          }
          const it = (await adapter.stream(ctx.request, target, { ...call, signal }))[Symbol.asyncIterator]();
          return { mode: 'ir' as const, first: await firstOf(it, target), rest: it };
        },
        { holdKey: true },
      );
      if (!open.ok) return this.#fail(ctx, open);
      const served = { decision: open.decision, target: open.target, attempts: open.attempts, ttfbMs: open.ttfbMs };
      const common = { served, ctx, meter, recorder: this.#recorder, release: open.release };
      const stream =
        open.mode === 'passthrough'
          ? new MeteredStream({
              ...common,
              mode: 'passthrough',
              first: open.first,
              rest: open.rest,
              observe: (m, frame) => m.observeFrame(frame),
            })
          : new MeteredStream({
              ...common,
              mode: 'ir',
              first: open.first,
              rest: open.rest,
              observe: (m, event) => m.observeEvent(event),
            });
      return { kind: 'stream', stream, headers: this.#successHeaders(ctx, served, undefined) };
    }
    const done = await callWithFailover(this.#failover, ctx, decision, async (target, adapter, signal) => {
      const pass = passthroughFor(adapter, ctx.request, target);
      return pass
        ? { mode: 'passthrough' as const, response: await pass.complete(ctx.request, target, { ...call, signal }) }
        : { mode: 'ir' as const, response: await adapter.complete(ctx.request, target, { ...call, signal }) };
    });
    if (!done.ok) return this.#fail(ctx, done);
    const served = { decision: done.decision, target: done.target, attempts: done.attempts, ttfbMs: done.ttfbMs };
    const usage = done.response.usage;
    const costNano = costNanoUsd(usage, done.target.model.price);
    await this.#record(ctx, { ...served, usage, costNano, status: 200, errorCode: null });
    const headers = this.#successHeaders(ctx, served, costNano);
    return done.mode === 'passthrough'
      ? { kind: 'completion', mode: 'passthrough', response: done.response, served, costNano, headers }
      : { kind: 'completion', mode: 'ir', response: done.response, served, costNano, headers };
  }

  /**
   * The prompt's input tokens (Anthropic's count_tokens), through the same admission and routing as a
   * request: the provider's own exact count where the routed candidates' provider has one (with failover),
   * else, or when every such provider fails for a passing reason, a local count. Recorded (no tokens billed).
   */
  async countTokens(ctx: RequestContext): Promise<Counted> {
    const routed = await this.#admitAndRoute(ctx, 'count_tokens', this.#routeChat);
    if (!routed.ok) return this.#fail(routed.ctx, routed);
    ctx = routed.ctx;
    const deps = this.#deps;
    const counting = routed.decision.candidates.filter((model) => {
      const provider = deps.catalog.providers.get(model.provider);
      return provider !== undefined && deps.adapterFor(provider).countTokens !== undefined;
    });
    const outcome: Outcome = {
      attempts: 0,
      costNano: 0,
      status: 200,
      errorCode: null,
      ttfbMs: null,
      decision: routed.decision,
    };
    let inputTokens: number | undefined;
    let verified = false;
    if (counting.length > 0) {
      const counted = await callWithFailover(
        this.#failover,
        ctx,
        { ...routed.decision, candidates: counting },
        (target, adapter, signal) =>
          adapter.countTokens!(ctx.request, target, {
            requestId: ctx.requestId,
            signal,
            tokens: deps.tokens,
            pool: deps.upstreams,
          }).then((tokens) => ({ tokens })),
      );
      outcome.attempts = counted.attempts;
      outcome.target = counted.target;
      if (counted.ok) {
        inputTokens = counted.tokens;
        verified = true;
        outcome.ttfbMs = counted.ttfbMs;
      } else if (!counted.error.retryable) {
        return this.#fail(ctx, counted);
      }
    }
    inputTokens ??= await promptTokens(deps.tokens, ctx.request);
    await this.#record(ctx, outcome);
    return {
      kind: 'count',
      inputTokens,
      headers: {
        ...routingHeaders(ctx.requestId, routed.decision, outcome.target, outcome.attempts),
        ...ctx.ticket?.headers(),
        // Only a count by the provider itself, with the caller's own key, verified that key.
        ...successHeaders(deps.auth, ctx.caller, verified),
      },
    };
  }

  /**
   * An embeddings request: the same admission, failover, metering (input tokens at the model's input price)
   * and record as a chat request; routing is to the one embedding model it names (Router.routeEmbeddings).
   */
  async embed(ctx: EmbeddingContext): Promise<Embedded> {
    const routed = await this.#admitAndRoute(ctx, 'embeddings', (admitted) =>
      this.#deps.router.routeEmbeddings(admitted.request, admitted.caller.policy),
    );
    if (!routed.ok) return this.#fail(routed.ctx, routed);
    const admitted: EmbeddingContext = {
      ...ctx,
      caller: routed.ctx.caller,
      ticket: routed.ctx.ticket,
      hold: routed.ctx.hold,
    };
    const deps = this.#deps;
    const call = { requestId: ctx.requestId, tokens: deps.tokens, pool: deps.upstreams };
    const done = await callWithFailover(this.#failover, admitted, routed.decision, async (target, adapter, signal) => {
      // The router only routes to adapters with an embeddings call; a missing one is a bug, not a provider fault.
      if (!adapter.embeddings) throw new GatewayError('internal_error', `${adapter.wire} has no embeddings call`);
      return { response: await adapter.embeddings.embed(admitted.request, target, { ...call, signal }) };
    });
    if (!done.ok) return this.#fail(admitted, done);
    const served = { decision: done.decision, target: done.target, attempts: done.attempts, ttfbMs: done.ttfbMs };
    const usage = done.response.usage;
    const costNano = costNanoUsd(usage, done.target.model.price);
    await this.#record(admitted, { ...served, usage, costNano, status: 200, errorCode: null });
    return {
      kind: 'embeddings',
      response: done.response,
      served,
      costNano,
      headers: this.#successHeaders(admitted, served, costNano),
    };
  }

  /**
   * The catalog models this caller may name (its providers, allowed models and the key's model list), for
   * the model list; or the refusal of a key whose scopes or address list do not allow it.
   */
  models(
    caller: Caller,
    clientIp: string,
  ):
    | { ok: true; models: CatalogModel[]; headers: AnswerHeaders }
    | { ok: false; error: GatewayError; headers: AnswerHeaders } {
    const limitHeaders = this.#limitHeaders(caller);
    const refused = keyAccess(caller, clientIp, 'models');
    if (refused) return { ok: false, error: refused, headers: limitHeaders };
    const inPlan = planAccess(this.#deps.ledger, this.#deps.catalog, caller, '');
    const { allowedModels, providers, keyModels, groups } = inPlan.ok ? inPlan.caller.policy : caller.policy;
    const catalog = this.#deps.catalog;
    const models = catalog.models.filter(
      (model) =>
        (!providers || providers.includes(model.provider)) &&
        groupsAllow(catalog, model.provider, groups) &&
        (!allowedModels || allowedModels.includes(model.id) || allowedModels.includes(model.name)) &&
        (!keyModels || keyModels.has(model.id)),
    );
    // Listing verifies no credential: a new bring-your-own key gets no tenant and no link from it.
    return { ok: true, models, headers: { ...limitHeaders, ...successHeaders(this.#deps.auth, caller, false) } };
  }

  /**
   * The admission of an asynchronous execution's submission (src/executions/): the plan's model access, the
   * key's scopes (`executions`), address and model lists, and its quota and rates, counted now, once. The run
   * later goes through `handle` with `ctx.execution` set and is neither counted nor held again.
   */
  async admitSubmission(
    ctx: CallerContext,
  ): Promise<
    { ok: true; caller: Caller; headers: AnswerHeaders } | { ok: false; error: GatewayError; headers: AnswerHeaders }
  > {
    const deps = this.#deps;
    if (ctx.caller.ownKey) {
      return {
        ok: false,
        error: new GatewayError(
          'permission_denied',
          'Executions run later, without your request: they need an API key of this gateway, not a provider key',
        ),
        headers: {},
      };
    }
    try {
      await this.#accountInMemory(ctx.caller);
    } catch (err) {
      return { ok: false, error: toGatewayError(err), headers: {} };
    }
    const inPlan = planAccess(deps.ledger, deps.catalog, ctx.caller, ctx.request.model);
    if (!inPlan.ok) return { ok: false, error: inPlan.error, headers: this.#limitHeaders(ctx.caller) };
    const admitted = await admit({ ...ctx, caller: inPlan.caller }, deps, 'executions');
    if (!admitted.ok) return { ok: false, error: admitted.error, headers: admitted.headers ?? {} };
    const headers = admitted.ticket?.headers() ?? {};
    // Counted now, with the prompt's estimate (never settled: the run's usage record reaches the key's stored
    // spend, which a quota reloads from).
    return { ok: true, caller: admitted.caller, headers };
  }

  /** The key's quota and what it spent this period as this node knows it, for a hold's key-quota check. */
  keyQuotaOf(caller: Caller): { nanoUsd: number; spentNano: number } | undefined {
    const quota = caller.limits?.quota;
    const spent = caller.keyId !== null && quota ? this.#deps.limiter.spent?.(caller.keyId) : undefined;
    return quota && spent !== undefined ? { nanoUsd: quota.nanoUsd, spentNano: spent } : undefined;
  }

  /** The x-ratelimit-* headers of a key with rate limits, read without counting (answers outside admission). */
  #limitHeaders(caller: Caller | undefined): Record<string, string> {
    if (!caller?.limits || caller.keyId === null) return {};
    return this.#deps.limiter.peekHeaders(caller.keyId, caller.limits);
  }

  async #admitAndRoute<C extends CallerContext>(
    ctx: C,
    endpoint: Endpoint,
    route: (ctx: C) => RouteDecision | Promise<RouteDecision>,
  ): Promise<({ ok: true; decision: RouteDecision } | ({ ok: false } & Failure)) & { ctx: C }> {
    const deps = this.#deps;
    // Loaded at authentication; again here (a no-op when warm) in case it left memory while the body arrived.
    try {
      await this.#accountInMemory(ctx.caller);
    } catch (err) {
      return { ok: false, error: toGatewayError(err), attempts: 0, ctx };
    }
    const inPlan = planAccess(deps.ledger, deps.catalog, ctx.caller, ctx.request.model);
    if (!inPlan.ok) return { ok: false, error: inPlan.error, attempts: 0, ctx };
    if (inPlan.caller !== ctx.caller) ctx = { ...ctx, caller: inPlan.caller };
    const admitted = await admit(ctx, deps, endpoint);
    if (!admitted.ok) return { ok: false, error: admitted.error, attempts: 0, headers: admitted.headers, ctx };
    const admittedCtx: C =
      admitted.caller === ctx.caller && admitted.ticket === undefined
        ? ctx
        : { ...ctx, caller: admitted.caller, ticket: admitted.ticket };
    let decision: RouteDecision;
    try {
      decision = await route(admittedCtx);
    } catch (err) {
      return { ok: false, error: toGatewayError(err), attempts: 0, ctx: admittedCtx };
    }
    // count_tokens costs nothing; everything else holds the most it can cost before its first upstream byte.
    // An execution's run is covered by the hold placed at its submission (src/executions/).
    if (endpoint === 'count_tokens' || ctx.execution) return { ok: true, decision, ctx: admittedCtx };
    // A billed account's request that only free models can serve needs no balance, under its own rates.
    if (deps.freeLimits && billedCaller(deps.ledger, admittedCtx.caller) && allFree(decision.candidates)) {
      const caller = admittedCtx.caller;
      const refused = deps.freeLimits.take(caller.keyId ?? `tenant:${caller.tenantId}`);
      if (refused)
        return { ok: false, error: refused, attempts: 0, ctx: admittedCtx, decision, chosen: decision.candidates[0] };
    }
    const held = await holdFor(deps.ledger, deps.limiter, admittedCtx, decision);
    if (!held.ok)
      return { ok: false, error: held.error, attempts: 0, ctx: admittedCtx, decision, chosen: decision.candidates[0] };
    return { ok: true, decision, ctx: held.ctx as C };
  }

  /** Chat routing: tier, preset or model → candidates (router/router.ts). */
  readonly #routeChat = (ctx: RequestContext) => this.#deps.router.route(ctx.request, ctx.caller.policy);

  /** A failed request: logged when it is a bug, recorded, and its error with headers. */
  async #fail(ctx: CallerContext, failure: Failure): Promise<Extract<Handled, { kind: 'error' }>> {
    const { error } = failure;
    if (error.code === 'internal_error')
      this.#deps.logger.error({ err: error, requestId: ctx.requestId }, 'request failed');
    const gone = ctx.signal.aborted;
    await this.#record(ctx, {
      decision: failure.decision,
      target: failure.target,
      attempts: failure.attempts,
      costNano: 0,
      status: gone ? 499 : error.status,
      errorCode: gone ? null : error.code,
      ttfbMs: null,
    });
    const limits = failure.headers ?? ctx.ticket?.headers();
    const headers = errorHeaders(
      ctx.requestId,
      error,
      failure.attempts,
      failure.decision,
      failure.target,
      failure.chosen,
    );
    return { kind: 'error', error, headers: { ...limits, ...headers } };
  }

  #record(ctx: CallerContext, outcome: Outcome): Promise<void> {
    return this.#recorder.record({
      start: ctx,
      caller: ctx.caller,
      requestedModel: ctx.request.model,
      stream: ctx.request.stream === true,
      outcome,
      ticket: ctx.ticket,
      hold: ctx.hold,
    });
  }

  /** What ran (and its cost, once known), and the caller's dashboard link: a provider accepted its credential. */
  #successHeaders(ctx: CallerContext, served: Served, costNano: number | undefined): AnswerHeaders {
    return {
      ...ctx.ticket?.headers(),
      ...routingHeaders(ctx.requestId, served.decision, served.target, served.attempts, costNano),
      ...successHeaders(this.#deps.auth, ctx.caller, true),
    };
  }
}

/**
 * An error's headers. Once a model was chosen the answer names it like a success does: the last upstream tried,
 * else the model a limit stopped before its first attempt (a balance hold, a free-model rate). Refusals before
 * routing, and requests none of whose candidates could be tried (every circuit open), name none.
 */
function errorHeaders(
  requestId: string,
  error: GatewayError,
  attempts: number,
  decision?: RouteDecision,
  target?: UpstreamTarget,
  chosen?: CatalogModel,
): AnswerHeaders {
  const headers = routingHeaders(requestId, decision, target, attempts);
  if (!target && chosen) {
    headers['x-model-router-model'] = chosen.id;
    headers['x-model-router-provider'] = chosen.provider;
  }
  if (error.retryAfter !== undefined) headers['retry-after'] = String(Math.ceil(error.retryAfter));
  return headers;
}
