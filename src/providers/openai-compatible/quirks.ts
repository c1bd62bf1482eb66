import type { OpenAICompatibleKind } from '../types.ts';

/**
 * The OpenAI-compatible family as data: one row per provider kind saying how it differs from OpenAI.
 * Adding a compatible provider means adding a row, not code (the Portkey pattern).
 *
 * Two kinds of difference:
 * - `dropped`: sampling hints the provider rejects with a 400 although ignoring them is harmless; they are
 *   removed from the body and the answer is still what the caller asked for.
 * - `unsupported`: features whose absence would change the answer (logprobs, n > 1, logit_bias). A request
 *   that uses one is never routed to that provider; if no candidate remains it fails with invalid_request.
 */
export interface OpenAIQuirks {
  defaultBaseUrl: string;
  /** How the key travels. `optional-bearer`: local servers that accept no key at all. */
  auth: 'bearer' | 'api-key' | 'optional-bearer';
  /** `azure-deployment`: /openai/deployments/{deployment}/chat/completions?api-version=... */
  url: 'standard' | 'azure-deployment';
  dropped: readonly string[];
  unsupported: readonly UnsupportedFeature[];
  renamed: Readonly<Record<string, string>>;
  /** Accepts `stream_options.include_usage` (otherwise usage arrives by the provider's own means). */
  streamOptions: boolean;
  /** `messages[].name` is rejected. */
  dropsMessageName: boolean;
  /** OpenAI reasoning models (o-series, gpt-5) want max_completion_tokens and reject sampling settings. */
  reasoningModelPattern?: RegExp;
}

export type UnsupportedFeature = 'logprobs' | 'n' | 'logit_bias' | 'tool_choice_named';

const OPENAI_REASONING = /^(o\d|gpt-5)/;

const base = {
  auth: 'bearer',
  url: 'standard',
  dropped: [],
  unsupported: [],
  renamed: {},
  streamOptions: true,
  dropsMessageName: false,
} as const satisfies Omit<OpenAIQuirks, 'defaultBaseUrl'>;

export const QUIRKS: Readonly<Record<OpenAICompatibleKind, OpenAIQuirks>> = {
  /** @see https://platform.openai.com/docs/api-reference/chat/create */
  openai: { ...base, defaultBaseUrl: 'https://api.openai.com/v1', reasoningModelPattern: OPENAI_REASONING },
  /** @see https://learn.microsoft.com/azure/ai-services/openai/reference */
  azure: {
    ...base,
    defaultBaseUrl: '',
    auth: 'api-key',
    url: 'azure-deployment',
    reasoningModelPattern: OPENAI_REASONING,
  },
  /** @see https://docs.x.ai/docs/api-reference#chat-completions */
  xai: { ...base, defaultBaseUrl: 'https://api.x.ai/v1', unsupported: ['logit_bias'] },
  /** @see https://console.groq.com/docs/openai ("will result in a 400 error if supplied") */
  groq: {
    ...base,
    defaultBaseUrl: 'https://api.groq.com/openai/v1',
    unsupported: ['logprobs', 'logit_bias', 'n'],
    dropsMessageName: true,
  },
  /** @see https://inference-docs.cerebras.ai/resources/openai */
  cerebras: {
    ...base,
    defaultBaseUrl: 'https://api.cerebras.ai/v1',
    dropped: ['frequency_penalty', 'presence_penalty', 'parallel_tool_calls', 'service_tier'],
    unsupported: ['logit_bias', 'n', 'tool_choice_named'],
  },
  /** @see https://api-docs.deepseek.com/api/create-chat-completion */
  deepseek: { ...base, defaultBaseUrl: 'https://api.deepseek.com/v1', unsupported: ['n', 'logit_bias'] },
  /** @see https://docs.mistral.ai/api/#tag/chat/operation/chat_completion_v1_chat_completions_post */
  mistral: {
    ...base,
    defaultBaseUrl: 'https://api.mistral.ai/v1',
    dropped: ['user', 'service_tier', 'store', 'metadata'],
    unsupported: ['logprobs', 'logit_bias'],
    renamed: { seed: 'random_seed' },
    // Mistral reports usage on the last chunk by itself and rejects unknown fields.
    streamOptions: false,
  },
  /** @see https://docs.together.ai/reference/chat-completions-1 */
  together: { ...base, defaultBaseUrl: 'https://api.together.xyz/v1' },
  /** @see https://openrouter.ai/docs/api-reference/chat-completion */
  openrouter: { ...base, defaultBaseUrl: 'https://openrouter.ai/api/v1' },
  /** @see https://github.com/ollama/ollama/blob/main/docs/openai.md */
  ollama: {
    ...base,
    defaultBaseUrl: 'http://127.0.0.1:11434/v1',
    auth: 'optional-bearer',
    unsupported: ['logit_bias', 'n'],
  },
  /** @see https://docs.vllm.ai/en/latest/serving/openai_compatible_server.html */
  vllm: { ...base, defaultBaseUrl: 'http://127.0.0.1:8000/v1', auth: 'optional-bearer' },
  /** @see https://github.com/ggml-org/llama.cpp/tree/master/tools/server */
  llamacpp: {
    ...base,
    defaultBaseUrl: 'http://127.0.0.1:8080/v1',
    auth: 'optional-bearer',
    unsupported: ['n'],
  },
  'openai-compatible': { ...base, defaultBaseUrl: '' },
};

/** Which of a provider's unsupported features this request uses, for the candidate filter's message. */
export function unsupportedFeatureUsed(
  quirks: OpenAIQuirks,
  body: { logprobs?: boolean; n?: number; logitBias?: unknown; toolChoice?: { type: string } },
): UnsupportedFeature | undefined {
  for (const feature of quirks.unsupported) {
    if (feature === 'logprobs' && body.logprobs === true) return feature;
    if (feature === 'n' && (body.n ?? 1) > 1) return feature;
    if (feature === 'logit_bias' && body.logitBias !== undefined) return feature;
    if (feature === 'tool_choice_named' && body.toolChoice?.type === 'tool') return feature;
  }
  return undefined;
}
