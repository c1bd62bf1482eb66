import type { Preset, Tier } from '../../core/tiers.ts';

/**
 * Two thresholds turn one score into three tiers: `utility` below `utility`, `deep` at or above `deep`,
 * `fast` in between. Both are scores in [0, 1]; a deep threshold above 1 means "never deep".
 */
export interface TierThresholds {
  utility: number;
  deep: number;
}

export type PresetThresholds = Record<Preset, TierThresholds>;

/** Share of traffic each preset sends to the utility and deep tiers on the reference prompts. */
export interface TierShares {
  utilityShare: number;
  deepShare: number;
}

/**
 * The presets' shares on the reference mix (see docs/routing.md): balanced keeps most traffic on fast, sends
 * the hardest fifth to deep and the easiest quarter to utility; `cheapest` sends more to utility and a tenth to
 * deep, `quality` two fifths to deep. Because the learned score is the rank among reference prompts, these
 * shares are also the default thresholds (utility = utilityShare, deep = 1 - deepShare).
 */
export const PRESET_SHARES: Readonly<Record<Preset, TierShares>> = Object.freeze({
  cheapest: { utilityShare: 0.45, deepShare: 0.1 },
  balanced: { utilityShare: 0.25, deepShare: 0.2 },
  quality: { utilityShare: 0.1, deepShare: 0.4 },
});

/** Threshold meaning "never": above every score. */
export const NEVER_DEEP = 2;

export function tierForScore(score: number, thresholds: TierThresholds): Tier {
  if (score >= thresholds.deep) return 'deep';
  if (score < thresholds.utility) return 'utility';
  return 'fast';
}

function quantileSorted(sorted: Float64Array, q: number): number {
  // numpy/pandas "linear" quantile, as RouteLLM's calibrate_threshold uses (`Series.quantile`).
  const virtual = (sorted.length - 1) * q;
  const lo = Math.floor(virtual);
  const hi = Math.min(lo + 1, sorted.length - 1);
  const t = virtual - lo;
  const a = sorted[lo]!;
  const b = sorted[hi]!;
  return t >= 0.5 ? b - (b - a) * (1 - t) : a + (b - a) * t;
}

function checkShare(name: string, share: number): void {
  if (!(share >= 0 && share <= 1)) throw new RangeError(`${name} must be within [0, 1], got ${share}`);
}

/**
 * RouteLLM's threshold calibration, for two thresholds: on a sample of real scores (for example those kept
 * in the usage records), the deep threshold is the (1 - deepShare) quantile, so that about `deepShare` of
 * that traffic scores at or above it, and the utility threshold is the `utilityShare` quantile. Pure: the
 * caller decides where the scores come from and where the thresholds go.
 *
 * `utilityShare` defaults to the balanced preset's share, reduced if needed so that the two shares fit in 1.
 * @see https://github.com/lm-sys/RouteLLM/blob/main/routellm/calibrate_threshold.py
 */
export function calibrateThresholds(
  scores: ArrayLike<number>,
  target: { deepShare: number; utilityShare?: number },
): TierThresholds {
  if (scores.length === 0) throw new RangeError('calibrateThresholds needs at least one score');
  checkShare('deepShare', target.deepShare);
  const utilityShare = target.utilityShare ?? Math.min(PRESET_SHARES.balanced.utilityShare, 1 - target.deepShare);
  checkShare('utilityShare', utilityShare);
  if (utilityShare + target.deepShare > 1 + 1e-12) {
    throw new RangeError('utilityShare + deepShare must not exceed 1');
  }
  const sorted = Float64Array.from(scores).sort();
  const deep = target.deepShare <= 0 ? NEVER_DEEP : quantileSorted(sorted, 1 - target.deepShare);
  // Nothing scores below the minimum, so a zero utility share needs no special case.
  const utility = Math.min(quantileSorted(sorted, utilityShare), deep);
  return { utility, deep };
}
