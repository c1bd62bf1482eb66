import type { CatalogModel } from '../../billing/catalog-types.ts';
import type { ChatRequest, Message } from '../../core/ir.ts';

/**
 * IR reasoning options → Anthropic extended thinking on Bedrock, which Converse carries in
 * `additionalModelRequestFields.thinking = {type:"enabled", budget_tokens}`. Other families' reasoning
 * switches are not sent (see docs/providers/bedrock.md).
 *
 * Anthropic's rules shape the plan: the budget is at least 1024 tokens and below `max_tokens` (which counts
 * thinking too, like OpenAI's max_completion_tokens); thinking cannot be combined with a forced tool choice;
 * and while a tool loop is open, the assistant turn that called the tools must start with its signed thinking.
 * A loop begun without it (on another provider, or with thinking off) is continued without thinking.
 * @see https://docs.aws.amazon.com/bedrock/latest/userguide/claude-messages-extended-thinking.html
 * @see https://docs.aws.amazon.com/bedrock/latest/userguide/conversation-inference-call.html
 */

export const MIN_THINKING_BUDGET = 1024;
/** Tokens kept for the answer after the thinking budget. */
const ANSWER_RESERVE = 1024;
/** Answer room added to the budget when the caller set no max_tokens. */
const DEFAULT_ANSWER_TOKENS = 8192;

/** OpenAI-style effort → budget. `minimal` means no extended thinking. */
export const EFFORT_BUDGETS = { minimal: 0, low: 2048, medium: 8192, high: 24576 } as const;

export interface ThinkingPlan {
  budgetTokens: number;
  maxTokens: number;
}

export function planAnthropicThinking(
  request: Pick<ChatRequest, 'reasoning' | 'maxTokens' | 'toolChoice'> & { messages?: Message[] },
  model: Pick<CatalogModel, 'maxOutputTokens'>,
  forcedTool: boolean,
): ThinkingPlan | undefined {
  const options = request.reasoning;
  if (!options) return undefined;
  let budget = options.budgetTokens ?? (options.effort ? EFFORT_BUDGETS[options.effort] : EFFORT_BUDGETS.medium);
  if (budget <= 0) return undefined;
  const choice = request.toolChoice?.type;
  if (forcedTool || choice === 'required' || choice === 'tool') return undefined;
  if (request.messages && openToolLoopWithoutThinking(request.messages)) return undefined;
  budget = Math.max(MIN_THINKING_BUDGET, budget);

  if (request.maxTokens !== undefined) {
    budget = Math.min(budget, request.maxTokens - ANSWER_RESERVE);
    if (budget < MIN_THINKING_BUDGET) return undefined;
    return { budgetTokens: budget, maxTokens: request.maxTokens };
  }
  const cap = model.maxOutputTokens > 0 ? model.maxOutputTokens : Number.POSITIVE_INFINITY;
  budget = Math.min(budget, cap - ANSWER_RESERVE);
  if (budget < MIN_THINKING_BUDGET) return undefined;
  return { budgetTokens: budget, maxTokens: Math.min(cap, budget + DEFAULT_ANSWER_TOKENS) };
}

/** The conversation ends in tool results answering an assistant turn that carries no signed thinking. */
function openToolLoopWithoutThinking(messages: Message[]): boolean {
  let i = messages.length - 1;
  while (i >= 0 && messages[i]!.role === 'tool') i--;
  if (i === messages.length - 1) return false;
  const caller = messages[i];
  if (caller?.role !== 'assistant' || !caller.toolCalls?.length) return false;
  return !(caller.reasoning ?? []).some((block) => block.signature || block.redactedData);
}
