import type { Catalog } from '../catalog/catalog.ts';
import type { Config } from '../config/schema.ts';
import { GatewayError, toGatewayError } from '../core/errors.ts';
import type { Logger } from '../ops/logger.ts';
import type { Metrics } from '../ops/metrics.ts';
import type { ProviderAdapter, ProviderKey, ProviderSpec, UpstreamTarget } from '../providers/types.ts';
import type { RouteDecision } from '../router/router.ts';
import type { Caller, CallerContext } from './context.ts';
import type { ProviderHealth } from './health.ts';
import type { KeysInFlight } from './in-flight.ts';
import type { Attempted } from './outcome.ts';

/**
 * Call with failover: candidates in order, and within a candidate its keys (a rejected or rate-limited key
 * gives way to the next key; any other retryable failure to the next candidate), within `routing.maxAttempts`
 * and `routing.maxTotalMs`. A non-retryable error (the request's own fault) ends it at once. Returns what the
 * attempt produced with how it was served, or the failure with what was tried: a value either way.
 */

export interface FailoverDeps {
  routing: Config['routing'];
  catalog: Catalog;
  health: ProviderHealth;
  adapterFor(provider: ProviderSpec): ProviderAdapter;
  metrics: Metrics;
  logger: Logger;
  /** Uses of each provider key under way on this gateway (in-flight.ts). */
  inFlight?: KeysInFlight | undefined;
}

/** One candidate with one key. Throws GatewayError (adapters do) on failure. */
export type Attempt<T> = (target: UpstreamTarget, adapter: ProviderAdapter, signal: AbortSignal) => Promise<T>;

export async function callWithFailover<T extends object>(
  deps: FailoverDeps,
  ctx: CallerContext,
  decision: RouteDecision,
  attempt: Attempt<T>,
  /**
   * `holdKey`: the answer goes on using the key after this returns (a stream): the key stays counted in flight
   * until the caller calls `release`. Otherwise it is released when the attempt returns.
   */
  options: { holdKey?: boolean } = {},
): Promise<Attempted<T & { release: () => void }>> {
  const { routing, health, metrics, logger } = deps;
  const deadline = ctx.startedAt + routing.maxTotalMs;
  let attempts = 0;
  let lastError: GatewayError | undefined;
  let lastTarget: UpstreamTarget | undefined;
  let deadlinePassed = false;
  const failed = (error: GatewayError) =>
    ({ ok: false, error, attempts, decision, target: lastTarget }) as const satisfies Attempted<T>;
  const noop = () => {};
  candidates: for (const model of decision.candidates) {
    const provider = deps.catalog.providers.get(model.provider);
    if (!provider) continue;
    const tried = new Set<string>();
    while (attempts < routing.maxAttempts) {
      const remaining = deadline - performance.now();
      if (remaining <= 0) {
        deadlinePassed = true;
        break candidates;
      }
      const key = keyFor(health, ctx.caller, provider, tried);
      if (!key) break;
      tried.add(key.id);
      attempts++;
      const target: UpstreamTarget = { provider, model, key };
      lastTarget = target;
      const release = deps.inFlight?.begin(key.id) ?? noop;
      // The attempt's own signal: the client's cancellation, or the routing deadline (cleared once the
      // attempt succeeded; a stream then runs on under its provider's own timeouts).
      const abort = new AbortController();
      const onClientAbort = () => abort.abort(ctx.signal.reason);
      ctx.signal.addEventListener('abort', onClientAbort, { once: true });
      let timedOut = false;
      const timeout = setTimeout(() => {
        timedOut = true;
        abort.abort(new GatewayError('timeout', `No answer within the routing deadline (${routing.maxTotalMs} ms)`));
      }, remaining);
      try {
        const result = await attempt(target, deps.adapterFor(provider), abort.signal);
        // Callers' own keys are theirs: only operator keys have circuits (and the map stays bounded).
        if (!ctx.caller.ownKey) health.onSuccess(provider.id, key.id);
        const ttfbMs = performance.now() - ctx.startedAt;
        metrics.ttfb.observe({ provider: provider.id }, ttfbMs / 1000);
        if (!options.holdKey) release();
        return { ok: true, ...result, decision, target, attempts, ttfbMs, release };
      } catch (err) {
        release();
        ctx.signal.removeEventListener('abort', onClientAbort);
        const error = toGatewayError(err);
        if (ctx.signal.aborted) {
          if (!ctx.caller.ownKey) health.release(provider.id, key.id);
          return failed(new GatewayError('timeout', 'The client closed the request', { failover: false, cause: err }));
        }
        lastError = error;
        if (!ctx.caller.ownKey) health.onFailure(provider.id, key.id, error);
        metrics.upstreamErrors.inc({ provider: provider.id, code: error.code });
        if (error.code === 'internal_error') {
          logger.error({ err, requestId: ctx.requestId, provider: provider.id }, 'provider adapter failed');
        }
        // A caller's own key rejected is final: every remaining candidate would use the same key.
        if (!error.failover || (error.keyRejected && ctx.caller.ownKey)) {
          return failed(forClient(ctx.caller, error, decision, attempts));
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
        // The routing deadline ended this attempt: no other. (Not left to the `remaining` check above: a timer
        // set for a fractional delay fires up to 1 ms early, and the attempt started in that last millisecond
        // reached the next provider on a loaded machine before its own 1 ms timer aborted it.)
        if (timedOut) {
          deadlinePassed = true;
          break candidates;
        }
        // Another key of the same provider can help only when the key itself was the problem.
        if (!(error.keyRejected || error.code === 'rate_limited')) continue candidates;
      } finally {
        clearTimeout(timeout);
      }
    }
  }
  if (lastError) return failed(forClient(ctx.caller, lastError, decision, attempts));
  // Nothing was tried: either routing (a long prompt's count) used up the deadline, or every key rests.
  return failed(
    deadlinePassed
      ? new GatewayError(
          'timeout',
          `The routing deadline (${routing.maxTotalMs} ms) passed before a provider was tried for ${describe(decision)}`,
        )
      : new GatewayError(
          'provider_unavailable',
          `No provider is available for ${describe(decision)} right now (all circuits open); try again shortly`,
        ),
  );
}

function keyFor(
  health: ProviderHealth,
  caller: Caller,
  provider: ProviderSpec,
  tried: ReadonlySet<string>,
): ProviderKey | undefined {
  if (caller.ownKey) {
    if (caller.ownKey.provider !== provider.id || tried.has(caller.ownKey.key.id)) return undefined;
    return caller.ownKey.key;
  }
  return health.pickKey(provider, tried);
}

/**
 * What the client is told. An operator key the provider rejected is the operator's problem, not the
 * caller's: the caller sees provider_unavailable. A caller's own key rejected is authentication_failed.
 */
function forClient(caller: Caller, error: GatewayError, decision: RouteDecision, attempts: number): GatewayError {
  if (error.keyRejected && !caller.ownKey) {
    return new GatewayError('provider_unavailable', `No provider could serve ${describe(decision)}: ${error.message}`, {
      cause: error,
    });
  }
  if (error.failover && attempts > 1) {
    return new GatewayError(error.code, `All ${attempts} attempts failed; last: ${error.message}`, {
      param: error.param,
      retryAfter: error.retryAfter,
      cause: error,
    });
  }
  return error;
}

export function describe(decision: RouteDecision): string {
  return decision.tier ? `tier '${decision.tier}'` : `model '${decision.requestedModel}'`;
}

/** The first item of a stream within the provider's first-byte timeout; an empty stream is a failure. */
export async function firstOf<T>(iterator: AsyncIterator<T>, target: UpstreamTarget): Promise<T> {
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
