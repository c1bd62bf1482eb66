import type { Kysely } from 'kysely';
import type { Ledger } from '../billing/ledger.ts';
import type { Catalog } from '../catalog/catalog.ts';
import type { Config } from '../config/schema.ts';
import type { ExecutionFiles, ExecutionRunner, WebhookEnqueue } from '../core/execution-contracts.ts';
import type { Logger } from '../ops/logger.ts';
import type { Pipeline } from '../pipeline/pipeline.ts';
import type { Router } from '../router/router.ts';
import type { SqlDialect } from '../store/migrations/column-types.ts';
import type { Database } from '../store/schema.ts';
import { UpstreamJobAbandoner } from './abandon.ts';
import { ExecutionQueue } from './queue.ts';
import { type ModelResolver, RunnerRegistry } from './registry.ts';
import { ExecutionService } from './service.ts';
import { TextRunner } from './text-runner.ts';
import { ExecutionWorker } from './worker.ts';

/**
 * Asynchronous executions assembled (docs/executions.md): the queue on the store, the runner registry (text
 * built in; media runners added by the composition root), the API's service and a worker. The worker runs in
 * the gateway when `executions.enabled`, and alone in `modro worker`.
 */
export interface ExecutionsDeps {
  db: Kysely<Database>;
  dialect: SqlDialect;
  config: Config['executions'];
  pipeline: Pipeline;
  catalog: Catalog;
  router: Router;
  ledger?: Ledger | undefined;
  logger: Logger;
  /** Webhook delivery (src/webhooks/): a message enqueued in the transaction of each terminal state change. */
  webhooks?: WebhookEnqueue | undefined;
  /** Checks a submission's `webhook_url` against webhook delivery's address rules (throws GatewayError). */
  checkWebhookUrl?: ((url: string) => void) | undefined;
  /** The tenants' file store (src/files/), for runners that read or produce files. */
  files?: ExecutionFiles | undefined;
  /** PostgreSQL: the channel submissions notify (pg-wake.ts). */
  notifyChannel?: string | undefined;
  /** SQLite: moves the store's checkpoints off the event loop (Store.offloadCheckpoints), asked at each submission. */
  offloadCheckpoints?: (() => Promise<void>) | undefined;
  /** More runners (media), each with the resolver of the slugs it runs. */
  runners?: ReadonlyArray<{ runner: ExecutionRunner; resolve: ModelResolver }> | undefined;
}

export interface Executions {
  queue: ExecutionQueue;
  registry: RunnerRegistry;
  service: ExecutionService;
  worker: ExecutionWorker;
  /**
   * Cancels upstream the jobs of executions that ended FAILED or CANCELLED (decisions 0042, 0045); started with the
   * worker, it also carries out the cancels other processes owe.
   */
  abandoner: UpstreamJobAbandoner;
}

export function createExecutions(deps: ExecutionsDeps): Executions {
  const { config } = deps;
  const queue = new ExecutionQueue(deps.db, deps.dialect);
  const registry = new RunnerRegistry();
  const text = new TextRunner({ pipeline: deps.pipeline, catalog: deps.catalog, router: deps.router });
  registry.add(text, text.resolve);
  for (const extra of deps.runners ?? []) registry.add(extra.runner, extra.resolve);
  const abandoner = new UpstreamJobAbandoner({
    db: deps.db,
    dialect: deps.dialect,
    registry,
    logger: deps.logger,
    settings: {
      retryMs: config.cancelRetryMs,
      pollMs: config.pollMs,
      retentionMs: config.retentionDays * 86_400_000,
    },
  });
  const worker = new ExecutionWorker({
    queue,
    registry,
    abandoner,
    ledger: deps.ledger,
    webhooks: deps.webhooks,
    files: deps.files,
    logger: deps.logger,
    settings: {
      concurrency: config.concurrency,
      perTenant: config.perTenant,
      perProvider: config.perProvider,
      leaseMs: config.leaseMs,
      pollMs: config.pollMs,
      maxAttempts: config.maxAttempts,
      backoffMs: config.backoffMs,
      maxBackoffMs: config.maxBackoffMs,
      retentionMs: config.retentionDays * 86_400_000,
    },
  });
  const service = new ExecutionService({
    queue,
    registry,
    abandoner,
    pipeline: deps.pipeline,
    ledger: deps.ledger,
    webhooks: deps.webhooks,
    checkWebhookUrl: deps.checkWebhookUrl,
    settings: { deadlineMs: config.deadlineMs, deadlineMsByKind: config.deadlineMsByKind },
    notifyChannel: deps.notifyChannel,
    logger: deps.logger,
    onSubmitted: () => {
      // Submissions churn the WAL (each row carries its input): SQLite's checkpoints move off the event loop.
      void deps.offloadCheckpoints?.();
      worker.wake();
    },
    onCancelled: (id) => worker.abortLocal(id),
  });
  return { queue, registry, service, worker, abandoner };
}
