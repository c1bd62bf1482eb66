import { Worker } from 'node:worker_threads';
import { type Kysely, sql } from 'kysely';
import type { Database } from './schema.ts';
import type { CheckpointMessage, CheckpointWorkerData } from './sqlite-checkpoint-worker.ts';

/**
 * Runs SQLite's WAL checkpoints in a worker thread (sqlite-checkpoint-worker.ts) instead of inside the event
 * loop's commits: the gateway's connection gets `wal_autocheckpoint = 0` once the worker is ready, and gets
 * SQLite's default (1,000 pages) back if the worker fails, so the WAL is always checkpointed by someone.
 * Why: docs/decisions/0041-sqlite-checkpoints-off-the-event-loop.md.
 */
export interface CheckpointerOptions {
  /** How often the worker runs a passive checkpoint. */
  intervalMs?: number;
  /** WAL size, in pages, at which the worker runs a RESTART checkpoint (the WAL then starts over). */
  restartPages?: number;
  /** Each checkpoint that moved frames (tests, metrics). */
  onCheckpoint?: (c: Extract<CheckpointMessage, { kind: 'checkpoint' }>) => void;
  /** The worker failed; the event loop's connection checkpoints again. */
  onError?: (err: Error) => void;
}

const WORKER_URL = new URL(
  import.meta.url.endsWith('.ts') ? './sqlite-checkpoint-worker.ts' : './sqlite-checkpoint-worker.js',
  import.meta.url,
);
/** SQLite's own default: what the connection goes back to without the worker. */
const DEFAULT_AUTOCHECKPOINT = 1000;

export class SqliteCheckpointer {
  readonly #worker: Worker;
  readonly #db: Kysely<Database>;
  readonly #onError: ((err: Error) => void) | undefined;
  #stopped = false;
  #failed = false;

  private constructor(worker: Worker, db: Kysely<Database>, options: CheckpointerOptions) {
    this.#worker = worker;
    this.#db = db;
    this.#onError = options.onError;
    worker.on('message', (m: CheckpointMessage) => {
      if (m.kind === 'checkpoint') options.onCheckpoint?.(m);
      else if (m.kind === 'error') void this.#fail(new Error(`SQLite checkpoint failed: ${m.message}`));
    });
    worker.on('error', (err) => void this.#fail(err));
    worker.on('exit', (code) => {
      if (!this.#stopped) void this.#fail(new Error(`SQLite checkpoint worker exited (code ${code})`));
    });
  }

  /** Starts the worker over the database file at `path` and, once it runs, turns the connection's own off. */
  static async start(
    path: string,
    db: Kysely<Database>,
    options: CheckpointerOptions = {},
  ): Promise<SqliteCheckpointer> {
    const workerData: CheckpointWorkerData = {
      path,
      intervalMs: options.intervalMs ?? 100,
      restartPages: options.restartPages ?? 16_384,
      busyTimeoutMs: 5_000,
    };
    const worker = new Worker(WORKER_URL, { workerData, resourceLimits: { maxOldGenerationSizeMb: 16 } });
    await new Promise<void>((resolve, reject) => {
      const onMessage = (m: CheckpointMessage) => {
        if (m.kind !== 'ready') return;
        worker.off('error', reject);
        resolve();
      };
      worker.once('message', onMessage);
      worker.once('error', reject);
    });
    // Idle, the worker's timer must not keep the process alive.
    worker.unref();
    await sql`PRAGMA wal_autocheckpoint = 0`.execute(db);
    return new SqliteCheckpointer(worker, db, options);
  }

  /** Stops the worker; the connection checkpoints for itself again (and on its close, as the last one). */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#worker.postMessage('stop');
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => void this.#worker.terminate().then(() => resolve()), 2_000);
      this.#worker.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
    });
    if (!this.#failed)
      await sql`PRAGMA wal_autocheckpoint = ${sql.raw(String(DEFAULT_AUTOCHECKPOINT))}`.execute(this.#db);
  }

  /** Tests: ends the worker the way a crash would. */
  async crashWorkerForTest(): Promise<void> {
    await this.#worker.terminate();
  }

  async #fail(err: Error): Promise<void> {
    if (this.#failed || this.#stopped) return;
    this.#failed = true;
    this.#onError?.(err);
    await this.#worker.terminate().catch(() => undefined);
    await sql`PRAGMA wal_autocheckpoint = ${sql.raw(String(DEFAULT_AUTOCHECKPOINT))}`
      .execute(this.#db)
      .catch(() => undefined);
  }
}
