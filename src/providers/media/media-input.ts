import { z } from 'zod';
import { GatewayError } from '../../core/errors.ts';
import type { ExecutionKind } from '../../core/execution-contracts.ts';
import { validationError } from '../../core/validation.ts';

/**
 * The inputs of media executions, one schema per kind, validated once when the execution is submitted (and again,
 * cheaply, when it runs). A failure is `400 invalid_request` whose `param` names the field as the client sent it
 * under `input` (`input.prompt`). Unknown fields are refused, so a typo is not silently ignored.
 */

/** A file of the tenant, uploaded through POST /v1/files. */
const fileId = z.string().regex(/^file_[A-Za-z0-9-]{1,64}$/, 'must be a file id (file_…) from POST /v1/files');
/** `WIDTHxHEIGHT`, e.g. 1024x1024. */
const size = z.string().regex(/^[1-9][0-9]{1,4}x[1-9][0-9]{1,4}$/, 'must be WIDTHxHEIGHT, such as 1024x1024');
const text = (max: number) =>
  z.string().trim().min(1, 'must not be empty').max(max, `must be at most ${max} characters`);

export const imageInputSchema = z.strictObject({
  prompt: text(32_000),
  size: size.optional(),
  n: z.int().min(1).max(10).optional(),
  quality: z.enum(['low', 'medium', 'high', 'standard', 'hd', 'auto']).optional(),
  image: fileId.optional(),
});
export type ImageInput = z.infer<typeof imageInputSchema>;

export const speechInputSchema = z.strictObject({
  input: text(4_096),
  voice: z.string().min(1).max(64),
  format: z.enum(['mp3', 'opus', 'aac', 'flac', 'wav', 'pcm']).optional(),
});
export type SpeechInput = z.infer<typeof speechInputSchema>;

export const transcriptionInputSchema = z.strictObject({
  file: fileId,
  language: z
    .string()
    .regex(/^[a-z]{2,3}$/, 'must be an ISO-639-1 code such as en')
    .optional(),
});
export type TranscriptionInput = z.infer<typeof transcriptionInputSchema>;

export const videoInputSchema = z.strictObject({
  prompt: text(32_000),
  /** Seconds of video. */
  duration: z.int().min(1).max(60).optional(),
  size: size.optional(),
  image: fileId.optional(),
});
export type VideoInput = z.infer<typeof videoInputSchema>;

export type MediaKind = Exclude<ExecutionKind, 'text'>;
export type MediaInput =
  | { kind: 'image'; input: ImageInput }
  | { kind: 'speech'; input: SpeechInput }
  | { kind: 'transcription'; input: TranscriptionInput }
  | { kind: 'video'; input: VideoInput };

const schemas = {
  image: imageInputSchema,
  speech: speechInputSchema,
  transcription: transcriptionInputSchema,
  video: videoInputSchema,
} as const;

/** The input of a media execution as its kind wants it, or the invalid_request error naming the field. */
export function parseMediaInput(kind: MediaKind, input: unknown): MediaInput {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new GatewayError('invalid_request', `'input' must be an object for ${kind} models`, { param: 'input' });
  }
  const result = schemas[kind].safeParse(input);
  if (!result.success) {
    const error = validationError(result.error);
    const param = error.param ? `input.${error.param}` : 'input';
    const message = error.param ? error.message.replace(`'${error.param}'`, `'${param}'`) : error.message;
    throw new GatewayError('invalid_request', message, { param });
  }
  return { kind, input: result.data } as MediaInput;
}

/** An input the chosen provider cannot take (a field its API lacks, a value it refuses). */
export function unsupported(param: string, message: string): GatewayError {
  return new GatewayError('invalid_request', message, { param: `input.${param}` });
}
