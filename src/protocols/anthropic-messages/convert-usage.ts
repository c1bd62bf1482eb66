import type { Usage as AnthropicUsage } from '@anthropic-ai/sdk/resources/messages';
import type { Usage } from '../../core/ir.ts';

/**
 * IR usage → Anthropic usage: the IR's whole-prompt `inputTokens` is split back into Anthropic's three
 * disjoint parts (uncached input, cache writes, cache reads). The 5-minute/1-hour split of cache writes is
 * not known to the IR, so `cache_creation` stays null.
 * @see https://platform.claude.com/docs/en/api/messages (Usage)
 */
export function toAnthropicUsage(usage: Usage, serviceTier?: string): AnthropicUsage {
  return {
    input_tokens: Math.max(0, usage.inputTokens - usage.cachedInputTokens - usage.cacheWriteTokens),
    cache_creation_input_tokens: usage.cacheWriteTokens,
    cache_read_input_tokens: usage.cachedInputTokens,
    cache_creation: null,
    output_tokens: usage.outputTokens,
    output_tokens_details: usage.reasoningTokens > 0 ? { thinking_tokens: usage.reasoningTokens } : null,
    server_tool_use: null,
    service_tier: serviceTier === 'priority' || serviceTier === 'batch' ? serviceTier : 'standard',
    inference_geo: null,
    speed: null,
  };
}

/**
 * The usage object with the gateway's cost added (`cost`, USD) when known: Anthropic clients ignore
 * unknown fields, and it spares callers a price lookup.
 */
export function withCost<T extends object>(usage: T, cost: number | undefined): T & { cost?: number } {
  return cost === undefined ? usage : { ...usage, cost };
}
