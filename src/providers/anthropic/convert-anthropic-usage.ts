import type { Usage } from '../../core/ir.ts';

/**
 * Anthropic usage → IR usage. Anthropic reports the prompt in three disjoint parts (`input_tokens` is only
 * what was neither read from nor written to the cache), so the IR's whole-prompt `inputTokens` is their sum;
 * cache reads and writes stay visible so each is priced at its own rate. `output_tokens` already includes
 * thinking; `output_tokens_details.thinking_tokens`, when sent, says how much of it was thinking.
 * @see https://platform.claude.com/docs/en/api/messages (Usage)
 * @see https://platform.claude.com/docs/en/build-with-claude/prompt-caching#tracking-cache-performance
 */

/** The usage counters as Anthropic sends them; every field may be absent or null in stream deltas. */
export interface AnthropicUsageCounters {
  input_tokens?: number | null;
  cache_creation_input_tokens?: number | null;
  cache_read_input_tokens?: number | null;
  output_tokens?: number | null;
  output_tokens_details?: { thinking_tokens?: number | null } | null;
}

function count(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : undefined;
}

function asCounters(raw: unknown): AnthropicUsageCounters {
  return raw !== null && typeof raw === 'object' ? (raw as AnthropicUsageCounters) : {};
}

/**
 * Folds a stream's usage report into the totals so far. `message_start` carries the prompt counters and a
 * first output count; `message_delta` carries cumulative totals and omits (or nulls) what does not apply, so
 * a present value replaces and an absent one keeps the earlier value; nothing is ever added up.
 */
export function mergeAnthropicUsage(previous: AnthropicUsageCounters, next: unknown): AnthropicUsageCounters {
  const update = asCounters(next);
  const merged: AnthropicUsageCounters = { ...previous };
  for (const key of [
    'input_tokens',
    'cache_creation_input_tokens',
    'cache_read_input_tokens',
    'output_tokens',
  ] as const) {
    const value = count(update[key]);
    if (value !== undefined) merged[key] = value;
  }
  const thinking = count(update.output_tokens_details?.thinking_tokens);
  if (thinking !== undefined) merged.output_tokens_details = { thinking_tokens: thinking };
  return merged;
}

export function convertAnthropicUsage(raw: unknown): Usage {
  const usage = asCounters(raw);
  const uncached = count(usage.input_tokens) ?? 0;
  const cacheWrite = count(usage.cache_creation_input_tokens) ?? 0;
  const cacheRead = count(usage.cache_read_input_tokens) ?? 0;
  const output = count(usage.output_tokens) ?? 0;
  const reasoning = Math.min(count(usage.output_tokens_details?.thinking_tokens) ?? 0, output);
  return {
    inputTokens: uncached + cacheWrite + cacheRead,
    cachedInputTokens: cacheRead,
    cacheWriteTokens: cacheWrite,
    outputTokens: output,
    reasoningTokens: reasoning,
  };
}
