import type { ChatRequest } from '../../core/ir.ts';
import type { TierChooser, TierDecision } from '../tier-chooser.ts';
import type { Preset } from '../tiers.ts';
import { defaultRouterModel, modelFromAsset, type RouterAsset } from './asset.ts';
import { createScorer, type LinearRouterModel } from './model.ts';
import { emptyContext, readPrompt } from './request-prompt.ts';
import { type PresetThresholds, type TierThresholds, tierForScore } from './thresholds.ts';

export interface LearnedTierChooserOptions {
  /** A weights asset to use instead of the shipped `weights-v1.json` (already parsed). */
  asset?: RouterAsset;
  /** Per-preset thresholds replacing the asset's defaults, e.g. from `calibrateThresholds`. */
  thresholds?: Partial<PresetThresholds>;
}

export interface LearnedTierChooser extends TierChooser {
  /** The thresholds in force for each preset. */
  readonly thresholds: Readonly<PresetThresholds>;
  /** Score in [0, 1] without choosing a tier (calibration, diagnostics). */
  score(request: ChatRequest): number;
}

function checkThresholds(preset: string, t: TierThresholds): void {
  if (!(Number.isFinite(t.utility) && Number.isFinite(t.deep)))
    throw new RangeError(`${preset}: thresholds must be numbers`);
  if (t.utility > t.deep) throw new RangeError(`${preset}: utility threshold above deep threshold`);
}

/**
 * The learned `auto` tier chooser. The weights are decoded once (per asset) and each chooser owns one
 * reusable feature buffer, so `choose` allocates nothing beyond its result. Synchronous and single-threaded
 * by design: create one chooser per worker thread.
 */
export function createLearnedTierChooser(options: LearnedTierChooserOptions = {}): LearnedTierChooser {
  let asset: RouterAsset;
  let model: LinearRouterModel;
  if (options.asset) {
    asset = options.asset;
    model = modelFromAsset(asset);
  } else {
    ({ asset, model } = defaultRouterModel());
  }
  const thresholds: PresetThresholds = {
    cheapest: options.thresholds?.cheapest ?? asset.thresholds.cheapest,
    balanced: options.thresholds?.balanced ?? asset.thresholds.balanced,
    quality: options.thresholds?.quality ?? asset.thresholds.quality,
  };
  for (const [preset, t] of Object.entries(thresholds)) checkThresholds(preset, t);
  Object.freeze(thresholds);
  const scorer = createScorer(model);
  const name = asset.name;

  const context = emptyContext();
  const score = (request: ChatRequest): number => scorer.score(readPrompt(request, context), context);

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
