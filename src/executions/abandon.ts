import { toGatewayError } from '../core/errors.ts';
import type { UpstreamJob } from '../core/execution-contracts.ts';
import type { Logger } from '../ops/logger.ts';
import type { RunnerRegistry } from './registry.ts';

/**
 * Cancels upstream the long-running job an execution left on its row when it ended without a run to stop it
 * (decision 0042): cancelled while queued, out of time or attempts before its next run, or failed after a run that
 * left the job recorded. `endExecution` takes the job off the row in the transaction that writes the terminal state
 * — written once, so exactly one process (of any sharing the database) gets it — and hands it here after the
 * commit. The cancel goes through the runner of the execution's kind (`ExecutionRunner.abandon`: the provider
 * adapter's own cancel or delete, with the key the job names) in the background: best effort, never awaited by
 * the terminal write, the hold's release or an API answer. Each attempt is logged (job and key ids, never a
 * secret) and counted: `modro_execution_upstream_cancels_total{outcome}`.
 */
export interface AbandonCounters {
  /** The provider accepted the cancel (or the job was already gone). */
  cancelled: number;
  /** The provider refused it, could not be reached, or its provider, model or key is no longer configured. */
  failed: number;
}

export class UpstreamJobAbandoner {
  readonly #registry: RunnerRegistry;
  readonly #logger: Logger;
  /**
   * Waits before each further try of a cancel that failed for a retryable reason (5xx, 429, unreachable,
   * timeout): `executions.cancelRetryMs`, three more tries over about a minute by default. In memory: a gateway
   * stopped meanwhile gives up (logged, counted as failed).
   */
  readonly #retryMs: readonly number[];
  readonly #pending = new Set<Promise<void>>();
  /** Tries waiting for their turn (their timer), each with what gives up on it at shutdown. */
  readonly #waiting = new Map<NodeJS.Timeout, () => void>();
  /** While `drain` runs, a try that fails gives up instead of waiting for another. */
  #draining = false;
  readonly counters: AbandonCounters = { cancelled: 0, failed: 0 };

  constructor(registry: RunnerRegistry, logger: Logger, retryMs: readonly number[]) {
    this.#registry = registry;
    this.#logger = logger;
    this.#retryMs = retryMs;
  }

  /** Starts the cancel of `job` (the row's JSON) of the ended execution `row`; never throws, never waits. */
  abandon(row: { id: string; tenantId: string; kind: string; job: string }): void {
    const job = parseJob(row.job);
    const facts = {
      executionId: row.id,
      jobId: job?.id,
      provider: job?.provider,
      model: job?.model,
      keyId: job?.key,
    };
    const runner = this.#registry.runnerFor(row.kind);
    if (!job || !runner?.abandon) {
      this.counters.failed++;
      this.#logger.warn(
        facts,
        'the upstream job of an ended execution cannot be cancelled (unreadable, or no runner cancels it); it may run on and be billed by the provider',
      );
      return;
    }
    const started = Date.now();
    const attempt = (tries: number): void => {
      const tried = runner.abandon!(job, { executionId: row.id, tenantId: row.tenantId })
        .then(
          () => {
            this.counters.cancelled++;
            this.#logger.info(
              { ...facts, tries, ms: Date.now() - started },
              'the upstream job of an ended execution was cancelled',
            );
          },
          (err: unknown) => {
            const error = toGatewayError(err);
            const why = { code: error.code, status: error.upstreamStatus, reason: error.message };
            const wait = error.retryable && !this.#draining ? this.#retryMs[tries - 1] : undefined;
            if (wait !== undefined) {
              this.#logger.info(
                { ...facts, ...why, tries, retryInMs: wait },
                'the upstream job of an ended execution could not be cancelled yet; trying again',
              );
              const timer = setTimeout(() => {
                this.#waiting.delete(timer);
                attempt(tries + 1);
              }, wait);
              timer.unref();
              this.#waiting.set(timer, () =>
                this.#giveUp({ ...facts, ...why, tries, ms: Date.now() - started }, 'the gateway is stopping'),
              );
              return;
            }
            const stopping = error.retryable && this.#draining ? 'the gateway is stopping' : undefined;
            this.#giveUp({ ...facts, ...why, tries, ms: Date.now() - started }, stopping);
          },
        )
        .finally(() => this.#pending.delete(tried));
      this.#pending.add(tried);
    };
    attempt(1);
  }

  #giveUp(facts: Record<string, unknown>, stopping: string | undefined): void {
    this.counters.failed++;
    this.#logger.warn(
      stopping ? { ...facts, stopping } : facts,
      'the upstream job of an ended execution could not be cancelled; it may run on and be billed by the provider',
    );
  }

  /** Cancels under way or waiting for another try. */
  get pending(): number {
    return this.#pending.size + this.#waiting.size;
  }

  /** Waits until every cancel has ended, its retries included (tests). */
  async settled(): Promise<void> {
    while (this.pending > 0) {
      if (this.#pending.size > 0) await Promise.all([...this.#pending]);
      else await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  /** Shutdown: the tries waiting for their turn give up (logged, counted as failed); those under way end. */
  async drain(): Promise<void> {
    this.#draining = true;
    try {
      for (const [timer, giveUp] of this.#waiting) {
        clearTimeout(timer);
        giveUp();
      }
      this.#waiting.clear();
      while (this.#pending.size > 0) await Promise.all([...this.#pending]);
    } finally {
      this.#draining = false;
    }
  }
}

export function parseJob(text: string | null): UpstreamJob | undefined {
  if (!text) return undefined;
  try {
    const job = JSON.parse(text) as Partial<UpstreamJob>;
    return typeof job.id === 'string' && typeof job.provider === 'string' && typeof job.model === 'string'
      ? (job as UpstreamJob)
      : undefined;
  } catch {
    return undefined;
  }
}
