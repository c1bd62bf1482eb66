import { type ELDHistogram, monitorEventLoopDelay } from 'node:perf_hooks';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * Period of the event-loop delay sampler. Each sample wakes an idle process: at 10 ms (100 wake-ups a second) an
 * idle gateway spent ~8-10 ms of CPU a second on it and its sibling timers; a stall is caught whatever the
 * period (the next sample is late by the stall), so a coarser period loses no stall, only samples.
 */
export const LOOP_DELAY_SAMPLE_MS = 20;

/**
 * Prometheus metrics, one registry per gateway instance (tests run several in one process).
 * Label sets are small and bounded: tier, provider, model, code, status class.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly requests: Counter<'protocol' | 'tier' | 'provider' | 'model' | 'status' | 'code'>;
  readonly latency: Histogram<'protocol' | 'stream'>;
  readonly ttfb: Histogram<'provider'>;
  readonly upstreamErrors: Counter<'provider' | 'code'>;
  readonly failovers: Counter<'from_provider'>;
  readonly circuit: Gauge<'provider' | 'key' | 'state'>;
  readonly tokens: Counter<'provider' | 'model' | 'kind'>;
  readonly costNanoUsd: Counter<'provider' | 'model'>;
  readonly inFlight: Gauge;
  readonly usageQueue: Gauge;
  readonly usageJournalFailures: Counter;
  /** Requests with an Idempotency-Key, by outcome (new, replay, in_progress, mismatch). */
  readonly idempotency: Counter<'outcome'>;
  readonly sqliteCheckpoints: Counter<'mode'>;
  /**
   * Event-loop delay since the previous scrape, sampled by a libuv timer every LOOP_DELAY_SAMPLE_MS; see close().
   * Node records the whole interval between two samples (the period plus the lateness), so the period is taken
   * off when the gauge is read: an idle loop reads ~0, not the period.
   */
  private readonly loopDelay: ELDHistogram = monitorEventLoopDelay({ resolution: LOOP_DELAY_SAMPLE_MS });

  constructor() {
    const registers = [this.registry];
    this.requests = new Counter({
      name: 'modro_requests_total',
      help: 'Requests answered, by outcome',
      labelNames: ['protocol', 'tier', 'provider', 'model', 'status', 'code'],
      registers,
    });
    this.latency = new Histogram({
      name: 'modro_request_duration_seconds',
      help: 'Time from request to last byte',
      labelNames: ['protocol', 'stream'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
      registers,
    });
    this.ttfb = new Histogram({
      name: 'modro_upstream_first_byte_seconds',
      help: 'Time from request to the first upstream byte (streams: first event)',
      labelNames: ['provider'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.upstreamErrors = new Counter({
      name: 'modro_upstream_errors_total',
      help: 'Failed upstream attempts by normalized error code',
      labelNames: ['provider', 'code'],
      registers,
    });
    this.failovers = new Counter({
      name: 'modro_failovers_total',
      help: 'Attempts that moved on to another key or candidate',
      labelNames: ['from_provider'],
      registers,
    });
    this.circuit = new Gauge({
      name: 'modro_circuit_state',
      help: '1 for the current state of each provider key circuit (closed, open, half-open, rejected)',
      labelNames: ['provider', 'key', 'state'],
      registers,
    });
    this.tokens = new Counter({
      name: 'modro_tokens_total',
      help: 'Tokens metered, by kind (input, cached_input, cache_write, output, reasoning)',
      labelNames: ['provider', 'model', 'kind'],
      registers,
    });
    this.costNanoUsd = new Counter({
      name: 'modro_cost_nano_usd_total',
      help: 'Metered cost in nano-dollars',
      labelNames: ['provider', 'model'],
      registers,
    });
    this.inFlight = new Gauge({ name: 'modro_in_flight_requests', help: 'Requests being served', registers });
    this.usageQueue = new Gauge({
      name: 'modro_usage_queue_length',
      help: 'Usage records waiting for the batched write',
      registers,
    });
    this.usageJournalFailures = new Counter({
      name: 'modro_usage_journal_failures_total',
      help: 'Usage records whose journal append failed (kept in memory until written; a crash before then loses them)',
      registers,
    });
    this.sqliteCheckpoints = new Counter({
      name: 'modro_sqlite_checkpoints_total',
      help: 'SQLite WAL checkpoints of the background worker that moved frames, by mode (passive; restart: the WAL bound)',
      labelNames: ['mode'],
      registers,
    });
    this.idempotency = new Counter({
      name: 'modro_idempotency_requests_total',
      help: 'Requests with an Idempotency-Key: new (ran), replay (stored answer), in_progress or mismatch (409)',
      labelNames: ['outcome'],
      registers,
    });
    this.loopDelay.enable();
    const loopDelay = this.loopDelay;
    const metrics = this;
    new Gauge({
      name: 'modro_price_data_age_seconds',
      help: 'Age of the price data in use, since it was fetched (prices.refresh); -1 while the bundled data is in use',
      registers,
      collect() {
        const at = metrics.priceDataFetchedAt();
        this.set(at === undefined ? -1 : Math.max(0, (Date.now() - at) / 1000));
      },
    });
    new Gauge({
      name: 'modro_event_loop_delay_seconds',
      help: 'Event-loop delay since the previous scrape (p50, p99, max); a stall shows here before it shows in latency',
      labelNames: ['quantile'],
      registers,
      collect() {
        const late = (ns: number) => (loopDelay.count > 0 ? Math.max(0, ns / 1e9 - LOOP_DELAY_SAMPLE_MS / 1e3) : 0);
        this.set({ quantile: '0.5' }, late(loopDelay.percentile(50)));
        this.set({ quantile: '0.99' }, late(loopDelay.percentile(99)));
        this.set({ quantile: 'max' }, late(loopDelay.max));
        loopDelay.reset();
      },
    });
  }

  /** When the price data in use was fetched (ms since the epoch); undefined while the bundled data is in use. */
  priceDataFetchedAt: () => number | undefined = () => undefined;

  /**
   * This process's execution worker (docs/executions.md): runs under way, and as counters the executions it
   * ended (by status), the retries it queued and the expired leases it reclaimed. Read at scrape time.
   */
  watchExecutions(
    stats: () => { running: number; completed: number; failed: number; retried: number; reclaimed: number },
    queued?: () => Promise<number>,
    upstreamCancels?: () => { cancelled: number; failed: number },
  ): void {
    const registers = [this.registry];
    if (queued) {
      new Gauge({
        name: 'modro_executions_queued',
        help: 'Executions waiting in the queue (PENDING, all processes; read from the database at scrape time, counted up to 100000)',
        registers,
        async collect() {
          this.set(await queued());
        },
      });
    }
    new Gauge({
      name: 'modro_executions_running',
      help: 'Executions this process is running',
      registers,
      collect() {
        this.set(stats().running);
      },
    });
    const seen = { completed: 0, failed: 0 };
    new Counter({
      name: 'modro_executions_ended_total',
      help: 'Executions this process ended, by status (cancels are counted by the process that answered them)',
      labelNames: ['status'],
      registers,
      collect() {
        const now = stats();
        for (const status of ['completed', 'failed'] as const) {
          if (now[status] > seen[status]) this.inc({ status }, now[status] - seen[status]);
          seen[status] = now[status];
        }
      },
    });
    const counter = (name: string, help: string, key: 'retried' | 'reclaimed') =>
      countedSince(registers, name, help, () => stats()[key]);
    if (upstreamCancels) {
      const cancels = { cancelled: 0, failed: 0 };
      new Counter({
        name: 'modro_execution_upstream_cancels_total',
        help: 'Upstream jobs of executions that ended FAILED or CANCELLED, cancelled by this process (outcome=cancelled) or given up by it (outcome=failed: refused, unreachable after its retries, no longer configured)',
        labelNames: ['outcome'],
        registers,
        collect() {
          const now = upstreamCancels();
          for (const outcome of ['cancelled', 'failed'] as const) {
            // Both series exist from the first scrape (at 0), so an alert on `failed` needs no `absent()`.
            this.inc({ outcome }, Math.max(0, now[outcome] - cancels[outcome]));
            cancels[outcome] = Math.max(cancels[outcome], now[outcome]);
          }
        },
      });
    }
    counter('modro_execution_retries_total', 'Runs that failed with a retryable code and were queued again', 'retried');
    counter(
      'modro_execution_leases_expired_total',
      'Executions put back in the queue because the worker running them stopped renewing its lease',
      'reclaimed',
    );
  }

  /**
   * The caches of tenancy's directory: entries held (keys, unknown keys, tenants, unknown tenants) and, as
   * counters, lookups that went to the database and evictions. Read at scrape time.
   */
  watchKeyCache(
    stats: () => {
      keys: number;
      unknown: number;
      lookups: number;
      evictions: number;
      tenants: number;
      unknownTenants: number;
      tenantLookups: number;
      tenantEvictions: number;
    },
  ): void {
    const registers = [this.registry];
    new Gauge({
      name: 'modro_key_cache_entries',
      help: 'Managed keys held in memory (kind=keys, bounded by tenancy.cache.keys), unknown keys remembered (kind=unknown), tenants held (kind=tenants, bounded by tenancy.cache.tenants) and unknown tenants remembered (kind=unknown_tenants)',
      labelNames: ['kind'],
      registers,
      collect() {
        const now = stats();
        this.set({ kind: 'keys' }, now.keys);
        this.set({ kind: 'unknown' }, now.unknown);
        this.set({ kind: 'tenants' }, now.tenants);
        this.set({ kind: 'unknown_tenants' }, now.unknownTenants);
      },
    });
    const counter = (name: string, help: string, read: (s: ReturnType<typeof stats>) => number) =>
      countedSince(registers, name, help, () => read(stats()));
    counter(
      'modro_key_cache_lookups_total',
      'Managed-key lookups that went to the database (cold or unknown keys)',
      (s) => s.lookups,
    );
    counter(
      'modro_key_cache_evictions_total',
      'Managed keys evicted from memory to stay within tenancy.cache.keys',
      (s) => s.evictions,
    );
    counter(
      'modro_tenant_cache_lookups_total',
      'Tenant lookups that went to the database (a cold key of a tenant not in memory, a cold bring-your-own-key tenant)',
      (s) => s.tenantLookups,
    );
    counter(
      'modro_tenant_cache_evictions_total',
      'Tenants evicted from memory to stay within tenancy.cache.tenants',
      (s) => s.tenantEvictions,
    );
  }

  /**
   * The ledger's accounts in memory (decision 0043): billed accounts and tenants known to have none, loaded
   * on first use and dropped when idle; cold loads and evictions since start.
   */
  watchLedgerCache(stats: () => { accounts: number; unbilled: number; loads: number; evictions: number }): void {
    const registers = [this.registry];
    new Gauge({
      name: 'modro_ledger_accounts',
      help: 'Billed accounts held in memory by the ledger (kind=accounts) and tenants remembered as not billed (kind=unbilled); both follow use, not the account table',
      labelNames: ['kind'],
      registers,
      collect() {
        const now = stats();
        this.set({ kind: 'accounts' }, now.accounts);
        this.set({ kind: 'unbilled' }, now.unbilled);
      },
    });
    for (const [name, help, read] of [
      [
        'modro_ledger_account_loads_total',
        'Cold loads of the ledger: one query for an account (or a tenant without one) not in memory',
        (s: ReturnType<typeof stats>) => s.loads,
      ],
      [
        'modro_ledger_account_evictions_total',
        'Accounts and unbilled tenants the ledger dropped after billing.accountIdleMs without use',
        (s: ReturnType<typeof stats>) => s.evictions,
      ],
    ] as const) {
      countedSince(registers, name, help, () => read(stats()));
    }
  }

  /**
   * Webhook delivery (src/webhooks/): this process's attempts by outcome (delivered, retrying: failed and
   * scheduled again, failed: failed for good), and, read from the outbox at scrape time (one indexed query,
   * whichever process delivers), deliveries waiting and how late the oldest due one is.
   */
  watchWebhooks(
    outcomes: () => Record<'delivered' | 'retrying' | 'failed', number>,
    queue: () => Promise<{ pending: number; oldestDueMs: number }>,
  ): void {
    // One outbox read serves both gauges of a scrape.
    let reading: Promise<{ pending: number; oldestDueMs: number }> | undefined;
    const read = () => {
      reading ??= queue().finally(() => {
        setImmediate(() => {
          reading = undefined;
        });
      });
      return reading;
    };
    const registers = [this.registry];
    const seen = { delivered: 0, retrying: 0, failed: 0 };
    new Counter({
      name: 'modro_webhook_attempts_total',
      help: 'Webhook delivery attempts by outcome (delivered; retrying: failed, another attempt scheduled; failed: given up)',
      labelNames: ['outcome'],
      registers,
      collect() {
        const now = outcomes();
        for (const outcome of ['delivered', 'retrying', 'failed'] as const) {
          if (now[outcome] > seen[outcome]) this.inc({ outcome }, now[outcome] - seen[outcome]);
          seen[outcome] = now[outcome];
        }
      },
    });
    new Gauge({
      name: 'modro_webhook_queue_depth',
      help: 'Webhook deliveries neither delivered nor failed yet',
      registers,
      async collect() {
        this.set((await read()).pending);
      },
    });
    new Gauge({
      name: 'modro_webhook_oldest_due_seconds',
      help: 'How long the oldest due webhook delivery has been waiting for its attempt (0: none due)',
      registers,
      async collect() {
        this.set((await read()).oldestDueMs / 1000);
      },
    });
  }

  /** Stops the event-loop delay sampler (its timer would otherwise keep running after the runtime closes). */
  close(): void {
    this.loopDelay.disable();
  }

  setCircuit(provider: string, key: string, state: (typeof CIRCUIT_STATES)[number]): void {
    for (const s of CIRCUIT_STATES) {
      this.circuit.set({ provider, key, state: s }, s === state ? 1 : 0);
    }
  }
}

/** The states of a provider key's circuit breaker (pipeline/health.ts), as `modro_circuit_state` reports them. */
export const CIRCUIT_STATES = ['closed', 'open', 'half-open', 'rejected'] as const;

/** A counter that reports a count kept elsewhere since start (read at each scrape; it only goes up). */
function countedSince(registers: Registry[], name: string, help: string, read: () => number): void {
  let seen = 0;
  new Counter({
    name,
    help,
    registers,
    collect() {
      const value = read();
      if (value > seen) this.inc(value - seen);
      seen = value;
    },
  });
}
