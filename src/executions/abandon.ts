import { randomUUID } from 'node:crypto';
import type { Kysely, Selectable, Transaction } from 'kysely';
import { type GatewayError, toGatewayError } from '../core/errors.ts';
import type { UpstreamJob } from '../core/execution-contracts.ts';
import { WakeableSleep } from '../core/wakeable-sleep.ts';
import type { Logger } from '../ops/logger.ts';
import type { UpstreamCancelTable } from '../store/execution-tables.ts';
import type { SqlDialect } from '../store/migrations/column-types.ts';
import type { Database } from '../store/schema.ts';
import { yieldToEventLoop } from '../store/yield.ts';
import type { RunnerRegistry } from './registry.ts';

/**
 * Cancels upstream the long-running job an execution left on its row when it ended FAILED or CANCELLED
 * (decisions 0042, 0045). `endExecution` takes the job off the row in the transaction that writes the terminal
 * state and, in that same transaction, writes the cancel it owes (`owe`: a row of `upstream_cancel`), so the cancel
 * exists exactly when the terminal state does. After the commit the writing process tries it at once (`abandon`);
 * the workers of every process (`start`) claim the cancels that are due — a retry's wait is over, or the process
 * that held it died — with a lease, as the webhook outbox does (decision 0034): PostgreSQL `for update skip locked`,
 * SQLite the write lock. A retryable failure is due again after the next wait of `executions.cancelRetryMs`; a
 * refusal that is not retryable, or the last try, gives the cancel up (`failed`, logged once, counted). A stop or
 * `kill -9` loses nothing: the next start (or another replica) carries on. At least once: a process killed after
 * the provider took the cancel and before recording it leaves it to be sent again when its lease ends (a second
 * cancel of a cancelled job is a success: 2xx or 404). Each try goes through the runner of the execution's kind
 * (`ExecutionRunner.abandon`: the adapter's own cancel or delete, with the key the job names), logged with job and
 * key ids, never a secret; outcomes are counted in `modro_execution_upstream_cancels_total{outcome}`.
 */
export interface AbandonCounters {
  /** The provider accepted the cancel (or the job was already gone). */
  cancelled: number;
  /** Given up: refused, unreachable after the last try, or its provider, model or key no longer configured. */
  failed: number;
}

/** What `endExecution` owes upstream for an execution it ended. */
export interface OwedCancel {
  id: string;
  tenantId: string;
  kind: string;
  /** The row's `upstream_job` JSON. */
  job: string;
}

export interface AbandonerSettings {
  /** `executions.cancelRetryMs`: the waits before each further try after a retryable failure. */
  retryMs: readonly number[];
  /** How often the workers look for cancels that are due. */
  pollMs: number;
  /** A claim's lease: longer than one try (its own 10 s deadline, CANCEL_JOB_MS). */
  leaseMs?: number | undefined;
  /** Finished cancels are deleted this long after they finished (checked hourly); 0 keeps them. */
  retentionMs?: number | undefined;
  /** Tries one process makes at once. */
  concurrency?: number | undefined;
}

export interface AbandonerDeps {
  db: Kysely<Database>;
  dialect: SqlDialect;
  registry: RunnerRegistry;
  logger: Logger;
  settings: AbandonerSettings;
  now?: () => number;
}

type CancelRow = Selectable<UpstreamCancelTable>;

/** A claim's lease: a try has its own 10 s deadline, so no one else takes a cancel while it is being tried. */
export const CANCEL_LEASE_MS = 15_000;
const PRUNE_EVERY_MS = 3_600_000;
const PRUNE_CHUNK = 1_000;
const GIVEN_UP =
  'the upstream job of an ended execution could not be cancelled; it may run on and be billed by the provider';

export class UpstreamJobAbandoner {
  readonly #d: AbandonerDeps;
  readonly #now: () => number;
  readonly #leaseMs: number;
  readonly #concurrency: number;
  /** Tries under way in this process. */
  readonly #pending = new Set<Promise<void>>();
  /** Local wake-ups at a retry's due time (the row is the truth: any worker may take it). */
  readonly #timers = new Set<NodeJS.Timeout>();
  #stopped = false;
  #loop: Promise<void> | undefined;
  readonly #pause = new WakeableSleep();
  #lastPrune = 0;
  readonly counters: AbandonCounters = { cancelled: 0, failed: 0 };

  constructor(deps: AbandonerDeps) {
    this.#d = deps;
    this.#now = deps.now ?? Date.now;
    this.#leaseMs = deps.settings.leaseMs ?? CANCEL_LEASE_MS;
    this.#concurrency = deps.settings.concurrency ?? 8;
  }

  /** In the terminal transaction `trx`: the cancel of `cancel.job` is owed from now on. */
  async owe(trx: Transaction<Database>, cancel: OwedCancel, now: number): Promise<void> {
    await trx
      .insertInto('upstream_cancel')
      .values({
        execution_id: cancel.id,
        tenant_id: cancel.tenantId,
        kind: cancel.kind,
        job: cancel.job,
        state: 'pending',
        tries: 0,
        next_at: now,
        lease_token: null,
        last_code: null,
        last_status: null,
        last_error: null,
        created_at: now,
        updated_at: now,
      })
      .onConflict((oc) => oc.column('execution_id').doNothing())
      .execute();
  }

  /** After the commit that owes it: tries the cancel of execution `id` now, unless another process holds it. */
  abandon(id: string): void {
    if (this.#stopped) return;
    this.#track(this.#claimAndTry(1, id));
  }

  /** Workers: claims the cancels that are due, every `pollMs`, until `drain`. */
  start(): void {
    if (this.#loop) return;
    this.#stopped = false;
    this.#loop = this.#run();
  }

  async #run(): Promise<void> {
    while (!this.#stopped) {
      try {
        await this.#sweep();
      } catch (err) {
        this.#d.logger.error({ err }, 'owed upstream cancels could not be claimed (retrying)');
      }
      if (this.#stopped) break;
      await this.#pause.sleep(this.#d.settings.pollMs);
    }
  }

  async #sweep(): Promise<void> {
    const now = this.#now();
    const retentionMs = this.#d.settings.retentionMs ?? 0;
    if (retentionMs > 0 && now - this.#lastPrune >= PRUNE_EVERY_MS) {
      this.#lastPrune = now;
      await this.prune(now - retentionMs);
    }
    const free = this.#concurrency - this.#pending.size;
    if (free > 0) await this.#claimAndTry(free);
  }

  #track(work: Promise<void>): void {
    const tracked = work
      .catch((err: unknown) => this.#d.logger.error({ err }, 'an owed upstream cancel could not be tried'))
      .finally(() => this.#pending.delete(tracked));
    this.#pending.add(tracked);
  }

  async #claimAndTry(limit: number, only?: string): Promise<void> {
    const token = randomUUID();
    const rows = await this.#claim(limit, token, only);
    for (const row of rows) this.#track(this.#try(row, token));
  }

  /** Due cancels (one, with `only`), leased under `token`: due again when the lease ends if this process dies. */
  async #claim(limit: number, token: string, only?: string): Promise<CancelRow[]> {
    const now = this.#now();
    return this.#d.db.transaction().execute(async (trx) => {
      let due = trx
        .selectFrom('upstream_cancel')
        .select('execution_id')
        .where('state', '=', 'pending')
        .where('next_at', '<=', now)
        .orderBy('next_at')
        .limit(limit);
      if (only !== undefined) due = due.where('execution_id', '=', only);
      if (this.#d.dialect === 'postgres') due = due.forUpdate().skipLocked();
      const ids = (await due.execute()).map((r) => r.execution_id);
      if (ids.length === 0) return [];
      return trx
        .updateTable('upstream_cancel')
        .set((eb) => ({
          next_at: now + this.#leaseMs,
          lease_token: token,
          tries: eb('tries', '+', 1),
          updated_at: now,
        }))
        .where('execution_id', 'in', ids)
        .where('state', '=', 'pending')
        .returningAll()
        .execute();
    });
  }

  async #try(row: CancelRow, token: string): Promise<void> {
    const job = parseJob(row.job);
    const tries = Number(row.tries);
    const facts = {
      executionId: row.execution_id,
      jobId: job?.id,
      provider: job?.provider,
      model: job?.model,
      keyId: job?.key,
      tries,
    };
    const since = () => this.#now() - Number(row.created_at);
    const runner = this.#d.registry.runnerFor(row.kind);
    if (!job || !runner?.abandon) {
      const reason = 'unreadable, or no runner cancels it';
      if (await this.#record(row, token, 'failed', { code: 'internal_error', reason })) {
        this.counters.failed++;
        this.#d.logger.warn({ ...facts, reason }, GIVEN_UP);
      }
      return;
    }
    // Every try started counts, one its process died in too: a cancel that keeps killing its process ends.
    if (tries > this.#d.settings.retryMs.length + 1) {
      const reason = 'its tries were interrupted';
      if (await this.#record(row, token, 'failed', { code: 'internal_error', reason })) {
        this.counters.failed++;
        this.#d.logger.warn({ ...facts, reason, ms: since() }, GIVEN_UP);
      }
      return;
    }
    let error: GatewayError;
    try {
      await runner.abandon(job, { executionId: row.execution_id, tenantId: row.tenant_id });
      if (await this.#record(row, token, 'cancelled')) {
        this.counters.cancelled++;
        this.#d.logger.info({ ...facts, ms: since() }, 'the upstream job of an ended execution was cancelled');
      }
      return;
    } catch (err) {
      error = toGatewayError(err);
    }
    const why = { code: error.code, status: error.upstreamStatus, reason: error.message };
    const wait = error.retryable ? this.#d.settings.retryMs[tries - 1] : undefined;
    if (wait === undefined) {
      if (await this.#record(row, token, 'failed', why)) {
        this.counters.failed++;
        this.#d.logger.warn({ ...facts, ...why, ms: since() }, GIVEN_UP);
      }
      return;
    }
    if (await this.#record(row, token, 'pending', why, wait)) {
      this.#d.logger.info(
        { ...facts, ...why, retryInMs: wait },
        'the upstream job of an ended execution could not be cancelled yet; trying again',
      );
      // This process tries again at the due time if it still runs; otherwise any worker's sweep will.
      const timer = setTimeout(() => {
        this.#timers.delete(timer);
        this.abandon(row.execution_id);
      }, wait);
      timer.unref();
      this.#timers.add(timer);
    }
  }

  /** A try's outcome, if this claim still holds the cancel (its lease did not pass to another process). */
  async #record(
    row: CancelRow,
    token: string,
    state: CancelRow['state'],
    why?: { code: string; status?: number | undefined; reason: string },
    retryInMs = 0,
  ): Promise<boolean> {
    const now = this.#now();
    try {
      const result = await this.#d.db
        .updateTable('upstream_cancel')
        .set({
          state,
          next_at: now + retryInMs,
          lease_token: null,
          updated_at: now,
          ...(why
            ? { last_code: why.code, last_status: why.status ?? null, last_error: why.reason.slice(0, 500) }
            : {}),
        })
        .where('execution_id', '=', row.execution_id)
        .where('lease_token', '=', token)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    } catch (err) {
      // Left leased: due again when its lease ends, and tried again (at least once).
      this.#d.logger.error(
        { err, executionId: row.execution_id },
        'the outcome of an upstream cancel could not be recorded; it will be tried again',
      );
      return false;
    }
  }

  /** Deletes cancels that finished (cancelled or given up) before `before`, in chunks; returns how many. */
  async prune(before: number): Promise<number> {
    let total = 0;
    for (;;) {
      await yieldToEventLoop();
      const result = await this.#d.db
        .deleteFrom('upstream_cancel')
        .where('execution_id', 'in', (eb) =>
          eb
            .selectFrom('upstream_cancel')
            .select('execution_id')
            .where('state', '!=', 'pending')
            .where('updated_at', '<', before)
            .limit(PRUNE_CHUNK),
        )
        .executeTakeFirst();
      const deleted = Number(result.numDeletedRows);
      total += deleted;
      if (deleted < PRUNE_CHUNK) return total;
    }
  }

  /** Tries under way in this process, and retries it will start itself. */
  get pending(): number {
    return this.#pending.size + this.#timers.size;
  }

  /** Waits until no cancel is owed any more (tries under way ended, none pending in the database): tests. */
  async settled(): Promise<void> {
    for (;;) {
      if (this.#pending.size > 0) {
        await Promise.all([...this.#pending]);
        continue;
      }
      const owed = await this.#d.db
        .selectFrom('upstream_cancel')
        .select('execution_id')
        .where('state', '=', 'pending')
        .limit(1)
        .executeTakeFirst();
      if (!owed && this.#pending.size === 0) return;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  /**
   * Shutdown: stops claiming and waits for the tries under way (each bounded by its own deadline). Cancels still
   * owed stay in the database for the next start or another process.
   */
  async drain(): Promise<void> {
    this.#stopped = true;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    this.#pause.wake();
    await this.#loop;
    this.#loop = undefined;
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
