import { costNanoUsd } from '../billing/cost.ts';
import type { Config } from '../config/schema.ts';
import { GatewayError, toGatewayError } from '../core/errors.ts';
import type { ChatRequest, ChatResponse, StreamEvent, Usage } from '../core/ir.ts';
import { ZERO_USAGE } from '../core/ir.ts';
import type { Logger } from '../ops/logger.ts';
import type { Metrics } from '../ops/metrics.ts';
import type {
  CatalogModel,
  PassthroughFrame,
  PassthroughResponse,
  ProviderAdapter,
  ProviderKey,
  ProviderSpec,
  UpstreamTarget,
} from '../providers/types.ts';
import type { RouteDecision, Router, RoutingPolicy } from '../router/router.ts';
import type { TokenCounter } from '../router/token-counter.ts';
import type { UsageRecord } from '../store/usage.ts';
import type { ProviderHealth } from './health.ts';

/**
 * The request pipeline, protocol-agnostic: route → call with failover → meter → record. HTTP routes parse
 * and render their protocol around it. Nothing here writes to a database: usage records go to the journal
 * and a queue (src/store/usage-writer.ts).
 */

/** Who is calling, as the auth seam (tenancy) resolved it. */
export interface Caller {
  tenantId: string;
  keyId: string | null;
  policy: RoutingPolicy;
  /**
   * Bring-your-own-key: the caller's own credential for one provider; used instead of the operator's keys
   * and never stored. Undefined for managed keys.
   */
  ownKey?: { provider: string; key: ProviderKey };
}

export interface RequestContext {
  requestId: string;
  /** ms epoch when the request arrived. */
  at: number;
  /** performance.now() at arrival, for latency. */
  startedAt: number;
  /** Aborted when the client goes away, or by `abort`. */
  signal: AbortSignal;
  /** Stops the request's upstream work (the gateway ending a stream itself, at shutdown). */
  abort(reason: unknown): void;
  caller: Caller;
  request: ChatRequest;
}

export interface UsageSink {
  /**
   * Takes a record without synchronous I/O and never throws; the promise never rejects and resolves once a
   * crash of the process can no longer lose the record (it is in the journal).
   */
  enqueue(record: UsageRecord): Promise<void>;
}

export interface Served {
  decision: RouteDecision;
  target: UpstreamTarget;
  attempts: number;
  /** ms from arrival to the upstream's first byte (non-streaming: the whole response). */
  ttfbMs: number;
}

export type Completion = Served &
  ({ mode: 'passthrough'; response: PassthroughResponse } | { mode: 'ir'; response: ChatResponse });

export type OpenStream = Served &
  (
    | { mode: 'passthrough'; first: PassthroughFrame; rest: AsyncIterator<PassthroughFrame> }
    | { mode: 'ir'; first: StreamEvent; rest: AsyncIterator<StreamEvent> }
  );

/** What happened, for the usage record and metrics. */
export interface Outcome {
  decision?: RouteDecision | undefined;
  target?: UpstreamTarget | undefined;
  attempts: number;
  usage?: Usage | undefined;
  costNano: number;
  status: number;
  errorCode: string | null;
  ttfbMs: number | null;
}

/** The outcome of a served request before metering: what ran, and how it got there. */
export function servedOutcome(served: Served): Outcome {
  return {
    decision: served.decision,
    target: served.target,
    attempts: served.attempts,
    costNano: 0,
    status: 200,
    errorCode: null,
    ttfbMs: served.ttfbMs,
  };
}

export interface GatewayDeps {
  config: Config;
  router: Router;
  health: ProviderHealth;
  adapterFor(provider: ProviderSpec): ProviderAdapter;
  metrics: Metrics;
  logger: Logger;
  usage: UsageSink;
  /** Token counts for metering (usage estimates), within their budget. */
  tokens: TokenCounter;
}

/** A failover attempt: one candidate with one key. Returns what the caller needs, or throws GatewayError. */
type Attempt<T> = (target: UpstreamTarget, adapter: ProviderAdapter, signal: AbortSignal) => Promise<T>;

export class Gateway {
  readonly deps: GatewayDeps;

  constructor(deps: GatewayDeps) {
    this.deps = deps;
  }

  async complete(ctx: RequestContext): Promise<Completion> {
    const decision = await this.deps.router.route(ctx.request, ctx.caller.policy);
    const inbound = ctx.request.inbound.protocol;
    return this.withFailover(ctx, decision, async (target, adapter, signal) => {
      const call = { requestId: ctx.requestId, signal, tokens: this.deps.tokens };
      if (adapter.passthrough?.protocol === inbound) {
        return {
          mode: 'passthrough' as const,
          response: await adapter.passthrough.complete(ctx.request, target, call),
        };
      }
      return { mode: 'ir' as const, response: await adapter.complete(ctx.request, target, call) };
    }) as Promise<Completion>;
  }

  /**
   * Opens a stream and waits for its first event, so that everything that can fail before the client has a
   * byte (connect, status, first-byte timeout, an empty or broken start) still fails over.
   */
  async openStream(ctx: RequestContext): Promise<OpenStream> {
    const decision = await this.deps.router.route(ctx.request, ctx.caller.policy);
    const inbound = ctx.request.inbound.protocol;
    return this.withFailover(ctx, decision, async (target, adapter, signal) => {
      const call = { requestId: ctx.requestId, signal, tokens: this.deps.tokens };
      if (adapter.passthrough?.protocol === inbound) {
        const iterator = (await adapter.passthrough.stream(ctx.request, target, call))[Symbol.asyncIterator]();
        const first = await firstOf(iterator, target);
        return { mode: 'passthrough' as const, first, rest: iterator };
      }
      const iterator = (await adapter.stream(ctx.request, target, call))[Symbol.asyncIterator]();
      const first = await firstOf(iterator, target);
      return { mode: 'ir' as const, first, rest: iterator };
    }) as Promise<OpenStream>;
  }

  /**
   * Tries candidates in order, and within a candidate its keys (a rejected or rate-limited key gives way to
   * the next key; any other retryable failure to the next candidate), within `maxAttempts` and
   * `maxTotalMs`. A non-retryable error (the request's own fault) ends it at once.
   */
  private async withFailover<T extends object>(
    ctx: RequestContext,
    decision: RouteDecision,
    attempt: Attempt<T>,
  ): Promise<T & Served> {
    const { config, health, metrics, logger } = this.deps;
    const deadline = ctx.startedAt + config.routing.maxTotalMs;
    let attempts = 0;
    let lastError: GatewayError | undefined;
    let lastTarget: UpstreamTarget | undefined;
    let deadlinePassed = false;
    candidates: for (const model of decision.candidates) {
      const provider = this.deps.router.catalog.providers.get(model.provider);
      if (!provider) continue;
      const tried = new Set<string>();
      while (attempts < config.routing.maxAttempts) {
        const remaining = deadline - performance.now();
        if (remaining <= 0) {
          deadlinePassed = true;
          break candidates;
        }
        const key = this.keyFor(ctx.caller, provider, tried);
        if (!key) break;
        tried.add(key.id);
        attempts++;
        const target: UpstreamTarget = { provider, model, key };
        lastTarget = target;
        const adapter = this.deps.adapterFor(provider);
        // The attempt's own signal: the client's cancellation, or the routing deadline (cleared once the
        // attempt succeeded; a stream then runs on under its provider's own timeouts).
        const abort = new AbortController();
        const onClientAbort = () => abort.abort(ctx.signal.reason);
        ctx.signal.addEventListener('abort', onClientAbort, { once: true });
        const timeout = setTimeout(
          () =>
            abort.abort(
              new GatewayError('timeout', `No answer within the routing deadline (${config.routing.maxTotalMs} ms)`),
            ),
          remaining,
        );
        try {
          const result = await attempt(target, adapter, abort.signal);
          // Callers' own keys are theirs: only operator keys have circuits (and the map stays bounded).
          if (!ctx.caller.ownKey) health.onSuccess(provider.id, key.id);
          const ttfbMs = performance.now() - ctx.startedAt;
          metrics.ttfb.observe({ provider: provider.id }, ttfbMs / 1000);
          return { ...result, decision, target, attempts, ttfbMs };
        } catch (err) {
          ctx.signal.removeEventListener('abort', onClientAbort);
          const error = toGatewayError(err);
          if (ctx.signal.aborted) {
            if (!ctx.caller.ownKey) health.release(provider.id, key.id);
            throw new GatewayError('timeout', 'The client closed the request', { failover: false, cause: err });
          }
          lastError = error;
          if (!ctx.caller.ownKey) health.onFailure(provider.id, key.id, error);
          metrics.upstreamErrors.inc({ provider: provider.id, code: error.code });
          if (error.code === 'internal_error') {
            logger.error({ err, requestId: ctx.requestId, provider: provider.id }, 'provider adapter failed');
          }
          // A caller's own key rejected is final: every remaining candidate would use the same key.
          if (!error.failover || (error.keyRejected && ctx.caller.ownKey)) {
            throw Object.assign(this.forClient(ctx.caller, error, decision, attempts), { target });
          }
          metrics.failovers.inc({ from_provider: provider.id });
          logger.warn(
            {
              requestId: ctx.requestId,
              provider: provider.id,
              keyId: key.id,
              code: error.code,
              status: error.upstreamStatus,
            },
            'upstream attempt failed, failing over',
          );
          // Another key of the same provider can help only when the key itself was the problem.
          if (!(error.keyRejected || error.code === 'rate_limited')) continue candidates;
        } finally {
          clearTimeout(timeout);
        }
      }
    }
    if (!lastError) {
      // Nothing was tried: either routing (a long prompt's count) used up the deadline, or every key rests.
      const error = deadlinePassed
        ? new GatewayError(
            'timeout',
            `The routing deadline (${config.routing.maxTotalMs} ms) passed before a provider was tried for ${describe(decision)}`,
          )
        : new GatewayError(
            'provider_unavailable',
            `No provider is available for ${describe(decision)} right now (all circuits open); try again shortly`,
          );
      throw Object.assign(error, { attempts, target: lastTarget });
    }
    throw Object.assign(this.forClient(ctx.caller, lastError, decision, attempts), { target: lastTarget });
  }

  private keyFor(caller: Caller, provider: ProviderSpec, tried: ReadonlySet<string>): ProviderKey | undefined {
    if (caller.ownKey) {
      if (caller.ownKey.provider !== provider.id || tried.has(caller.ownKey.key.id)) return undefined;
      return caller.ownKey.key;
    }
    return this.deps.health.pickKey(provider, tried);
  }

  /**
   * What the client is told. An operator key the provider rejected is the operator's problem, not the
   * caller's: the caller sees provider_unavailable. A caller's own key rejected is authentication_failed.
   */
  private forClient(caller: Caller, error: GatewayError, decision: RouteDecision, attempts: number): GatewayError {
    let out = error;
    if (error.keyRejected && !caller.ownKey) {
      out = new GatewayError(
        'provider_unavailable',
        `No provider could serve ${describe(decision)}: ${error.message}`,
        {
          cause: error,
        },
      );
    } else if (error.failover && attempts > 1) {
      out = new GatewayError(error.code, `All ${attempts} attempts failed; last: ${error.message}`, {
        param: error.param,
        retryAfter: error.retryAfter,
        cause: error,
      });
    }
    return Object.assign(out, { attempts });
  }

  /**
   * Meters and records a finished request. Never throws and never rejects; resolves once the record is
   * durable against a crash of the process. Routes await it before their response's last byte, so every
   * response a client received in full has its record.
   */
  record(ctx: RequestContext, outcome: Outcome): Promise<void> {
    const { metrics } = this.deps;
    const latencyMs = performance.now() - ctx.startedAt;
    const usage = outcome.usage ?? ZERO_USAGE;
    const model = outcome.target?.model;
    const provider = outcome.target?.provider.id ?? '';
    const decision = outcome.decision;
    try {
      metrics.requests.inc({
        protocol: ctx.request.inbound.protocol,
        tier: decision?.tier ?? 'none',
        provider,
        model: model?.id ?? '',
        status: String(outcome.status),
        code: outcome.errorCode ?? '',
      });
      metrics.latency.observe(
        { protocol: ctx.request.inbound.protocol, stream: String(ctx.request.stream) },
        latencyMs / 1000,
      );
      if (model && outcome.usage) {
        metrics.tokens.inc({ provider, model: model.id, kind: 'input' }, usage.inputTokens);
        metrics.tokens.inc({ provider, model: model.id, kind: 'output' }, usage.outputTokens);
        if (usage.cachedInputTokens)
          metrics.tokens.inc({ provider, model: model.id, kind: 'cached_input' }, usage.cachedInputTokens);
        if (usage.cacheWriteTokens)
          metrics.tokens.inc({ provider, model: model.id, kind: 'cache_write' }, usage.cacheWriteTokens);
        if (usage.reasoningTokens)
          metrics.tokens.inc({ provider, model: model.id, kind: 'reasoning' }, usage.reasoningTokens);
        metrics.costNanoUsd.inc({ provider, model: model.id }, outcome.costNano);
      }
      return this.deps.usage.enqueue({
        requestId: ctx.requestId,
        at: ctx.at,
        tenantId: ctx.caller.tenantId,
        keyId: ctx.caller.keyId,
        protocol: ctx.request.inbound.protocol,
        requestedModel: ctx.request.model,
        tier: decision?.tier ?? null,
        preset: decision?.preset ?? null,
        routerScore: decision?.score ?? null,
        chooser: decision?.chooser ?? null,
        modelId: model?.id ?? null,
        providerId: outcome.target?.provider.id ?? null,
        providerKeyId: outcome.target && !ctx.caller.ownKey ? outcome.target.key.id : null,
        attempts: outcome.attempts,
        stream: ctx.request.stream,
        inputTokens: usage.inputTokens,
        cachedInputTokens: usage.cachedInputTokens,
        cacheWriteTokens: usage.cacheWriteTokens,
        outputTokens: usage.outputTokens,
        reasoningTokens: usage.reasoningTokens,
        costNanoUsd: outcome.costNano,
        latencyMs: Math.round(latencyMs),
        ttfbMs: outcome.ttfbMs === null ? null : Math.round(outcome.ttfbMs),
        status: outcome.status,
        errorCode: outcome.errorCode,
      });
    } catch (err) {
      this.deps.logger.error({ err, requestId: ctx.requestId }, 'recording usage failed');
      return Promise.resolve();
    }
  }

  cost(usage: Usage, model: CatalogModel): number {
    return costNanoUsd(usage, model.price);
  }
}

function describe(decision: RouteDecision): string {
  return decision.tier ? `tier '${decision.tier}'` : `model '${decision.requestedModel}'`;
}

/** The first item of a stream within the provider's first-byte timeout; an empty stream is a failure. */
async function firstOf<T>(iterator: AsyncIterator<T>, target: UpstreamTarget): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new GatewayError('timeout', `Upstream ${target.provider.id} sent no event in time`)),
      target.provider.timeouts.firstByteMs,
    );
  });
  try {
    const first = await Promise.race([iterator.next(), timeout]);
    if (first.done) {
      throw new GatewayError('provider_unavailable', `Upstream ${target.provider.id} ended the stream without content`);
    }
    return first.value;
  } catch (err) {
    void iterator.return?.().catch(() => {});
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

/** Attempts carried by an error thrown from withFailover (for the usage record). */
export function attemptsOf(err: unknown): number {
  const n = (err as { attempts?: unknown })?.attempts;
  return typeof n === 'number' ? n : 0;
}

export function targetOf(err: unknown): UpstreamTarget | undefined {
  return (err as { target?: UpstreamTarget })?.target;
}
