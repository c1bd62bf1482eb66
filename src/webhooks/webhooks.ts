import type { Kysely } from 'kysely';
import type { Config } from '../config/schema.ts';
import type { Logger } from '../ops/logger.ts';
import type { SqlDialect } from '../store/migrations/column-types.ts';
import type { Database } from '../store/schema.ts';
import { AddressPolicy, type Lookup, systemLookup, validateWebhookUrl } from './address-policy.ts';
import { WebhookDeliverer } from './deliverer.ts';
import { WebhookOutbox } from './outbox.ts';
import { loadWebhookKeyring, SigningSecrets } from './signing-secrets.ts';

/**
 * Webhook delivery as one part (docs/executions.md): the outbox executions enqueue into (`WebhookEnqueue`),
 * the URL check executions call at submission, the tenant's signing secret, and the deliverer, started in the
 * gateway unless `webhooks.deliver` is off (a separate `./modro worker` builds the same and starts it).
 */
export interface Webhooks {
  outbox: WebhookOutbox;
  secrets: SigningSecrets;
  policy: AddressPolicy;
  deliverer: WebhookDeliverer;
  /** Checks a `webhook_url` at submission (throws GatewayError invalid_request, param webhook_url). */
  validateUrl(url: unknown): URL;
  /**
   * Starts delivering when `webhooks.deliver` is on, or always with `{ evenIfOff: true }` (a `modro worker`
   * process delivers whatever the gateways' setting).
   */
  start(options?: { evenIfOff?: boolean }): void;
  close(): Promise<void>;
}

export interface WebhooksOptions {
  db: Kysely<Database>;
  dialect: SqlDialect;
  config: Config['webhooks'];
  env: NodeJS.ProcessEnv;
  dataDir: string;
  logger: Logger;
  /** Tests resolve hostnames their own way; default: the system resolver. */
  lookup?: Lookup;
}

export async function createWebhooks(options: WebhooksOptions): Promise<Webhooks> {
  const { config, logger } = options;
  const { keyring, source } = await loadWebhookKeyring(options.env, options.dataDir);
  const secrets = new SigningSecrets({ db: options.db, keyring, rotationOverlapMs: config.rotationOverlapMs });
  const resealed = await secrets.reseal();
  if (resealed > 0)
    logger.info({ resealed, keyId: keyring.current.id }, 'webhook signing secrets re-sealed under the current key');
  if (source === 'local-file') {
    logger.debug('webhook signing secrets sealed with the local key file (no master key configured)');
  }
  const policy = new AddressPolicy(config);
  const outbox = new WebhookOutbox({ db: options.db, dialect: options.dialect });
  const deliverer = new WebhookDeliverer({
    outbox,
    secrets,
    policy,
    lookup: options.lookup ?? systemLookup,
    logger,
    retryScheduleMs: config.retryScheduleMs,
    jitter: config.jitter,
    timeoutMs: config.timeoutMs,
    maxResponseBytes: config.maxResponseBytes,
    leaseMs: config.leaseMs,
    pollMs: config.pollMs,
    concurrency: config.concurrency,
    perHostConcurrency: config.perHostConcurrency,
    retentionMs: config.retentionDays * 86_400_000,
  });
  let started = false;
  // The enqueuing transaction commits just after enqueue returns: look a moment later (the poll is the fallback).
  outbox.onEnqueue = () => {
    if (started) setTimeout(() => deliverer.wake(), 20).unref();
  };
  return {
    outbox,
    secrets,
    policy,
    deliverer,
    validateUrl: (url) => validateWebhookUrl(url, policy),
    start(opts = {}) {
      if ((!config.deliver && !opts.evenIfOff) || started) return;
      started = true;
      deliverer.start();
    },
    close: () => deliverer.close(),
  };
}
