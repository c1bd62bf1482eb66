import type { Kysely } from 'kysely';
import type { Database } from './schema.ts';
import type { UsageRecord } from './usage.ts';
import { writeUsageBatch } from './usage.ts';
import { pruneUsage } from './usage-prune.ts';
import { appendSpill, appendSpillSync, importSpill, type SpillImportResult } from './usage-spill.ts';

export interface UsageWriterOptions {
  db: Kysely<Database>;
  /** JSONL file in the data folder for records the database could not take (see usage-spill.ts). */
  spillPath: string;
  /** Default 1000. */
  flushIntervalMs?: number;
  /** Records per transaction; reaching it also triggers a flush. Default 500. */
  batchSize?: number;
  /**
   * While flushes fail, records beyond this many move from memory to the spill file (and come back once
   * the database does), so a long outage cannot exhaust memory. Default 100,000.
   */
  maxQueued?: number;
  /** First retry delay after a failed flush, doubling up to retryMaxMs. Defaults 500 and 30,000. */
  retryInitialMs?: number;
  retryMaxMs?: number;
  /** Raw rows older than this are pruned periodically (rollups are kept). Off when absent. */
  retentionMs?: number;
  /** Default one hour. */
  pruneIntervalMs?: number;
  /** Background failures (the timer's flushes, pruning); the writer itself keeps going. */
  onError?: (err: unknown, during: 'flush' | 'spill' | 'import' | 'prune') => void;
}

export interface UsageWriterCounters {
  /** Records waiting in memory. */
  queued: number;
  /** Records stored (not counting duplicates). */
  written: number;
  /** Records skipped because their requestId was already stored. */
  duplicates: number;
  failedFlushes: number;
  /** Records moved to the spill file. */
  spilled: number;
  /** Records brought back from the spill file. */
  imported: number;
  /** Spill lines that could not be read back (set aside in `<spillPath>.malformed`). */
  malformedSpillLines: number;
  /** Raw rows deleted by retention. */
  pruned: number;
}

/**
 * Usage records leave the request path through `enqueue` (synchronous, no I/O, never throws) and reach the
 * database in batches: every `flushIntervalMs`, or as soon as `batchSize` are waiting. A failed flush keeps
 * its records at the head of the queue and is retried with exponential backoff; nothing is dropped.
 * `close()` writes what is left, or, if the database is gone, appends it to the spill file, which the next
 * `start()` imports. Writes are idempotent by requestId, so retries and re-imports never count twice.
 *
 * Flushes run one at a time (a promise chain), which keeps a single writer's batches in order and lets
 * SQLite's synchronous calls stay short.
 */
export class UsageWriter {
  readonly #db: Kysely<Database>;
  readonly #spillPath: string;
  readonly #flushIntervalMs: number;
  readonly #batchSize: number;
  readonly #maxQueued: number;
  readonly #retryInitialMs: number;
  readonly #retryMaxMs: number;
  readonly #retentionMs: number | undefined;
  readonly #pruneIntervalMs: number;
  readonly #onError: NonNullable<UsageWriterOptions['onError']>;

  /** Only ever appended to by enqueue; only the head is removed, by the (single) running flush. */
  readonly #queue: UsageRecord[] = [];
  #chain: Promise<unknown> = Promise.resolve();
  #pendingFlushes = 0;
  #flushScheduled = false;
  #consecutiveFailures = 0;
  #retryAt = 0;
  /** This process wrote to the spill file and should import it once the database answers. */
  #spillPending = false;
  #flushTimer: NodeJS.Timeout | undefined;
  #pruneTimer: NodeJS.Timeout | undefined;
  #pruning = false;
  #closing: Promise<void> | undefined;
  /** Set once close() has written or spilled the last record: later records go straight to the spill file. */
  #closed = false;
  readonly #counters: Omit<UsageWriterCounters, 'queued'> = {
    written: 0,
    duplicates: 0,
    failedFlushes: 0,
    spilled: 0,
    imported: 0,
    malformedSpillLines: 0,
    pruned: 0,
  };

  constructor(options: UsageWriterOptions) {
    this.#db = options.db;
    this.#spillPath = options.spillPath;
    this.#flushIntervalMs = options.flushIntervalMs ?? 1000;
    this.#batchSize = Math.max(1, options.batchSize ?? 500);
    this.#maxQueued = options.maxQueued ?? 100_000;
    this.#retryInitialMs = options.retryInitialMs ?? 500;
    this.#retryMaxMs = options.retryMaxMs ?? 30_000;
    this.#retentionMs = options.retentionMs;
    this.#pruneIntervalMs = options.pruneIntervalMs ?? 3_600_000;
    this.#onError = options.onError ?? (() => {});
  }

  /**
   * Starts the flush (and prune) timers and imports the spill file an earlier run left, if any. If the
   * import fails (the promise rejects), the timers still run, the file stays, and a later flush retries it.
   */
  async start(): Promise<SpillImportResult> {
    if (this.#closing) throw new Error('UsageWriter is closed');
    if (!this.#flushTimer) {
      // unref: a forgotten writer must not keep the process alive; shutdown calls close().
      this.#flushTimer = setInterval(() => this.#tick(), this.#flushIntervalMs).unref();
      if (this.#retentionMs !== undefined) {
        this.#pruneTimer = setInterval(() => this.#backgroundPrune(), this.#pruneIntervalMs).unref();
      }
    }
    this.#spillPending = true;
    return this.#serialized(() => this.#importSpill());
  }

  /**
   * Queues a record for the next batch. Synchronous, no I/O, never throws: safe on the request path.
   * (After close() has finished, a late record is appended to the spill file synchronously instead.)
   */
  enqueue(record: UsageRecord): void {
    try {
      // A copy: the caller may reuse its object.
      const copy = { ...record };
      if (this.#closed) {
        this.#enqueueAfterClose(copy);
        return;
      }
      this.#queue.push(copy);
      if (
        this.#queue.length >= this.#batchSize &&
        !this.#flushScheduled &&
        this.#pendingFlushes === 0 &&
        Date.now() >= this.#retryAt
      ) {
        this.#flushScheduled = true;
        // Off this call stack: the caller is answering a request.
        setImmediate(() => {
          this.#flushScheduled = false;
          this.#tick();
        });
      }
    } catch {
      // Nothing to do that could not itself throw; the contract is to never disturb the request.
    }
  }

  /** Writes everything queued (including records enqueued while it runs). Rejects if the database fails. */
  flush(): Promise<void> {
    return this.#serialized(() => this.#drain());
  }

  /**
   * Stops the timers and writes what is left; if the database is unreachable, appends it to the spill file
   * instead. Rejects only if the spill file cannot be written either (the records then stay in memory).
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  /** Deletes raw rows older than the retention (or the given cutoff, ms epoch). */
  async prune(olderThanMs?: number): Promise<number> {
    const cutoff = olderThanMs ?? (this.#retentionMs === undefined ? undefined : Date.now() - this.#retentionMs);
    if (cutoff === undefined) return 0;
    const deleted = await pruneUsage(this.#db, cutoff);
    this.#counters.pruned += deleted;
    return deleted;
  }

  get counters(): UsageWriterCounters {
    return { queued: this.#queue.length, ...this.#counters };
  }

  async #close(): Promise<void> {
    clearInterval(this.#flushTimer);
    clearInterval(this.#pruneTimer);
    // Loops because requests still finishing may enqueue while the last batch is written; the check and
    // the flag below run in one synchronous step, so no record can slip between them.
    for (;;) {
      try {
        await this.flush();
      } catch {
        await this.#serialized(() => this.#spillQueue());
      }
      if (this.#queue.length === 0) break;
    }
    this.#closed = true;
  }

  #tick(): void {
    if (this.#pendingFlushes > 0 || Date.now() < this.#retryAt) return;
    if (this.#queue.length === 0 && !this.#spillPending) return;
    this.flush().catch((err: unknown) => this.#onError(err, 'flush'));
  }

  #serialized<T>(task: () => Promise<T>): Promise<T> {
    this.#pendingFlushes++;
    const run = this.#chain.then(task).finally(() => {
      this.#pendingFlushes--;
    });
    this.#chain = run.catch(() => {});
    return run;
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0) {
      const batch = this.#queue.slice(0, this.#batchSize);
      try {
        const result = await writeUsageBatch(this.#db, batch);
        this.#counters.written += result.inserted;
        this.#counters.duplicates += result.duplicates;
      } catch (err) {
        this.#counters.failedFlushes++;
        this.#backOff();
        await this.#spillIfTooMany();
        throw err;
      }
      this.#queue.splice(0, batch.length);
    }
    this.#consecutiveFailures = 0;
    this.#retryAt = 0;
    if (this.#spillPending) {
      try {
        await this.#importSpill();
      } catch (err) {
        // The records are safe in the file; a later flush tries again.
        this.#backOff();
        this.#onError(err, 'import');
      }
    }
  }

  #backOff(): void {
    this.#consecutiveFailures++;
    const delay = Math.min(this.#retryInitialMs * 2 ** (this.#consecutiveFailures - 1), this.#retryMaxMs);
    this.#retryAt = Date.now() + delay;
  }

  async #spillIfTooMany(): Promise<void> {
    if (this.#queue.length > this.#maxQueued) {
      try {
        await this.#spillQueue();
      } catch (err) {
        // Still in memory: nothing lost yet.
        this.#onError(err, 'spill');
      }
    }
  }

  /** Moves the whole queue to the spill file; runs inside the chain, so no flush is reading the queue. */
  async #spillQueue(): Promise<void> {
    const count = this.#queue.length;
    if (count === 0) return;
    await appendSpill(this.#spillPath, this.#queue.slice(0, count));
    this.#queue.splice(0, count);
    this.#counters.spilled += count;
    this.#spillPending = true;
  }

  async #importSpill(): Promise<SpillImportResult> {
    const result = await importSpill(this.#db, this.#spillPath, this.#batchSize);
    this.#spillPending = false;
    this.#counters.imported += result.imported;
    this.#counters.duplicates += result.duplicates;
    this.#counters.malformedSpillLines += result.malformed;
    return result;
  }

  /** A request that finished after shutdown began: straight to the spill file, since no flush will run. */
  #enqueueAfterClose(record: UsageRecord): void {
    try {
      appendSpillSync(this.#spillPath, [record]);
      this.#counters.spilled++;
    } catch (err) {
      this.#queue.push(record);
      this.#onError(err, 'spill');
    }
  }

  #backgroundPrune(): void {
    if (this.#pruning) return;
    this.#pruning = true;
    this.prune()
      .catch((err: unknown) => this.#onError(err, 'prune'))
      .finally(() => {
        this.#pruning = false;
      });
  }
}
