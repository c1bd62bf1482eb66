import type { Usage } from '../../core/ir.ts';

/**
 * OpenAI-format usage from an upstream → IR usage. OpenAI's prompt_tokens already include cached tokens, the IR
 * convention too. Family members spell cache hits differently: DeepSeek reports prompt_cache_hit_tokens, others
 * prompt_tokens_details.cached_tokens.
 *
 * Reasoning tokens: OpenAI counts them inside completion_tokens (total = prompt + completion). xAI does not:
 * its completion_tokens is the visible answer only and total = prompt + completion + reasoning (recorded in
 * test/fixtures/wire/xai/, e.g. 12 + 1 + 228 = 241), while it bills reasoning at the output price. Such usage
 * is recognised by its total, and the reasoning is added to the output, so it is metered and charged.
 * @see https://platform.openai.com/docs/api-reference/chat/object#chat/object-usage
 * @see https://docs.x.ai/docs/guides/reasoning
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
  const completion = count(u['completion_tokens']);
  const reasoning = count(completionDetails?.['reasoning_tokens']);
  const reasoningApart = reasoning > 0 && count(u['total_tokens']) === inputTokens + completion + reasoning;
  const outputTokens = reasoningApart ? completion + reasoning : completion;
  return {
    inputTokens,
    cachedInputTokens: cached,
    cacheWriteTokens: 0,
    outputTokens,
    reasoningTokens: Math.min(outputTokens, reasoning),
  };
}
