import type { Usage } from '../../core/ir.ts';
import type { BedrockUsage } from './bedrock-api-types.ts';

/**
 * Converse usage → IR usage. Bedrock's `inputTokens` counts only the prompt tokens that were neither read from
 * nor written to the prompt cache (as Anthropic's input_tokens does): `totalTokens` is input + cache read +
 * cache write + output. The IR's `inputTokens` is the whole prompt, so the three are added up. Bedrock reports
 * no separate reasoning count; reasoning tokens are inside `outputTokens`, so `reasoningTokens` stays 0.
 * @see https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_TokenUsage.html
 * @see https://docs.aws.amazon.com/bedrock/latest/userguide/prompt-caching.html
 */
export function convertBedrockUsage(usage: BedrockUsage | undefined): Usage {
  const count = (value: unknown): number =>
    typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : 0;
  const uncached = count(usage?.inputTokens);
  const cacheRead = count(usage?.cacheReadInputTokens ?? usage?.cacheReadInputTokenCount);
  const cacheWrite = count(usage?.cacheWriteInputTokens ?? usage?.cacheWriteInputTokenCount);
  return {
    inputTokens: uncached + cacheRead + cacheWrite,
    cachedInputTokens: cacheRead,
    cacheWriteTokens: cacheWrite,
    outputTokens: count(usage?.outputTokens),
    reasoningTokens: 0,
  };
}
