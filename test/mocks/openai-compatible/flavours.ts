/**
 * How the OpenAI-compatible providers differ on the wire, as data. The synthesizer reads these knobs; the recorded
 * samples in test/fixtures/wire/ are what each knob was read from.
 */
import {
  AZURE_ERRORS,
  DEEPSEEK_ERRORS,
  type ErrorTable,
  GROQ_ERRORS,
  MISTRAL_ERRORS,
  OPENAI_ERRORS,
} from './errors.ts';

export type FlavourName = 'openai' | 'azure' | 'groq' | 'groq-legacy' | 'mistral' | 'deepseek';

export interface Flavour {
  name: FlavourName;
  /** Chat completion id from a per-mock sequence number. */
  completionId: (seq: number) => string;
  toolCallId: (seq: number) => string;
  /** `undefined` omits the field. */
  systemFingerprint: string | null | undefined;
  serviceTier: string | undefined;
  /**
   * OpenAI's own extra fields: `refusal: null` and `annotations: []` on messages, `refusal: null` on the first
   * delta, token details in usage, `obfuscation` on stream chunks (unless include_obfuscation is false).
   */
  openAIFields: boolean;
  /** Whether non-streaming choices carry `logprobs` (null when not asked). Mistral's bodies omit it. */
  choiceLogprobs: boolean;
  /**
   * Where a stream reports usage:
   * - `include-usage-chunk`: only with `stream_options.include_usage`, in an extra last chunk with `choices: []`.
   * - `finish-chunk`: always, on the chunk that carries `finish_reason`.
   * - `none`: not in the chunk's `usage` at all (see `xGroq`).
   */
  streamUsage: 'include-usage-chunk' | 'finish-chunk' | 'none';
  /** Chunks other than the usage chunk carry `usage: null` whenever the stream reports usage. */
  nullUsageOnChunks: boolean;
  /** Groq's `x_groq`: `{id}` on the first chunk, `{id, usage}` on the finish chunk, `x_groq` on bodies. */
  xGroq: boolean;
  /** Azure's content filter annotations, including a first chunk with empty id/model/object. */
  azureFilters: boolean;
  /** SSE comment sent before the first event (DeepSeek keeps connections alive this way). */
  keepAliveComment: boolean;
  /** Request parameters the provider rejects. */
  rejectParams: string[];
  rejectStatus: 400 | 422;
  errors: ErrorTable;
  /** The provider's usage object from exact counts. */
  usage: (u: { prompt: number; completion: number }) => Record<string, unknown>;
}

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
/** A deterministic pseudo-random string (same seq, same string), shaped like the provider's ids. */
export function pseudoRandom(seq: number, length: number, alphabet = ALNUM): string {
  let x = (seq + 1) * 2654435761;
  let out = '';
  for (let i = 0; i < length; i++) {
    x = (Math.imul(x ^ (x >>> 15), 2246822519) + i) >>> 0;
    out += alphabet[x % alphabet.length];
  }
  return out;
}
const HEX = '0123456789abcdef';
const uuid = (seq: number) => {
  const h = pseudoRandom(seq, 32, HEX);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20)}`;
};

const openAIUsage = (u: { prompt: number; completion: number }) => ({
  prompt_tokens: u.prompt,
  completion_tokens: u.completion,
  total_tokens: u.prompt + u.completion,
  prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
  completion_tokens_details: {
    reasoning_tokens: 0,
    audio_tokens: 0,
    accepted_prediction_tokens: 0,
    rejected_prediction_tokens: 0,
  },
});

/** Groq reports timings (seconds) next to the counts; fixed values keep bodies deterministic. */
const groqUsage = (u: { prompt: number; completion: number }) => ({
  queue_time: 0.01,
  prompt_tokens: u.prompt,
  prompt_time: 0.001,
  completion_tokens: u.completion,
  completion_time: 0.002,
  total_tokens: u.prompt + u.completion,
  total_time: 0.003,
});

const openai: Flavour = {
  name: 'openai',
  completionId: (seq) => `chatcmpl-${pseudoRandom(seq, 29)}`,
  toolCallId: (seq) => `call_${pseudoRandom(seq, 24)}`,
  systemFingerprint: 'fp_mock0openai',
  serviceTier: 'default',
  openAIFields: true,
  choiceLogprobs: true,
  streamUsage: 'include-usage-chunk',
  nullUsageOnChunks: true,
  xGroq: false,
  azureFilters: false,
  keepAliveComment: false,
  rejectParams: [],
  rejectStatus: 400,
  errors: OPENAI_ERRORS,
  usage: openAIUsage,
};

// @see test/fixtures/wire/groq/groq-text.chunks.txt (usage on the finish chunk, both top-level and in x_groq)
const groq: Flavour = {
  ...openai,
  name: 'groq',
  completionId: (seq) => `chatcmpl-${uuid(seq)}`,
  toolCallId: (seq) => pseudoRandom(seq, 9, 'abcdefghijklmnopqrstuvwxyz0123456789'),
  systemFingerprint: 'fp_mock0groq',
  serviceTier: 'on_demand',
  openAIFields: false,
  streamUsage: 'finish-chunk',
  nullUsageOnChunks: false,
  xGroq: true,
  // Groq documents these as unsupported. @see https://console.groq.com/docs/openai
  rejectParams: ['logprobs', 'top_logprobs', 'logit_bias'],
  errors: GROQ_ERRORS,
  usage: groqUsage,
};

export const FLAVOURS: Record<FlavourName, Flavour> = {
  openai,
  // @see test/fixtures/wire/openai/chat/azure-model-router.1.chunks.txt
  azure: {
    ...openai,
    name: 'azure',
    systemFingerprint: null,
    serviceTier: undefined,
    azureFilters: true,
    errors: AZURE_ERRORS,
  },
  groq,
  // Groq before it copied usage to the top level: only `x_groq.usage`, and `stream_options` refused.
  'groq-legacy': {
    ...groq,
    name: 'groq-legacy',
    serviceTier: undefined,
    streamUsage: 'none',
    rejectParams: [...groq.rejectParams, 'stream_options'],
  },
  // @see test/fixtures/wire/mistral/mistral-text.json and .chunks.txt
  mistral: {
    ...openai,
    name: 'mistral',
    completionId: (seq) => pseudoRandom(seq, 32, HEX),
    toolCallId: (seq) => pseudoRandom(seq, 9),
    systemFingerprint: undefined,
    serviceTier: undefined,
    openAIFields: false,
    choiceLogprobs: false,
    streamUsage: 'finish-chunk',
    nullUsageOnChunks: false,
    // Mistral answered `stream_options` with a 422 extra_forbidden (reported 2025-03).
    rejectParams: ['stream_options'],
    rejectStatus: 422,
    errors: MISTRAL_ERRORS,
    usage: (u) => ({ prompt_tokens: u.prompt, total_tokens: u.prompt + u.completion, completion_tokens: u.completion }),
  },
  // @see test/fixtures/wire/deepseek/chat/deepseek-text.json and .chunks.txt
  deepseek: {
    ...openai,
    name: 'deepseek',
    completionId: uuid,
    toolCallId: (seq) => `call_00_${pseudoRandom(seq, 24)}`,
    systemFingerprint: 'fp_mock0deepseek',
    serviceTier: undefined,
    openAIFields: false,
    streamUsage: 'finish-chunk',
    nullUsageOnChunks: true,
    keepAliveComment: true,
    errors: DEEPSEEK_ERRORS,
    usage: (u) => ({
      prompt_tokens: u.prompt,
      completion_tokens: u.completion,
      total_tokens: u.prompt + u.completion,
      prompt_tokens_details: { cached_tokens: 0 },
      prompt_cache_hit_tokens: 0,
      prompt_cache_miss_tokens: u.prompt,
    }),
  },
};
