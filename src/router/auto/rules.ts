import type { ChatRequest } from '../../core/ir.ts';
import type { Preset } from '../../core/tiers.ts';
import { type PresetThresholds, tierForScore } from './thresholds.ts';
import type { TierChooser, TierDecision } from './tier-decision.ts';

/**
 * The `rules` chooser for `auto` (`routing.autoChooser: rules`): a few visible signals add up to a difficulty
 * score in [0, 1]. It is the fallback when the learned chooser's weights cannot be loaded, and a readable
 * baseline.
 *
 * Signals (last user turn unless said): length, code (fences or code-like syntax), math (symbols, words
 * like "prove", "integral"), reasoning asks ("step by step", "why", "compare"), tools in the request,
 * and conversation depth.
 */

const CODE = /```|\b(function|def|class|import|return|const|SELECT|#include)\b|=>|\{\s*$/m;
const MATH = /[∑∫√≤≥≠πθ]|\\(frac|sum|int)|\b(prove|integral|derivative|equation|theorem|probability|matrix)\b/i;
const REASONING = /\b(step by step|explain why|why does|compare|analy[sz]e|trade-?offs?|design|architecture|plan)\b/i;

/** Score thresholds per preset: below `utility` → utility, from `deep` up → deep. */
export const RULE_THRESHOLDS: Readonly<PresetThresholds> = {
  cheapest: { utility: 0.35, deep: 0.8 },
  balanced: { utility: 0.25, deep: 0.6 },
  quality: { utility: 0.15, deep: 0.45 },
};

function lastUserText(request: ChatRequest): string {
  for (let i = request.messages.length - 1; i >= 0; i--) {
    const message = request.messages[i]!;
    if (message.role === 'user') return message.content.map((p) => (p.type === 'text' ? p.text : '')).join('\n');
  }
  return '';
}

export function ruleScore(request: ChatRequest): number {
  const text = lastUserText(request);
  let score = 0;
  score += Math.min(0.3, text.length / 6_000);
  if (CODE.test(text)) score += 0.25;
  if (MATH.test(text)) score += 0.25;
  if (REASONING.test(text)) score += 0.15;
  if (request.tools && request.tools.length > 0) score += 0.1;
  const turns = request.messages.filter((m) => m.role === 'user').length;
  score += Math.min(0.15, (turns - 1) * 0.03);
  return Math.min(1, score);
}

export const ruleTierChooser: TierChooser = {
  name: 'rules',
  choose(request: ChatRequest, preset: Preset): TierDecision {
    const score = ruleScore(request);
    return { tier: tierForScore(score, RULE_THRESHOLDS[preset]), score, chooser: 'rules' };
  },
};
