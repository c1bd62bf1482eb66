import type { Usage } from '../../core/ir.ts';

/**
 * OpenAI-format usage from an upstream → IR usage. OpenAI's prompt_tokens already include cached tokens, the IR
 * convention too. Family members spell cache hits differently: DeepSeek reports prompt_cache_hit_tokens, others
 * prompt_tokens_details.cached_tokens.
 * @see https://platform.openai.com/docs/api-reference/chat/object#chat/object-usage
 */
function count(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? Math.round(value) : 0;
}

export function fromOpenAIUsage(raw: unknown): Usage | undefined {
  if (raw === null || typeof raw !== 'object') return undefined;
  const u = raw as Record<string, unknown>;
  if (u['prompt_tokens'] === undefined && u['completion_tokens'] === undefined) return undefined;
  const promptDetails = u['prompt_tokens_details'] as Record<string, unknown> | null | undefined;
  const completionDetails = u['completion_tokens_details'] as Record<string, unknown> | null | undefined;
  const inputTokens = count(u['prompt_tokens']);
  const cached = Math.min(inputTokens, count(promptDetails?.['cached_tokens']) || count(u['prompt_cache_hit_tokens']));
  const outputTokens = count(u['completion_tokens']);
  return {
    inputTokens,
    cachedInputTokens: cached,
    cacheWriteTokens: 0,
    outputTokens,
    reasoningTokens: Math.min(outputTokens, count(completionDetails?.['reasoning_tokens'])),
  };
}
