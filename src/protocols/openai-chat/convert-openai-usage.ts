import type { Usage } from '../../core/ir.ts';

/**
 * IR usage → OpenAI usage, for the OpenAI-format answers the gateway renders (the other direction, upstream
 * usage → IR, is the OpenAI-compatible adapter's: providers/openai-compatible/convert-openai-usage.ts).
 * @see https://platform.openai.com/docs/api-reference/chat/object#chat/object-usage
 */
export interface OpenAIUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details?: { cached_tokens?: number };
  completion_tokens_details?: { reasoning_tokens?: number };
  /** Modro's addition on the final stream chunk: what the request cost, in USD. */
  cost?: number;
}

export function toOpenAIUsage(usage: Usage): OpenAIUsage {
  return {
    prompt_tokens: usage.inputTokens,
    completion_tokens: usage.outputTokens,
    total_tokens: usage.inputTokens + usage.outputTokens,
    prompt_tokens_details: { cached_tokens: usage.cachedInputTokens },
    completion_tokens_details: { reasoning_tokens: usage.reasoningTokens },
  };
}
