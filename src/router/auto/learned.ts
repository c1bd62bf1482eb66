import type { ChatRequest } from '../../core/ir.ts';
import type { Preset } from '../../core/tiers.ts';
import { loadRouterModel, modelFromAsset, type RouterAsset, type RouterVersion, SHIPPED_ASSETS } from './asset.ts';
import type { PromptContext } from './features.ts';
import { createScorer } from './model.ts';
import { withRequestPrior } from './request-prior.ts';
import { emptyContext, readPrompt } from './request-prompt.ts';
import { type PresetThresholds, type TierThresholds, tierForScore } from './thresholds.ts';
import type { TierChooser, TierDecision } from './tier-decision.ts';

/**
 * The router `createLearnedTierChooser()` uses when not told otherwise: learned-v6 (docs/routing.md; ADR 0027).
 * The earlier versions it superseded are kept, with their trainers and log, in research/routing/.
 */
export const DEFAULT_ROUTER_VERSION: RouterVersion = 'v6';

export interface LearnedTierChooserOptions {
  /** A weights asset to use instead of the shipped one (already parsed; e.g. fresh from a trainer). */
  asset?: RouterAsset;
  /** Which shipped asset to use when no `asset` is given; DEFAULT_ROUTER_VERSION if absent. */
  version?: RouterVersion;
  /** Per-preset thresholds replacing the asset's defaults, e.g. from `calibrateThresholds`. */
  thresholds?: Partial<PresetThresholds>;
}

export interface LearnedTierChooser extends TierChooser {
  /** The thresholds in force for each preset. */
  readonly thresholds: Readonly<PresetThresholds>;
  /** Score in [0, 1] without choosing a tier (calibration, diagnostics); the request's prior included. */
  score(request: ChatRequest): number;
}

function checkThresholds(preset: string, t: TierThresholds): void {
  if (!(Number.isFinite(t.utility) && Number.isFinite(t.deep)))
    throw new RangeError(`${preset}: thresholds must be numbers`);
  if (t.utility > t.deep) throw new RangeError(`${preset}: utility threshold above deep threshold`);
}

/**
 * The learned `auto` tier chooser. The weights are decoded once (per asset) and each chooser owns its
 * reusable feature buffers, so `choose` allocates nothing beyond its result. Synchronous and single-threaded
 * by design: create one chooser per worker thread.
 */
export function createLearnedTierChooser(options: LearnedTierChooserOptions = {}): LearnedTierChooser {
  const { asset, model } = options.asset
    ? { asset: options.asset, model: modelFromAsset(options.asset) }
    : loadRouterModel(SHIPPED_ASSETS[options.version ?? DEFAULT_ROUTER_VERSION]);
  const thresholds: PresetThresholds = {
    cheapest: options.thresholds?.cheapest ?? asset.thresholds.cheapest,
    balanced: options.thresholds?.balanced ?? asset.thresholds.balanced,
    quality: options.thresholds?.quality ?? asset.thresholds.quality,
  };
  return tierChooserFromScorer(asset.name, thresholds, createScorer(model).score);
}

/**
 * A learned chooser named `name` around a text scorer (which owns its buffers): reads the request's routed
 * text and context into one reused context object, scores it, moves the score by the request's prior
 * (request-prior.ts: `reasoning_effort`, a thinking budget, a small `max_tokens`), and applies the preset's
 * thresholds.
 */
export function tierChooserFromScorer(
  name: string,
  presetThresholds: PresetThresholds,
  scoreText: (text: string, context: PromptContext) => number,
): LearnedTierChooser {
  const thresholds = Object.freeze({ ...presetThresholds });
  for (const [preset, t] of Object.entries(thresholds)) checkThresholds(preset, t);
  const context = emptyContext();
  const score = (request: ChatRequest): number =>
    withRequestPrior(scoreText(readPrompt(request, context), context), request);
  return {
    name,
    thresholds,
    score,
    choose(request: ChatRequest, preset: Preset): TierDecision {
      const s = score(request);
      return { tier: tierForScore(s, thresholds[preset]), score: s, chooser: name };
    },
  };
}
