import type { ChatRequest } from '../../core/ir.ts';
import type { Preset } from '../../core/tiers.ts';
import type { TierChooser, TierDecision } from '../tier-chooser.ts';
import {
  DEFAULT_ASSET_V4_URL,
  DEFAULT_ASSET_V5_URL,
  defaultRouterModel,
  modelFromAsset,
  type RouterAsset,
} from './asset.ts';
import {
  defaultRouterModelV2,
  defaultRouterModelV3,
  isAssetV2,
  modelFromAssetV2,
  type RouterAssetV2,
} from './asset-v2.ts';
import type { PromptContext } from './features.ts';
import { createScorer } from './model.ts';
import { createScorerV2 } from './model-v2.ts';
import { emptyContext, readPrompt } from './request-prompt.ts';
import { type PresetThresholds, type TierThresholds, tierForScore } from './thresholds.ts';

/** The shipped routers: `v1` to `v5` (weights-v1…v5.json); see docs/routing.md. */
export type RouterVersion = 'v1' | 'v2' | 'v3' | 'v4' | 'v5';

/**
 * The router `createLearnedTierChooser()` uses when not told otherwise: learned-v5, learned-v4 (learned-v1's
 * model plus learned-v3's word-problem head) plus a subject head on quizzes: learned-v3's figures on all three
 * benchmarks at about learned-v1's cost (docs/routing.md, "Which one the gateway uses"; ADR 0017).
 * test/router/calibration.test.ts expects its name in the gateway's usage records.
 */
export const DEFAULT_ROUTER_VERSION: RouterVersion = 'v5';

export interface LearnedTierChooserOptions {
  /** A weights asset to use instead of a shipped one (already parsed); v1/v4/v5 or v2/v3, told by featureVersion. */
  asset?: RouterAsset | RouterAssetV2;
  /** Which shipped asset to use when no `asset` is given; DEFAULT_ROUTER_VERSION if absent. */
  version?: RouterVersion;
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

type Scorer = {
  asset: Pick<RouterAsset | RouterAssetV2, 'name' | 'thresholds'>;
  score: (text: string, context: PromptContext) => number;
};

function scorerFor(options: LearnedTierChooserOptions): Scorer {
  const given = options.asset;
  if (given) {
    if (isAssetV2(given)) return { asset: given, score: createScorerV2(modelFromAssetV2(given)).score };
    return { asset: given, score: createScorer(modelFromAsset(given)).score };
  }
  const version = options.version ?? DEFAULT_ROUTER_VERSION;
  if (version === 'v2' || version === 'v3') {
    const { asset, model } = version === 'v2' ? defaultRouterModelV2() : defaultRouterModelV3();
    return { asset, score: createScorerV2(model).score };
  }
  const url = version === 'v4' ? DEFAULT_ASSET_V4_URL : version === 'v5' ? DEFAULT_ASSET_V5_URL : undefined;
  const { asset, model } = defaultRouterModel(url);
  return { asset, score: createScorer(model).score };
}

/**
 * The learned `auto` tier chooser. The weights are decoded once (per asset) and each chooser owns its
 * reusable feature buffers, so `choose` allocates nothing beyond its result. Synchronous and single-threaded
 * by design: create one chooser per worker thread.
 */
export function createLearnedTierChooser(options: LearnedTierChooserOptions = {}): LearnedTierChooser {
  const { asset, score: scoreText } = scorerFor(options);
  const thresholds: PresetThresholds = {
    cheapest: options.thresholds?.cheapest ?? asset.thresholds.cheapest,
    balanced: options.thresholds?.balanced ?? asset.thresholds.balanced,
    quality: options.thresholds?.quality ?? asset.thresholds.quality,
  };
  for (const [preset, t] of Object.entries(thresholds)) checkThresholds(preset, t);
  Object.freeze(thresholds);
  const name = asset.name;

  const context = emptyContext();
  const score = (request: ChatRequest): number => scoreText(readPrompt(request, context), context);

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
