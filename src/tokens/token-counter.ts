import { Worker } from 'node:worker_threads';

/**
 * Exact token counts off the event loop, within a time budget. Counting a megabyte costs tens to hundreds of
 * milliseconds even in linear time (token-pieces.ts), which on the event loop would stall every other request;
 * so a worker thread, started on the first count, owns the tokenizer and counts jobs in turn. Each job has a
 * deadline (`limits.tokenCountBudgetMs` after it was asked for, or after the worker became ready if it was
 * still starting: loading the tokenizer is a one-off cost, ~0.2 s, not the caller's): past it, whether the job
 * waited behind others or ran long, the caller gets `undefined` and uses its fallback (tokens.ts: a bound or an
 * estimate). A worker that dies (out of memory, a bug) answers its pending jobs with `undefined` and is started
 * again on a later count, after a pause. The worker never keeps the process alive (a pending job's timer does,
 * until its deadline), and `close()` ends it.
 */

/** A job for the worker: the texts to count (their total is returned) and when to give up (Date.now() ms). */
export interface CountJob {
  id: number;
  texts: readonly string[];
  deadline: number;
}

/** What the worker posts: once `ready` when the tokenizer is loaded, then a reply per job. */
export type WorkerMessage = { ready: true } | CountReply;

export interface CountReply {
  id: number;
  /** null when the deadline passed first. */
  tokens: number | null;
}

export interface TokenCounterOptions {
  /** How long a count may take, queueing included, before its caller falls back. */
  budgetMs: number;
  /** Told when the worker fails (its pending counts fall back). */
  onWorkerError?: (err: unknown) => void;
}

/** After the worker died, counts fall back for this long before a new one is started. */
const RESTART_PAUSE_MS = 1_000;
/** A worker not ready by then is given up (its counts fall back); loading the tokenizer takes ~0.2-2 s. */
const STARTUP_TIMEOUT_MS = 15_000;
/**
 * The worker's heap: the tokenizer (~70 MB), its merge cache and the job being counted. A job beyond it ends
 * the worker (its counts fall back), not the process.
 */
const WORKER_HEAP_MB = 512;

/** The worker module beside this one: TypeScript when run from the sources, JavaScript when compiled. */
const WORKER_URL = new URL(
  import.meta.url.endsWith('.ts') ? './token-count-worker.ts' : './token-count-worker.js',
  import.meta.url,
);

interface Running {
  worker: Worker;
  /** Settles true once the tokenizer is loaded, false if the worker died or timed out first. */
  ready: Promise<boolean>;
}

export class TokenCounter {
  private readonly options: TokenCounterOptions;
  private running: Running | undefined;
  private readonly pending = new Map<number, (tokens: number | undefined) => void>();
  private nextId = 0;
  private closed = false;
  private restartAt = 0;

  constructor(options: TokenCounterOptions) {
    this.options = options;
  }

  /** The exact total of the texts' tokens, or undefined when it could not be had within the budget. */
  async count(texts: readonly string[]): Promise<number | undefined> {
    if (texts.every((text) => text === '')) return 0;
    const running = this.start();
    if (!running || !(await running.ready) || this.running !== running) return undefined;
    const id = ++this.nextId;
    const { budgetMs } = this.options;
    return new Promise((resolve) => {
      const settle = (tokens: number | undefined) => {
        clearTimeout(timer);
        this.pending.delete(id);
        resolve(tokens);
      };
      const timer = setTimeout(settle, budgetMs, undefined);
      this.pending.set(id, settle);
      const job: CountJob = { id, texts, deadline: Date.now() + budgetMs };
      running.worker.postMessage(job);
    });
  }

  /** Ends the worker; counts asked for afterwards fall back at once. */
  async close(): Promise<void> {
    this.closed = true;
    const running = this.running;
    this.running = undefined;
    this.settleAll();
    await running?.worker.terminate();
  }

  private start(): Running | undefined {
    if (this.running || this.closed || Date.now() < this.restartAt) return this.running;
    const worker = new Worker(WORKER_URL, {
      name: 'modro-token-counter',
      // Not the process's Node options (`--input-type`, `--test`...): they may not apply to a worker.
      execArgv: [],
      resourceLimits: { maxOldGenerationSizeMb: WORKER_HEAP_MB },
    });
    let markReady: (ok: boolean) => void = () => {};
    const ready = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        void worker.terminate();
        resolve(false);
      }, STARTUP_TIMEOUT_MS);
      markReady = (ok) => {
        clearTimeout(timer);
        resolve(ok);
      };
    });
    worker.on('message', (message: WorkerMessage) => {
      if ('ready' in message) markReady(true);
      else this.pending.get(message.id)?.(message.tokens ?? undefined);
    });
    worker.on('error', (err) => this.options.onWorkerError?.(err));
    worker.on('exit', () => {
      markReady(false);
      if (this.running?.worker !== worker) return;
      this.running = undefined;
      this.restartAt = Date.now() + RESTART_PAUSE_MS;
      this.settleAll();
    });
    // After the listeners: a 'message' listener refs the worker again.
    worker.unref();
    this.running = { worker, ready };
    return this.running;
  }

  private settleAll(): void {
    for (const settle of [...this.pending.values()]) settle(undefined);
  }
}
