import type { Logger } from '../ops/logger.ts';
import type { AddressPolicy, Lookup } from './address-policy.ts';
import type { Claimed, DeliveryState, WebhookOutbox } from './outbox.ts';
import { sendOnce } from './send.ts';
import type { SigningSecrets } from './signing-secrets.ts';

/**
 * Delivers the outbox: claims due deliveries (up to `concurrency` in flight), signs each attempt per Standard
 * Webhooks (`webhook-id` the message id, `webhook-timestamp` the attempt's time, `webhook-signature`), POSTs
 * it, records the attempt and schedules the next one. Runs in the gateway process and in `./modro worker`;
 * several deliverers (replicas) share one outbox through the claim's lease.
 */
export interface DelivererOptions {
  outbox: WebhookOutbox;
  secrets: SigningSecrets;
  policy: AddressPolicy;
  lookup: Lookup;
  logger: Logger;
  retryScheduleMs: readonly number[];
  jitter: number;
  timeoutMs: number;
  maxResponseBytes: number;
  leaseMs: number;
  pollMs: number;
  concurrency: number;
  /** Attempts in flight at once to one host (so one slow receiver cannot hold every slot). */
  perHostConcurrency: number;
  /** Finished deliveries older than this are pruned (ms); undefined: never. */
  retentionMs?: number;
  random?: () => number;
}

export type Outcome = 'delivered' | 'retrying' | 'failed';

/** The wait before the next attempt after `failedBefore` earlier failed attempts; undefined once the schedule is over. */
export function retryDelay(
  schedule: readonly number[],
  failedBefore: number,
  jitter: number,
  random: () => number = Math.random,
): number | undefined {
  const base = schedule[failedBefore];
  if (base === undefined) return undefined;
  return Math.round(base * (1 + jitter * random()));
}

const PRUNE_EVERY_MS = 3_600_000;

export class WebhookDeliverer {
  readonly #o: DelivererOptions;
  readonly #inFlight = new Set<Promise<void>>();
  readonly #byHost = new Map<string, number>();
  readonly #abort = new AbortController();
  #timer: NodeJS.Timeout | undefined;
  #ticking: Promise<void> | undefined;
  #again = false;
  #closed = false;
  #prunedAt = 0;
  /** Attempts by outcome since start. */
  readonly outcomes: Record<Outcome, number> = { delivered: 0, retrying: 0, failed: 0 };

  constructor(options: DelivererOptions) {
    if (options.leaseMs <= options.timeoutMs) {
      throw new Error('webhooks.leaseMs must exceed webhooks.timeoutMs (a claim must outlive its attempt)');
    }
    this.#o = options;
  }

  start(): void {
    if (this.#timer || this.#closed) return;
    this.#timer = setInterval(() => this.wake(), this.#o.pollMs);
    this.#timer.unref();
    this.wake();
  }

  /** Looks for due deliveries now (after an enqueue or a redelivery); nothing unless started. */
  wake(): void {
    if (this.#closed || !this.#timer) return;
    if (this.#ticking) {
      this.#again = true;
      return;
    }
    this.#ticking = this.#tick()
      .catch((err: unknown) => this.#o.logger.error({ err }, 'webhook deliverer: claiming due deliveries failed'))
      .finally(() => {
        this.#ticking = undefined;
        if (this.#again) {
          this.#again = false;
          this.wake();
        }
      });
  }

  /** Waits until nothing is in flight (tests). */
  async idle(): Promise<void> {
    while (this.#ticking || this.#inFlight.size > 0) {
      await Promise.all([this.#ticking, ...this.#inFlight]);
    }
  }

  /** Stops claiming; attempts under way are aborted and their deliveries handed back, due at once. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    this.#abort.abort();
    await this.#ticking;
    await Promise.all(this.#inFlight);
  }

  async #tick(): Promise<void> {
    const now = Date.now();
    if (this.#o.retentionMs !== undefined && now - this.#prunedAt >= PRUNE_EVERY_MS) {
      this.#prunedAt = now;
      await this.#o.outbox.prune(now - this.#o.retentionMs);
    }
    const room = this.#o.concurrency - this.#inFlight.size;
    if (room <= 0 || this.#closed) return;
    const cap = this.#o.perHostConcurrency;
    const busy = [...this.#byHost].filter(([, n]) => n >= cap).map(([host]) => host);
    const claimed = await this.#o.outbox.claim(room, this.#o.leaseMs, busy);
    for (const c of claimed) {
      const host = c.row.host;
      const n = this.#byHost.get(host) ?? 0;
      if (n >= cap) {
        // More of this host's deliveries came in one claim than it may have in flight: back, due now.
        await this.#o.outbox.release(c);
        continue;
      }
      this.#byHost.set(host, n + 1);
      const work = this.#attempt(c).catch((err: unknown) =>
        this.#o.logger.error({ err, delivery: c.row.id }, 'webhook deliverer: recording an attempt failed'),
      );
      this.#inFlight.add(work);
      void work.finally(() => {
        const left = (this.#byHost.get(host) ?? 1) - 1;
        if (left > 0) this.#byHost.set(host, left);
        else this.#byHost.delete(host);
        this.#inFlight.delete(work);
        // A slot is free: more may be due.
        if (claimed.length === room) this.wake();
      });
    }
  }

  async #attempt(claimed: Claimed): Promise<void> {
    const { row } = claimed;
    const at = Date.now();
    let signature: string;
    try {
      signature = await this.#o.secrets.sign(row.tenant_id, row.message_id, new Date(at), row.payload);
    } catch (err) {
      // A secret that cannot be opened (master key missing): counted as a failed attempt, retried on schedule.
      this.#o.logger.error({ err, delivery: row.id }, 'webhook signing secret unavailable');
      await this.#finish(claimed, at, {
        ok: false,
        status: null,
        error: 'signing_unavailable',
        excerpt: null,
        durationMs: 0,
      });
      return;
    }
    const result = await sendOnce(
      {
        url: row.url,
        headers: {
          'content-type': 'application/json',
          'user-agent': 'Modro-Webhooks/1',
          'webhook-id': row.message_id,
          'webhook-timestamp': String(Math.floor(at / 1000)),
          'webhook-signature': signature,
        },
        body: row.payload,
      },
      {
        policy: this.#o.policy,
        lookup: this.#o.lookup,
        timeoutMs: this.#o.timeoutMs,
        maxResponseBytes: this.#o.maxResponseBytes,
        signal: this.#abort.signal,
      },
    );
    if (this.#abort.signal.aborted && !result.ok && result.status === null) {
      await this.#o.outbox.release(claimed);
      return;
    }
    await this.#finish(claimed, at, result);
  }

  async #finish(claimed: Claimed, at: number, result: Parameters<WebhookOutbox['record']>[2]): Promise<void> {
    const { row } = claimed;
    // A URL that can never be sent to (not http(s), credentials in it) is not retried.
    const retryIn =
      result.ok || row.manual === 1 || result.error === 'invalid_url'
        ? undefined
        : retryDelay(this.#o.retryScheduleMs, row.attempts, this.#o.jitter, this.#o.random);
    const state: DeliveryState | undefined = await this.#o.outbox.record(claimed, at, result, retryIn);
    if (state === undefined) return; // the claim had expired and another deliverer owns the row
    const outcome: Outcome = state === 'delivered' ? 'delivered' : state === 'failed' ? 'failed' : 'retrying';
    this.outcomes[outcome]++;
    if (retryIn !== undefined && retryIn < this.#o.pollMs) setTimeout(() => this.wake(), retryIn + 1).unref();
    if (state === 'failed') {
      // Never the URL's query or the payload: the delivery id, the tenant and the last error class.
      this.#o.logger.warn(
        {
          delivery: row.id,
          tenant: row.tenant_id,
          status: result.status,
          error: result.error,
          attempts: row.attempts + 1,
        },
        'webhook delivery failed for good',
      );
    }
  }
}
