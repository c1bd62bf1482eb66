import { join } from 'node:path';
import type { Kysely } from 'kysely';
import type { Database } from './schema.ts';
import type { UsageRecord } from './usage.ts';
import { normalizeUsageRecord, writeUsageBatch } from './usage.ts';
import { type JournalSegment, MALFORMED_FILE, UsageJournal } from './usage-journal.ts';
import { importLeftover, type JournalImportResult } from './usage-journal-import.ts';
import { pruneUsage } from './usage-prune.ts';

export interface UsageWriterOptions {
  db: Kysely<Database>;
  /** The data folder, where the journal's segments live (see usage-journal.ts). */
  journalDir: string;
  /** How often the journal is synced to disk: what a power loss can cost. Default 1000. */
  journalSyncMs?: number;
  /** Awaited before a journal segment is deleted: resolves once the database's commits are on disk. */
  syncDatabase?: () => Promise<void>;
  /** Default 1000 */
  flushIntervalMs?: number;
  /** Records per transaction; reaching it also triggers a flush. Default 500. */
  batchSize?: number;
  /**
   * While flushes fail, records beyond this many leave memory (the journal holds them) and are read back from
   * the journal once the database answers, so a long outage cannot exhaust memory. Default 100,000.
   */
  maxQueued?: number;
  /** First retry delay after a failed flush, doubling up to retryMaxMs. Defaults 500 and 30,000. */
  retryInitialMs?: number;
  retryMaxMs?: number;
  /** Raw rows older than this are pruned periodically (rollups are kept). Off when absent. */
  retentionMs?: number;
  /** Default one hour. */
  pruneIntervalMs?: number;
  /**
   * Background failures (the timer's flushes, journal appends once per burst, imports, pruning); the writer
   * itself keeps going.
   */
  onError?: (err: unknown, during: 'flush' | 'journal' | 'import' | 'prune') => void;
  /** The number of records of every failed journal append (for a metric). */
  onJournalFailure?: (records: number) => void;
}

export interface UsageWriterCounters {
  /** Records waiting in memory. */
  queued: number;
  /** Records stored (not counting duplicates). */
  written: number;
  /** Records skipped because their requestId was already stored. */
  duplicates: number;
  failedFlushes: number;
  /** Records whose journal append failed (they stayed in memory until written). */
  journalFailures: number;
  /** Records that left memory during a long outage (only the journal held them until read back). */
  offloaded: number;
  /** Records brought back from the journal (left by an earlier run, or offloaded). */
  imported: number;
  /** Journal lines that could not be read back (set aside in `usage-journal.malformed`). */
  malformedLines: number;
  /** Records left in the journal at close because the database was unreachable (the next start imports them). */
  leftInJournal: number;
  /** Raw rows deleted by retention. */
  pruned: number;
}

interface Queued {
  record: UsageRecord;
  segment: JournalSegment;
  /** Its journal append has finished: the journal holds it. */
  journaled: boolean;
}

const WRITTEN = Promise.resolve();

/**
 * Usage records leave the request path through `enqueue`: appended to the journal (usage-journal.ts) and
 * queued in memory, with no synchronous I/O; the returned promise resolves once the journal holds the record,
 * and the route awaits it before its response's last byte. The queue reaches the database in batches: every
 * `flushIntervalMs`, or as soon as `batchSize` are waiting; each stored record is released from its journal
 * segment, and segments whose records are all stored are deleted. Writes are idempotent by requestId, so
 * retries and re-imports never count twice.
 *
 * One story for records not yet in the database, whatever happens:
 * - a crash or `kill -9`: the journal holds them; the next `start()` imports the segments left behind;
 * - the database fails: the batch stays at the head of the queue and is retried with exponential backoff;
 *   past `maxQueued` records, those the journal holds leave memory and are read back from their segments
 *   once the database answers;
 * - a graceful shutdown: `close()` writes what is left; if the database is gone, the records stay in the
 *   journal (those whose append had failed are written to it synchronously) for the next start;
 * - a failed journal append: the record is still queued and written, only a crash before then loses it.
 * Earlier versions' spill file (`usage-spill.jsonl`) is imported at start like a leftover segment.
 *
 * Flushes run one at a time (a promise chain), which keeps a single writer's batches in order and lets
 * SQLite's synchronous calls stay short.
 */
export class UsageWriter {
  readonly #db: Kysely<Database>;
  readonly #journal: UsageJournal;
  readonly #malformedPath: string;
  readonly #flushIntervalMs: number;
  readonly #batchSize: number;
  readonly #maxQueued: number;
  readonly #retryInitialMs: number;
  readonly #retryMaxMs: number;
  readonly #retentionMs: number | undefined;
  readonly #pruneIntervalMs: number;
  readonly #onError: NonNullable<UsageWriterOptions['onError']>;
  readonly #onJournalFailure: NonNullable<UsageWriterOptions['onJournalFailure']>;

  /** Only ever appended to by enqueue; only the head is removed, by the (single) running flush. */
  readonly #queue: Queued[] = [];
  #chain: Promise<unknown> = Promise.resolve();
  #pendingFlushes = 0;
  #flushScheduled = false;
  #consecutiveFailures = 0;
  #retryAt = 0;
  /** Files an earlier run left, still to import. */
  #leftovers: string[] = [];
  /** Records offloaded to the journal, still to read back once the database answers. */
  #readBackPending = false;
  #flushTimer: NodeJS.Timeout | undefined;
  #pruneTimer: NodeJS.Timeout | undefined;
  #pruning = false;
  #closing: Promise<void> | undefined;
  /** Set once close() has written the last queued record or left it in the journal: later records go straight to the journal, synchronously. */
  #closed = false;
  readonly #counters: Omit<UsageWriterCounters, 'queued'> = {
    written: 0,
    duplicates: 0,
    failedFlushes: 0,
    journalFailures: 0,
    offloaded: 0,
    imported: 0,
    malformedLines: 0,
    leftInJournal: 0,
    pruned: 0,
  };

  constructor(options: UsageWriterOptions) {
    this.#db = options.db;
    this.#flushIntervalMs = options.flushIntervalMs ?? 1000;
    this.#batchSize = Math.max(1, options.batchSize ?? 500);
    this.#maxQueued = options.maxQueued ?? 100_000;
    this.#retryInitialMs = options.retryInitialMs ?? 500;
    this.#retryMaxMs = options.retryMaxMs ?? 30_000;
    this.#retentionMs = options.retentionMs;
    this.#pruneIntervalMs = options.pruneIntervalMs ?? 3_600_000;
    this.#onError = options.onError ?? (() => {});
    this.#onJournalFailure = options.onJournalFailure ?? (() => {});
    this.#malformedPath = join(options.journalDir, MALFORMED_FILE);
    this.#journal = new UsageJournal({
      dir: options.journalDir,
      syncIntervalMs: options.journalSyncMs ?? 1000,
      ...(options.syncDatabase ? { syncDatabase: options.syncDatabase } : {}),
      onError: (err) => this.#onError(err, 'journal'),
      onAppendFailure: (records) => this.#countJournalFailure(records),
    });
  }

  /**
   * Starts the flush (and prune) timers and the journal, and imports what an earlier run left in the data
   * folder. If the import fails (the promise rejects), the timers still run, the files stay, and a later
   * flush retries them.
   */
  async start(): Promise<JournalImportResult> {
    if (this.#closing) throw new Error('UsageWriter is closed');
    if (!this.#flushTimer) {
      // unref: a forgotten writer must not keep the process alive; shutdown calls close().
      this.#flushTimer = setInterval(() => this.#tick(), this.#flushIntervalMs).unref();
      if (this.#retentionMs !== undefined) {
        this.#pruneTimer = setInterval(() => this.#backgroundPrune(), this.#pruneIntervalMs).unref();
      }
    }
    this.#leftovers = await this.#journal.open();
    return this.#serialized(() => this.#recover());
  }

  /**
   * Appends a record to the journal and queues it for the next batch. No synchronous I/O, never throws, and
   * the promise never rejects: it resolves once the journal holds the record (or its append failed, which is
   * reported and counted; the record is still queued). After close() has finished, a late record is written
   * to the journal synchronously instead.
   */
  enqueue(record: UsageRecord): Promise<void> {
    try {
      // A copy (the caller may reuse its object), normalized before it reaches the disk: strings from clients
      // (the requested model) are bounded, so a journal line stays small whatever the request was.
      const copy = normalizeUsageRecord(record);
      if (this.#closed) {
        this.#appendAfterClose(copy);
        return WRITTEN;
      }
      const { segment, written } = this.#journal.append(copy);
      const queued: Queued = { record: copy, segment, journaled: false };
      this.#queue.push(queued);
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
      return written.then((ok) => {
        queued.journaled = ok;
      });
    } catch {
      // Nothing to do that could not itself throw; the contract is to never disturb the request.
      return WRITTEN;
    }
  }

  /** Writes everything queued (including records enqueued while it runs). Rejects if the database fails. */
  flush(): Promise<void> {
    return this.#serialized(() => this.#drain());
  }

  /**
   * Stops the timers and writes what is left; if the database is unreachable, leaves it in the journal for
   * the next start. Rejects only if records that never reached the journal cannot be written to it either
   * (they then stay in memory).
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
    let unreachable = false;
    for (;;) {
      try {
        await this.flush();
      } catch {
        unreachable = true;
      }
      if (unreachable || this.#queue.length === 0) break;
    }
    this.#closed = true;
    // Waits for the appends in flight, and deletes the segments whose records are all stored.
    await this.#journal.close();
    if (this.#queue.length === 0) return;
    this.#journal.appendSync(this.#queue.filter((queued) => !queued.journaled).map((queued) => queued.record));
    this.#counters.leftInJournal += this.#queue.length + this.#journal.offloaded;
    this.#queue.length = 0;
  }

  #tick(): void {
    if (this.#pendingFlushes > 0 || Date.now() < this.#retryAt) return;
    if (this.#queue.length === 0 && this.#leftovers.length === 0 && !this.#readBackPending) return;
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
        const result = await writeUsageBatch(
          this.#db,
          batch.map((queued) => queued.record),
        );
        this.#counters.written += result.inserted;
        this.#counters.duplicates += result.duplicates;
      } catch (err) {
        this.#counters.failedFlushes++;
        this.#backOff();
        this.#offloadIfTooMany();
        throw err;
      }
      this.#queue.splice(0, batch.length);
      for (const queued of batch) this.#journal.release(queued.segment);
    }
    this.#consecutiveFailures = 0;
    this.#retryAt = 0;
    if (this.#leftovers.length > 0 || this.#readBackPending) {
      try {
        await this.#recover();
      } catch (err) {
        // The records are safe in their files; a later flush tries again.
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

  /**
   * During a long outage, the records the journal holds leave memory (read back by #recover once the
   * database answers); those whose append is in flight or failed stay. Runs inside the chain.
   */
  #offloadIfTooMany(): void {
    if (this.#queue.length <= this.#maxQueued) return;
    // Offloaded records are then all in sealed segments, which readBack can read whole.
    this.#journal.seal();
    const kept: Queued[] = [];
    for (const queued of this.#queue) {
      if (queued.journaled) this.#journal.offload(queued.segment);
      else kept.push(queued);
    }
    const offloaded = this.#queue.length - kept.length;
    if (offloaded === 0) return;
    this.#queue.length = 0;
    for (const queued of kept) this.#queue.push(queued);
    this.#counters.offloaded += offloaded;
    this.#readBackPending = true;
  }

  /** Imports the files an earlier run left, then reads back offloaded records. Runs inside the chain. */
  async #recover(): Promise<JournalImportResult> {
    const total: JournalImportResult = { imported: 0, duplicates: 0, malformed: 0 };
    const add = (result: JournalImportResult) => {
      total.imported += result.imported;
      total.duplicates += result.duplicates;
      total.malformed += result.malformed;
      this.#counters.imported += result.imported;
      this.#counters.duplicates += result.duplicates;
      this.#counters.malformedLines += result.malformed;
    };
    while (this.#leftovers.length > 0) {
      add(await importLeftover(this.#db, this.#leftovers[0]!, this.#batchSize, this.#malformedPath));
      this.#leftovers.shift();
    }
    if (this.#readBackPending) {
      add(await this.#journal.readBack(this.#db, this.#batchSize));
      this.#readBackPending = false;
    }
    return total;
  }

  /** A request that finished after close: straight to the journal, since no flush will run. */
  #appendAfterClose(record: UsageRecord): void {
    try {
      this.#journal.appendSync([record]);
      this.#counters.leftInJournal++;
    } catch (err) {
      this.#countJournalFailure(1);
      this.#onError(err, 'journal');
    }
  }

  #countJournalFailure(records: number): void {
    this.#counters.journalFailures += records;
    this.#onJournalFailure(records);
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
