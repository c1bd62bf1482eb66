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
  readonly #pending = new Set<Promise<void>>();
  readonly counters: AbandonCounters = { cancelled: 0, failed: 0 };

  constructor(registry: RunnerRegistry, logger: Logger) {
    this.#registry = registry;
    this.#logger = logger;
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
    const attempt = runner
      .abandon(job, { executionId: row.id, tenantId: row.tenantId })
      .then(
        () => {
          this.counters.cancelled++;
          this.#logger.info(
            { ...facts, ms: Date.now() - started },
            'the upstream job of an ended execution was cancelled',
          );
        },
        (err: unknown) => {
          this.counters.failed++;
          const error = toGatewayError(err);
          this.#logger.warn(
            {
              ...facts,
              ms: Date.now() - started,
              code: error.code,
              status: error.upstreamStatus,
              reason: error.message,
            },
            'the upstream job of an ended execution could not be cancelled; it may run on and be billed by the provider',
          );
        },
      )
      .finally(() => this.#pending.delete(attempt));
    this.#pending.add(attempt);
  }

  /** Cancels under way (each bounded by its own deadline). */
  get pending(): number {
    return this.#pending.size;
  }

  /** Waits for the cancels under way (shutdown, tests). */
  async drain(): Promise<void> {
    while (this.#pending.size > 0) await Promise.all([...this.#pending]);
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
