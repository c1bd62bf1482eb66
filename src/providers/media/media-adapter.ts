import type { MediaMeter } from '../../billing/media-cost.ts';
import type { RunContext } from '../../core/execution-contracts.ts';
import type { UpstreamPool } from '../http.ts';
import type { UpstreamTarget } from '../types.ts';
import type { MediaInput, MediaKind } from './media-input.ts';

/**
 * One media wire format (OpenAI images, audio and videos; Imagen; Replicate; the demo provider): it checks what
 * its API cannot take, says the most a run can consume, and runs one execution, returning the bytes it produced
 * (never a provider URL) and what it consumed. Storing the bytes and pricing the meter is the runner's
 * (runner.ts), so every adapter stores and prices the same way.
 */
export interface MediaAdapter {
  /** What this provider's API cannot take from a valid input (throws invalid_request naming the field). */
  check?(input: MediaInput, target: Pick<UpstreamTarget, 'model'>): void;
  /** The most this input can consume (the hold); default: the kind's own worst case (runner.ts). */
  worstMeter?(input: MediaInput, target: Pick<UpstreamTarget, 'model'>): MediaMeter;
  run(input: MediaInput, call: MediaCall): Promise<MediaOutcome>;
}

/** Settings shared by the media runners (mediaRunners' deps, with defaults). */
export interface MediaSettings {
  /** Most bytes of one produced file (decoded base64 or fetched URL). */
  maxOutputBytes: number;
  /** A fetched output URL must be complete within this time. */
  outputFetchMs: number;
  /** Between two polls of a long-running job. */
  pollIntervalMs: number;
  /** Replicate: `Prefer: wait=N` seconds on creation. */
  replicateWaitSeconds: number;
}

export interface MediaCall {
  target: UpstreamTarget;
  kind: MediaKind;
  ctx: RunContext;
  pool: UpstreamPool;
  settings: MediaSettings;
  /** Upstream jobs of executions still running in this process (long-running APIs), to resume on a retry. */
  jobs: JobMemory;
}

/**
 * The upstream job id of each execution with a long-running job in flight in this process (a Sora video, a
 * Replicate prediction), kept while the job may still finish: a retried attempt after a transient polling failure
 * polls the same job instead of starting (and paying for) a new one. In memory only, bounded; a restart forgets.
 */
export class JobMemory {
  readonly #jobs = new Map<string, string>();
  readonly #max: number;
  constructor(max = 10_000) {
    this.#max = max;
  }
  get(executionId: string, model: string): string | undefined {
    return this.#jobs.get(`${executionId}\n${model}`);
  }
  set(executionId: string, model: string, jobId: string): void {
    if (this.#jobs.size >= this.#max) this.#jobs.delete(this.#jobs.keys().next().value!);
    this.#jobs.set(`${executionId}\n${model}`, jobId);
  }
  delete(executionId: string, model: string): void {
    this.#jobs.delete(`${executionId}\n${model}`);
  }
  get size(): number {
    return this.#jobs.size;
  }
}

/** One produced file, before it is stored. */
export interface ProducedFile {
  bytes: Uint8Array;
  contentType: string;
}

export interface MediaOutcome {
  files: ProducedFile[];
  meter: MediaMeter;
  /** Transcription: the text. */
  text?: string;
  /** Extra, provider-neutral facts for `output.data` (revised prompt, language, duration). Never a URL. */
  data?: Record<string, unknown>;
}
