import type { MediaMeter } from '../../billing/media-cost.ts';
import type { RunContext } from '../../executions/contracts.ts';
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

/** What a run's kind contributes to `output.data` and `usage`; media kinds name their unit. */
export type { MediaInput, MediaKind };
