import type { ChatRequest } from '../../core/ir.ts';

/**
 * What the client says about the depth it wants, as a prior on the learned score (docs/routing.md, "Request
 * priors"). None of the training rows carries these fields, so the shifts are set by judgement, not learned, and
 * are kept small: they move a prompt near a threshold across it, not an easy prompt to deep.
 *
 * - `reasoning_effort: high` (or a thinking budget of 8,192 tokens or more): +0.2; any other thinking budget
 *   (Anthropic / Gemini `budget_tokens`): +0.1. The client asks for reasoning, which the deep tier does best.
 * - `reasoning_effort: minimal` or `low`: −0.1.
 * - `max_tokens` of 256 or less: −0.1 (a short answer is expected). A large `max_tokens` is no sign: many clients
 *   always send one (Anthropic's API requires it).
 *
 * The learned score is a rank in the reference mix, so +0.2 reads "as if harder than a fifth more of it".
 */
export const REQUEST_PRIOR = Object.freeze({
  highEffort: 0.2,
  thinkingBudget: 0.1,
  lowEffort: -0.1,
  shortAnswer: -0.1,
  shortAnswerMaxTokens: 256,
  largeThinkingBudget: 8192,
});

export function requestPrior(request: ChatRequest): number {
  let shift = 0;
  const reasoning = request.reasoning;
  if (reasoning) {
    const budget = reasoning.budgetTokens;
    if (reasoning.effort === 'high' || (budget !== undefined && budget >= REQUEST_PRIOR.largeThinkingBudget)) {
      shift += REQUEST_PRIOR.highEffort;
    } else if (budget !== undefined && budget > 0) {
      shift += REQUEST_PRIOR.thinkingBudget;
    } else if (reasoning.effort === 'minimal' || reasoning.effort === 'low') {
      shift += REQUEST_PRIOR.lowEffort;
    }
  }
  const max = request.maxTokens;
  if (max !== undefined && max > 0 && max <= REQUEST_PRIOR.shortAnswerMaxTokens) shift += REQUEST_PRIOR.shortAnswer;
  return shift;
}

/** The learned score moved by the request's prior, kept in [0, 1]. */
export function withRequestPrior(score: number, request: ChatRequest): number {
  const shift = requestPrior(request);
  if (shift === 0) return score;
  return Math.min(1, Math.max(0, score + shift));
}
