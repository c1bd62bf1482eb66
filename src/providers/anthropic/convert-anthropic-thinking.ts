import type { ThinkingConfigParam } from '@anthropic-ai/sdk/resources/messages';
import type { ReasoningOptions } from '../../core/ir.ts';
import type { AnthropicModelTraits } from './anthropic-model-traits.ts';

/**
 * IR reasoning options + output budget → Anthropic `thinking`, `output_config.effort` and `max_tokens`.
 *
 * max_tokens (required by Anthropic): the caller's `maxTokens`, else DEFAULT_MAX_TOKENS; plus room for
 * thinking when the caller gave no limit; never above the catalog's `maxOutputTokens` (a larger value is a
 * 400, and a caller routed by tier cannot know which model it gets).
 *
 * Thinking, only when the caller asked for reasoning:
 * - models with adaptive thinking (Claude 4.6+): `{type: 'adaptive'}` and `output_config.effort`
 *   (effort from the IR, or derived from a token budget);
 * - older models: `{type: 'enabled', budget_tokens}` from the IR budget or the effort table, at least 1,024
 *   and below max_tokens (the caller's limit covers thinking, as OpenAI's `max_completion_tokens` does);
 *   a limit too small for the 1,024 minimum means no thinking;
 * - never with a forced tool choice (`any` or a named tool), which Anthropic rejects with thinking: the
 *   caller's tool choice is a hard requirement, reasoning is not.
 * @see https://platform.claude.com/docs/en/build-with-claude/extended-thinking
 * @see https://platform.claude.com/docs/en/build-with-claude/adaptive-thinking
 * @see https://platform.claude.com/docs/en/build-with-claude/effort
 */

export const DEFAULT_MAX_TOKENS = 16_384;
export const MIN_THINKING_BUDGET = 1_024;

/** Manual thinking budgets per IR effort, for models without adaptive thinking. */
export const EFFORT_BUDGETS: Record<NonNullable<ReasoningOptions['effort']>, number> = {
  minimal: 1_024,
  low: 4_096,
  medium: 12_288,
  high: 32_768,
};

/** Extra output room for adaptive thinking when the caller set no limit. */
const ADAPTIVE_THINKING_ROOM = 16_384;

export type AnthropicEffort = 'low' | 'medium' | 'high';

export interface ThinkingPlan {
  maxTokens: number;
  thinking?: ThinkingConfigParam;
  effort?: AnthropicEffort;
}

function effortOf(reasoning: ReasoningOptions): AnthropicEffort {
  switch (reasoning.effort) {
    case 'minimal':
    case 'low':
      return 'low';
    case 'medium':
      return 'medium';
    case 'high':
      return 'high';
    case undefined:
      break;
  }
  const budget = reasoning.budgetTokens;
  if (budget === undefined) return 'high';
  if (budget <= 4_096) return 'low';
  if (budget <= 16_384) return 'medium';
  return 'high';
}

export function convertAnthropicThinking(input: {
  reasoning: ReasoningOptions | undefined;
  maxTokens: number | undefined;
  modelMaxOutputTokens: number;
  traits: AnthropicModelTraits;
  forcedToolUse: boolean;
}): ThinkingPlan {
  const ceiling = input.modelMaxOutputTokens > 0 ? input.modelMaxOutputTokens : Number.POSITIVE_INFINITY;
  const requested = input.maxTokens;
  const base = Math.min(requested ?? DEFAULT_MAX_TOKENS, ceiling);
  const { reasoning } = input;
  if (!reasoning || input.forcedToolUse) return { maxTokens: base };

  if (input.traits.adaptiveThinking) {
    const maxTokens = requested !== undefined ? base : Math.min(DEFAULT_MAX_TOKENS + ADAPTIVE_THINKING_ROOM, ceiling);
    return { maxTokens, thinking: { type: 'adaptive' }, effort: effortOf(reasoning) };
  }

  const wanted = reasoning.budgetTokens ?? EFFORT_BUDGETS[reasoning.effort ?? 'medium'];
  const maxTokens = requested !== undefined ? base : Math.min(DEFAULT_MAX_TOKENS + wanted, ceiling);
  const budget = Math.min(Math.max(wanted, MIN_THINKING_BUDGET), maxTokens - 1);
  if (budget < MIN_THINKING_BUDGET) return { maxTokens };
  return { maxTokens, thinking: { type: 'enabled', budget_tokens: budget } };
}
