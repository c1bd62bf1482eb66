import type { ChatRequest } from '../../core/ir.ts';
import type { Preset, Tier } from '../../core/tiers.ts';

/**
 * What every `auto` chooser returns and the interface both implement (rules.ts, learned.ts): one score per
 * prompt (0 = trivial, 1 = needs the strongest model), mapped to a tier with thresholds that the preset
 * shifts. Implementations must be pure, synchronous and cheap (microseconds): they run on every `auto`
 * request.
 */
export interface TierDecision {
  tier: Tier;
  /** Difficulty score in [0, 1]. */
  score: number;
  /** Which chooser decided (`rules`, `learned-v5`, ...), for headers and usage records. */
  chooser: string;
}

export interface TierChooser {
  readonly name: string;
  choose(request: ChatRequest, preset: Preset): TierDecision;
}
