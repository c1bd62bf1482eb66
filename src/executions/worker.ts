import { randomBytes } from 'node:crypto';
import { GatewayError, toGatewayError } from '../core/errors.ts';
import type { ExecutionFiles, ExecutionKind, RunResult, UpstreamJobStore } from '../core/execution-contracts.ts';
import { WakeableSleep } from '../core/wakeable-sleep.ts';
import type { Logger } from '../ops/logger.ts';
import { parseJob } from './abandon.ts';
import { callerFromSnapshot } from './caller-snapshot.ts';
import type { ClaimedRow } from './queue.ts';
import type { RunnerRegistry } from './registry.ts';
import { endExecution, type TerminalDeps } from './terminal.ts';
import type { CallerRunContext } from './text-runner.ts';

/**
 * Runs queued executions (docs/executions.md): claims due rows one at a time while it has free slots (overall,
 * per tenant, per provider), renews the leases of what it runs, puts back rows whose worker died (an expired
 * lease), and ends each execution once through `endExecution`. Retryable failures are retried with exponential
 * backoff until `maxAttempts` or the execution's deadline; anything else ends it FAILED. In the gateway process
 * it is woken by each submission; `modro worker` runs it alone and polls.
 */
export interface WorkerSettings {
  concurrency: number;
  perTenant: number;
  perProvider: number;
  leaseMs: number;
  pollMs: number;
  maxAttempts: number;
  backoffMs: number;
  maxBackoffMs: number;
  /** Ended executions are deleted this long after they ended (checked hourly); 0: kept. */
  retentionMs: number;
}

export interface WorkerDeps extends TerminalDeps {
  registry: RunnerRegistry;
  settings: WorkerSettings;
  logger: Logger;
  /** The tenant file store (src/files/); absent: runs that need files fail with internal_error. */
  files?: ExecutionFiles | undefined;
  now?: () => number;
}

type StopReason = 'cancel' | 'deadline' | 'shutdown';

interface Running {
  /** The lease token of this claim (`<worker>.<n>`): a row this worker claims again gets a new one. */
  lease: string;
  row: ClaimedRow;
  controller: AbortController;
  done: Promise<void>;
}

const PRUNE_EVERY_MS = 3_600_000;

const NO_FILES: ExecutionFiles = {
  put: () => Promise.reject(new GatewayError('internal_error', 'Internal error: no file store is configured')),
  read: () => Promise.reject(new GatewayError('internal_error', 'Internal error: no file store is configured')),
};

export class ExecutionWorker {
  readonly owner = `w_${randomBytes(6).toString('hex')}`;
  readonly #d: WorkerDeps;
  readonly #now: () => number;
  /** Runs under way, by lease token. */
  readonly #running = new Map<string, Running>();
  #claims = 0;
  readonly #byTenant = new Map<string, number>();
  readonly #byProvider = new Map<string, number>();
  #stopped = true;
  #loop: Promise<void> | undefined;
  readonly #pause = new WakeableSleep();
  #woken = false;
  #renewTimer: NodeJS.Timeout | undefined;
  #lastReap = 0;
  #lastPrune = 0;
  /** Executions ended by this worker (tests, metrics). */
  readonly counters = { completed: 0, failed: 0, retried: 0, reclaimed: 0 };

  constructor(deps: WorkerDeps) {
    this.#d = deps;
    this.#now = deps.now ?? Date.now;
  }

  get running(): number {
    return this.#running.size;
  }

  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    this.#renewTimer = setInterval(() => void this.#renew(), Math.max(50, Math.floor(this.#d.settings.leaseMs / 3)));
    this.#renewTimer.unref();
    this.#loop = this.#run();
  }

  /** A submission or a finished run: look for work now instead of at the next poll. */
  wake(): void {
    this.#woken = true;
    this.#pause.wake();
  }

  /** Stops the run of an execution this worker holds (it was cancelled); its row was already ended. */
  abortLocal(id: string): void {
    for (const r of this.#running.values()) if (r.row.id === id) r.controller.abort('cancel' satisfies StopReason);
  }

  /**
   * Stops claiming; runs still going after `graceMs` are aborted and put back to PENDING for the next worker
   * (their attempt stays counted).
   */
  async stop(graceMs = 0): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.wake();
    await this.#loop;
    const all = Promise.all([...this.#running.values()].map((r) => r.done));
    const timer = setTimeout(() => {
      for (const r of this.#running.values()) r.controller.abort('shutdown' satisfies StopReason);
    }, graceMs);
    await all;
    clearTimeout(timer);
    if (this.#renewTimer) clearInterval(this.#renewTimer);
  }

  async #run(): Promise<void> {
    while (!this.#stopped) {
      this.#woken = false;
      try {
        await this.#fill();
      } catch (err) {
        this.#d.logger.error({ err }, 'execution worker could not claim work (retrying)');
      }
      if (this.#stopped) break;
      if (this.#woken) continue;
      await this.#pause.sleep(this.#d.settings.pollMs);
    }
  }

  async #fill(): Promise<void> {
    const s = this.#d.settings;
    const now = this.#now();
    if (now - this.#lastReap >= s.pollMs) {
      this.#lastReap = now;
      const reclaimed = await this.#d.queue.reap(now);
      if (reclaimed > 0) {
        this.counters.reclaimed += reclaimed;
        this.#d.logger.warn({ reclaimed }, 'executions whose worker stopped renewing its lease are queued again');
      }
    }
    if (s.retentionMs > 0 && now - this.#lastPrune >= PRUNE_EVERY_MS) {
      this.#lastPrune = now;
      const pruned = await this.#d.queue.prune(now - s.retentionMs);
      if (pruned > 0) this.#d.logger.info({ pruned }, 'ended executions past their retention deleted');
    }
    while (!this.#stopped && this.#running.size < s.concurrency) {
      const t = this.#now();
      const lease = `${this.owner}.${++this.#claims}`;
      const row = await this.#d.queue.claim(lease, t, t + s.leaseMs, {
        tenants: atLimit(this.#byTenant, s.perTenant),
        providers: atLimit(this.#byProvider, s.perProvider),
      });
      if (!row) return;
      this.#start(row, lease);
    }
  }

  #start(row: ClaimedRow, lease: string): void {
    const controller = new AbortController();
    count(this.#byTenant, row.tenant_id, 1);
    if (row.provider) count(this.#byProvider, row.provider, 1);
    const entry: Running = { lease, row, controller, done: Promise.resolve() };
    this.#running.set(lease, entry);
    entry.done = this.#execute(row, lease, controller)
      .catch((err: unknown) => this.#d.logger.error({ err, executionId: row.id }, 'execution run failed'))
      .finally(() => {
        this.#running.delete(lease);
        count(this.#byTenant, row.tenant_id, -1);
        if (row.provider) count(this.#byProvider, row.provider, -1);
        this.wake();
      });
  }

  async #execute(row: ClaimedRow, lease: string, controller: AbortController): Promise<void> {
    const s = this.#d.settings;
    const who = { owner: lease };
    const deadline = Number(row.deadline_at);
    const attempt = Number(row.attempts);
    if (this.#now() >= deadline) {
      await this.#fail(row, lease, new GatewayError('timeout', 'The execution did not finish before its deadline'));
      return;
    }
    if (attempt > s.maxAttempts) {
      const last = row.error_code
        ? { code: row.error_code, message: row.error_message ?? '' }
        : { code: 'internal_error', message: `The execution was started ${s.maxAttempts} times without finishing` };
      await this.#end(row, lease, { status: 'FAILED', error_code: last.code, error_message: last.message });
      return;
    }
    if (row.key_id !== null && (await this.#d.queue.keyGone(row.key_id, this.#now()))) {
      await this.#fail(
        row,
        lease,
        new GatewayError('permission_denied', 'The API key that submitted this execution was revoked or has expired'),
      );
      return;
    }
    const runner = this.#d.registry.runnerFor(row.kind);
    if (!runner) {
      await this.#fail(
        row,
        lease,
        new GatewayError('internal_error', `No runner for executions of kind '${row.kind}'`),
      );
      return;
    }
    const timer = setTimeout(() => controller.abort('deadline' satisfies StopReason), deadline - this.#now());
    let result: RunResult;
    try {
      const ctx: CallerRunContext = {
        executionId: row.id,
        tenantId: row.tenant_id,
        signal: controller.signal,
        files: this.#d.files ?? NO_FILES,
        attempt,
        caller: callerFromSnapshot(row.caller),
        upstreamJob: this.#jobStore(row, lease),
      };
      result = await runner.run(
        { id: row.resolved_model, kind: row.kind as ExecutionKind },
        JSON.parse(row.input),
        ctx,
      );
    } catch (err) {
      clearTimeout(timer);
      const reason = controller.signal.aborted ? (controller.signal.reason as StopReason) : undefined;
      if (reason === 'cancel') return; // the cancel ended the row (and released its hold)
      if (reason === 'shutdown') {
        await this.#d.queue.requeue(lease, row.id, this.#now(), null);
        return;
      }
      if (reason === 'deadline') {
        await this.#fail(row, lease, new GatewayError('timeout', 'The execution did not finish before its deadline'));
        return;
      }
      const error = toGatewayError(err);
      if (error.code === 'internal_error') this.#d.logger.error({ err, executionId: row.id }, 'execution run failed');
      const wait = Math.min(s.maxBackoffMs, s.backoffMs * 2 ** (attempt - 1));
      const retryAt = this.#now() + Math.max(wait, (error.retryAfter ?? 0) * 1000);
      if (error.retryable && attempt < s.maxAttempts && retryAt < deadline) {
        if (await this.#d.queue.requeue(lease, row.id, retryAt, error)) this.counters.retried++;
        return;
      }
      await this.#fail(row, lease, error);
      return;
    }
    clearTimeout(timer);
    if (controller.signal.aborted && controller.signal.reason === 'cancel') return;
    const ended = await endExecution(this.#d, row.id, who, {
      status: 'COMPLETED',
      output: JSON.stringify(result.output),
      usage: JSON.stringify(result.usage),
      cost_nano: Math.max(0, Math.round(result.costNanoUsd)),
      served_by: result.servedBy,
      error_code: null,
      error_message: null,
    });
    if (ended) this.counters.completed++;
  }

  /** The run's record of its upstream job on the row (decision 0038), written only while the lease is this run's. */
  #jobStore(row: ClaimedRow, lease: string): UpstreamJobStore {
    let current = parseJob(row.upstream_job);
    const queue = this.#d.queue;
    return {
      load: async () => current,
      save: async (job) => {
        if (!(await queue.setUpstreamJob(lease, row.id, JSON.stringify(job)))) {
          throw new GatewayError('internal_error', 'Internal error: the execution is no longer this run’s');
        }
        current = job;
      },
      clear: async () => {
        if (current === undefined) return;
        current = undefined;
        try {
          await queue.setUpstreamJob(lease, row.id, null);
        } catch (err) {
          this.#d.logger.warn({ err, executionId: row.id }, 'the upstream job of an execution could not be forgotten');
        }
      },
    };
  }

  #fail(row: ClaimedRow, lease: string, error: GatewayError): Promise<boolean> {
    return this.#end(row, lease, { status: 'FAILED', error_code: error.code, error_message: error.message });
  }

  async #end(row: ClaimedRow, lease: string, values: Parameters<typeof endExecution>[3]): Promise<boolean> {
    const ended = await endExecution(this.#d, row.id, { owner: lease }, values);
    if (ended && values.status === 'FAILED') this.counters.failed++;
    return ended;
  }

  /** Extends the leases of what runs here; a run whose row is no longer ours (cancelled elsewhere) is stopped. */
  async #renew(): Promise<void> {
    const runs = [...this.#running.values()];
    if (runs.length === 0) return;
    try {
      const kept = await this.#d.queue.renew(
        runs.map((r) => ({ id: r.row.id, lease: r.lease })),
        this.#now() + this.#d.settings.leaseMs,
      );
      for (const r of runs) if (!kept.has(r.lease)) r.controller.abort('cancel' satisfies StopReason);
    } catch (err) {
      this.#d.logger.error({ err }, 'execution leases could not be renewed');
    }
  }
}

function count(map: Map<string, number>, key: string, by: number): void {
  const n = (map.get(key) ?? 0) + by;
  if (n > 0) map.set(key, n);
  else map.delete(key);
}

function atLimit(map: Map<string, number>, limit: number): string[] {
  const out: string[] = [];
  for (const [key, n] of map) if (n >= limit) out.push(key);
  return out;
}
