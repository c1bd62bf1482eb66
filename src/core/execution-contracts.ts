/**
 * The seams between the parts of asynchronous executions (issue 19), fixed before they were built in
 * parallel: the execution worker (src/executions/), the per-kind runners (text through the pipeline; media
 * adapters in src/providers/media/), the tenant's file store (src/files/) and webhook delivery
 * (src/webhooks/). Each part depends on these interfaces, not on another part's classes.
 */

import type { GatewayError } from './errors.ts';

/** What an execution runs: the kind of the model its slug names. */
export type ExecutionKind = 'text' | 'image' | 'speech' | 'transcription' | 'video';

/** A stored file as clients see it (`file_<uuid>`). */
export interface FileMeta {
  id: string;
  tenantId: string;
  bytes: number;
  contentType: string;
  purpose: string;
  filename: string | null;
  createdAt: number;
  expiresAt: number | null;
}

/** The file store as the execution worker and the runners use it: always scoped to one tenant. */
export interface ExecutionFiles {
  /** Stores bytes a provider produced (image, audio, video) as a new file of the tenant. */
  put(
    tenantId: string,
    file: { bytes: Uint8Array; contentType: string; purpose: string; filename?: string },
  ): Promise<FileMeta>;
  /** Reads a tenant's file for a provider call; undefined when it does not exist or is another tenant's. */
  read(tenantId: string, id: string): Promise<{ meta: FileMeta; bytes: Uint8Array } | undefined>;
  /** The first `bytes` bytes of a tenant's file (a header), without reading the rest; undefined as `read`. */
  peek?(tenantId: string, id: string, bytes: number): Promise<{ meta: FileMeta; head: Uint8Array } | undefined>;
}

/** A model the execution API can run, as the runner registry describes it. */
export interface ExecutionModel {
  /** The slug as resolved: a catalog model id (`provider/model`). */
  id: string;
  kind: ExecutionKind;
}

/** Usage of one execution; only the fields that apply to the kind are set. */
export interface ExecutionUsage {
  inputTokens?: number;
  outputTokens?: number;
  images?: number;
  seconds?: number;
  characters?: number;
}

export interface RunContext {
  executionId: string;
  tenantId: string;
  /**
   * Aborted on cancel, on the execution's deadline and on shutdown; on shutdown its reason is `'shutdown'` and the
   * execution runs again later. A runner leaves an upstream job recorded in `upstreamJob` running on any abort: the
   * next run resumes it, or the execution's terminal write cancels it through `abandon` (decision 0042).
   */
  signal: AbortSignal;
  files: ExecutionFiles;
  /** 1 for the first run of this execution, then 2, 3… across retries and restarts. */
  attempt: number;
  /**
   * The durable record of this execution's long-running upstream job (decision 0038), bound to the run's lease.
   * Absent (unit tests, no store): runners keep the job in memory only.
   */
  upstreamJob?: UpstreamJobStore | undefined;
}

/**
 * A long-running job a provider accepted for an execution (an OpenAI video, a Replicate prediction): enough to poll
 * it again from any process. Never a URL or a secret: `key` is the provider key's id.
 */
export interface UpstreamJob {
  provider: string;
  /** The catalog model id it runs. */
  model: string;
  /** The provider key's id (the job is polled with the key that created it). */
  key: string;
  /** The provider's job id. */
  id: string;
  createdAt: number;
}

/** Where a run records its upstream job: on the execution's row, conditional on the run still holding it. */
export interface UpstreamJobStore {
  /** The job recorded by an earlier run of this execution (a crash, a retry), if any. */
  load(): Promise<UpstreamJob | undefined>;
  /** Records the job (committed when it resolves); throws when the run no longer holds the execution. */
  save(job: UpstreamJob): Promise<void>;
  /** Forgets the job (it failed, is gone or was abandoned): the next run creates a new one. Best effort. */
  clear(): Promise<void>;
}

/** A successful run. Media outputs are stored by the runner through `ctx.files` and named here by id only. */
export interface RunResult {
  output: { text?: string; files?: string[]; data?: Record<string, unknown> };
  usage: ExecutionUsage;
  /** Market cost of this run in integer nano-dollars. */
  costNanoUsd: number;
  /** The provider/model that served it (never a provider URL or key). */
  servedBy: string;
}

/**
 * Runs one execution of one kind. A failure is thrown as a GatewayError with one of the 12 codes; the worker
 * retries the retryable ones with backoff until the execution's deadline.
 */
export interface ExecutionRunner {
  kinds: readonly ExecutionKind[];
  /** Validates `input` for this kind; throws GatewayError('invalid_request') with `param` naming the field. */
  validate(model: ExecutionModel, input: unknown): void;
  /** The most this input can cost, in nano-dollars: the amount held on the balance at submission. */
  estimateNanoUsd(model: ExecutionModel, input: unknown): number;
  run(model: ExecutionModel, input: unknown, ctx: RunContext): Promise<RunResult>;
  /**
   * Stops an upstream job an execution recorded (decision 0038) when the execution ended without a run to stop it
   * (cancelled while queued, out of time or attempts before its next run, failed after a run that left it):
   * the provider's cancel or delete, with the key the job names (decision 0042). Resolves once the provider
   * accepted it (or the job is already gone); throws a GatewayError when it refused or could not be reached.
   * Runners without upstream jobs leave it out.
   */
  abandon?(job: UpstreamJob, ctx: { executionId: string; tenantId: string }): Promise<void>;
}

/** One webhook message to deliver (Standard Webhooks); enqueued in the same transaction as the state change. */
export interface WebhookMessage {
  tenantId: string;
  url: string;
  /** Stable across redeliveries: becomes the `webhook-id` header. */
  messageId: string;
  /** e.g. `execution.completed`, `execution.failed`, `execution.cancelled`. */
  type: string;
  data: Record<string, unknown>;
}

export interface WebhookEnqueue {
  /** `trx` is the Kysely transaction of the state change, so the message exists iff the state change does. */
  enqueue(trx: unknown, message: WebhookMessage): Promise<void>;
}

export type ExecutionError = Pick<GatewayError, 'code' | 'message' | 'retryable'>;
