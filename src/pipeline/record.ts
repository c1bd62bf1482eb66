import type { Hold } from '../billing/ledger.ts';
import { ZERO_USAGE } from '../core/ir.ts';
import type { LimitTicket } from '../limits/limiter.ts';
import type { Logger } from '../ops/logger.ts';
import type { Metrics } from '../ops/metrics.ts';
import type { UsageRecord } from '../store/usage.ts';
import type { Caller, RequestStart } from './context.ts';
import type { Outcome } from './outcome.ts';

/**
 * The record stage: every request, whatever became of it, leaves one usage record and its metrics. Nothing
 * here waits on a database: records go to the journal and a batch queue (src/store/usage-writer.ts).
 */

export interface UsageSink {
  /**
   * Takes a record without synchronous I/O and never throws; the promise never rejects and resolves once a
   * crash of the process can no longer lose the record (it is in the journal).
   */
  enqueue(record: UsageRecord): Promise<void>;
}

/** The caller of a request refused before it was authenticated. */
const NOBODY: Caller = { tenantId: '-', keyId: null, policy: {} };

export interface Recorded {
  start: RequestStart;
  /** Absent when the request was refused before authentication. */
  caller?: Caller | undefined;
  /** As the client sent it ('' when the body could not be read). */
  requestedModel: string;
  stream: boolean;
  outcome: Outcome;
  /** The key's limits ticket, settled here with the request's real tokens and cost. */
  ticket?: LimitTicket | undefined;
  /** The account's hold: settled here at the request's cost, released when it cost nothing. */
  hold?: Hold | undefined;
}

export class Recorder {
  readonly #usage: UsageSink;
  readonly #metrics: Metrics;
  readonly #logger: Logger;

  constructor(usage: UsageSink, metrics: Metrics, logger: Logger) {
    this.#usage = usage;
    this.#metrics = metrics;
    this.#logger = logger;
  }

  /**
   * Counts and records a finished request. Never throws, never rejects; resolves once the record is durable
   * against a crash of the process. Routes finish their response only after it resolved, so every response
   * a client received in full has its record.
   */
  record({ start, caller = NOBODY, requestedModel, stream, outcome, ticket, hold }: Recorded): Promise<void> {
    const metrics = this.#metrics;
    const latencyMs = performance.now() - start.startedAt;
    const usage = outcome.usage ?? ZERO_USAGE;
    try {
      ticket?.settle(usage.inputTokens + usage.outputTokens, outcome.costNano);
    } catch (err) {
      this.#logger.error({ err, requestId: start.requestId }, 'settling key limits failed');
    }
    if (hold) {
      try {
        if (outcome.costNano > 0) hold.settle(outcome.costNano);
        else hold.release();
      } catch (err) {
        this.#logger.error({ err, requestId: start.requestId }, 'settling the hold failed');
      }
    }
    const model = outcome.target?.model;
    const provider = outcome.target?.provider.id ?? '';
    const decision = outcome.decision;
    try {
      metrics.requests.inc({
        protocol: start.protocol,
        tier: decision?.tier ?? 'none',
        provider,
        model: model?.id ?? '',
        status: String(outcome.status),
        code: outcome.errorCode ?? '',
      });
      metrics.latency.observe({ protocol: start.protocol, stream: String(stream) }, latencyMs / 1000);
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
      return this.#usage.enqueue({
        requestId: start.requestId,
        at: start.at,
        tenantId: caller.tenantId,
        keyId: caller.keyId,
        protocol: start.protocol,
        requestedModel,
        tier: decision?.tier ?? null,
        preset: decision?.preset ?? null,
        routerScore: decision?.score ?? null,
        chooser: decision?.chooser ?? null,
        modelId: model?.id ?? null,
        providerId: outcome.target?.provider.id ?? null,
        providerKeyId: outcome.target && !caller.ownKey ? outcome.target.key.id : null,
        attempts: outcome.attempts,
        stream,
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
      this.#logger.error({ err, requestId: start.requestId }, 'recording usage failed');
      return Promise.resolve();
    }
  }
}
