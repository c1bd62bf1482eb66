import type { MediaMeter } from '../../billing/media-cost.ts';
import type { RunContext, UpstreamJob, UpstreamJobStore } from '../../core/execution-contracts.ts';
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
  check?(input: MediaInput, target: Pick<UpstreamTarget, 'model' | 'provider'>): void;
  /** The most this input can consume (the hold); default: the kind's own worst case (runner.ts). */
  worstMeter?(input: MediaInput, target: Pick<UpstreamTarget, 'model'>, facts?: WorstFacts): MediaMeter;
  run(input: MediaInput, call: MediaCall): Promise<MediaOutcome>;
  /**
   * Long-running adapters: cancels or deletes the upstream job `id` with `call.target.key` (the key that created
   * it), under its own short deadline. Resolves when the provider accepted it or the job is already gone (404);
   * throws a GatewayError otherwise. Used by a run that abandons its job and by the runner's `abandon` (an
   * execution that ended without a run, decision 0042), so both stop a job the same way.
   */
  cancelJob?(call: MediaCall, id: string): Promise<void>;
}

/** What the runner learned of the input's files at submission, to bound the hold closer than the kind's worst. */
export interface WorstFacts {
  /** Transcription: the most seconds the audio file can last (audio-duration.ts), already capped. */
  audioSeconds?: number | undefined;
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
  /** This execution's long-running upstream job (decision 0038): the one to resume, and where to record a new one. */
  job: JobHandle;
}

/**
 * A long-running adapter's view of its execution's upstream job. `resume` is the id of a job an earlier run of this
 * execution started with this provider, model and key (`target.key` is then the key that created it): poll it
 * rather than create another. `save` records a new job before its first poll (on the execution's row when the
 * worker gives a store; it throws when that fails, and the adapter then abandons the job); `clear` forgets a job
 * that failed, is gone or was abandoned. A run aborted while its job is recorded on the row leaves it there
 * (keptForNextRun): the next run resumes it, or the execution's terminal write takes it and cancels it once.
 */
export interface JobHandle {
  readonly resume: string | undefined;
  save(id: string): Promise<void>;
  clear(): Promise<void>;
}

/**
 * The runner's fallback store of upstream jobs when the run has no durable one (ctx.upstreamJob absent: unit tests,
 * callers without a database): in memory, per execution, bounded; a restart forgets.
 */
export class JobMemory {
  readonly #jobs = new Map<string, UpstreamJob>();
  readonly #max: number;
  constructor(max = 10_000) {
    this.#max = max;
  }
  /** The store of one execution's job, as the worker's durable one behaves. */
  storeFor(executionId: string): UpstreamJobStore {
    return {
      load: async () => this.#jobs.get(executionId),
      save: async (job) => {
        if (this.#jobs.size >= this.#max) this.#jobs.delete(this.#jobs.keys().next().value!);
        this.#jobs.set(executionId, job);
      },
      clear: async () => {
        this.#jobs.delete(executionId);
      },
    };
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
