import { loadRouterModel, SHIPPED_ASSETS } from '../../src/router/auto/asset.ts';
import type { PromptContext } from '../../src/router/auto/features.ts';
import { type LearnedTierChooser, tierChooserFromScorer } from '../../src/router/auto/learned.ts';
import { createScorer } from '../../src/router/auto/model.ts';
import type { PresetThresholds } from '../../src/router/auto/thresholds.ts';
import { loadRouterModelV2, modelFromAssetV2, type RouterAssetV2 } from './asset-v2.ts';
import { createScorerV2 } from './model-v2.ts';

/**
 * Every learned router the studies compare, by version. learned-v5 is the gateway's (src/router/auto/); v1 to
 * v4 are retired, their weights kept in weights/ (v1 and v4 in the shipped format, which src/router/auto/
 * reads; v2 and v3 in asset-v2.ts's). Scorers and choosers of each, for eval-router.ts, the router-cost
 * bench and the tests. See log.md for what each is and why v5 replaced them.
 */
export const VERSIONS = ['v6', 'v5', 'v4', 'v3', 'v2', 'v1'] as const;
export type Version = (typeof VERSIONS)[number];

export const WEIGHTS: Readonly<Record<Version, URL>> = Object.freeze({
  v6: SHIPPED_ASSETS.v6,
  v5: new URL('./weights/weights-v5.json', import.meta.url),
  v4: new URL('./weights/weights-v4.json', import.meta.url),
  v3: new URL('./weights/weights-v3.json', import.meta.url),
  v2: new URL('./weights/weights-v2.json', import.meta.url),
  v1: new URL('./weights/weights-v1.json', import.meta.url),
});

/** A version's scorer with its own buffers: raw output, calibrated score, and the asset's name and thresholds. */
export interface VersionScorer {
  name: string;
  thresholds: PresetThresholds;
  raw(text: string, context: PromptContext): number;
  score(text: string, context: PromptContext): number;
}

export function scorerOf(version: Version): VersionScorer {
  if (version === 'v2' || version === 'v3') {
    const { asset, model } = loadRouterModelV2(WEIGHTS[version]);
    return { name: asset.name, thresholds: asset.thresholds, ...createScorerV2(model) };
  }
  const { asset, model } = loadRouterModel(WEIGHTS[version]);
  return { name: asset.name, thresholds: asset.thresholds, ...createScorer(model) };
}

/** The `auto` chooser a version would be in the gateway (the shipped one's arithmetic around its scorer). */
export function chooserOf(version: Version): LearnedTierChooser {
  const scorer = scorerOf(version);
  return tierChooserFromScorer(scorer.name, scorer.thresholds, scorer.score);
}

/** The chooser of a v2-format asset fresh from the trainer (learned-v2 or learned-v3). */
export function chooserOfAssetV2(asset: RouterAssetV2): LearnedTierChooser {
  return tierChooserFromScorer(asset.name, asset.thresholds, createScorerV2(modelFromAssetV2(asset)).score);
}
