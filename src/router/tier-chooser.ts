import type { ChatRequest } from '../core/ir.ts';
import type { Preset, Tier } from '../core/tiers.ts';

/**
 * Decides which tier an `auto` request needs. One score per prompt (0 = trivial, 1 = needs the strongest
 * model); the chooser maps it to a tier with thresholds that the preset shifts. Implementations must be
 * pure, synchronous and cheap (microseconds): they run on every `auto` request.
 */
export interface TierDecision {
  tier: Tier;
  /** Difficulty score in [0, 1]. */
  score: number;
  /** Which chooser decided (`rules`, `learned-v1`, ...), for headers and usage records. */
  chooser: string;
}

export interface TierChooser {
  readonly name: string;
  choose(request: ChatRequest, preset: Preset): TierDecision;
}
